"""Which runs of the batching engine take the scripted per-layer work (kernels/_decode_step.py)."""

from __future__ import annotations

from kernels._decode_step import ScriptedRows
from kernels._model import LlamaModel
from kernels.engine._device_model import DeviceModel
from kernels.engine._ops import Ops, TorchOps


def scripted_rows(model: LlamaModel | DeviceModel, ops: Ops) -> ScriptedRows | None:
    """The scripted rows for a CPU model whose layers are all int4 under the CPU ops; else None (eager)."""
    if not isinstance(model, LlamaModel) or type(ops) is not TorchOps:
        return None
    c = model.config
    return ScriptedRows.build(model.layers, c.heads, c.kv_heads, c.head_dim, ops.eps)
