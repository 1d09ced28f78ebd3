"""The model runner owns the forward: one batched pass over every scheduled chunk, with the keys and
values in pages (kernels/engine/_ops.py) found through each sequence's page table. A step of decode rows
only may run all its layers in one call of the backend (`Ops.decode_layers`: on the CPU, kernels/_decode_layers.py).

Shapes: N rows (tokens of all chunks), H hidden, D head size, NH query heads, NKV key/value heads,
V vocabulary, n sampled rows.
"""

from __future__ import annotations

import torch

from kernels._model import LlamaModel
from kernels.engine._device_model import DeviceModel
from kernels.engine._ops import Ops, TorchOps
from kernels.engine._pages import PageManager
from kernels.engine._scheduler import Batch
from kernels.engine._step_plan import plan_step


class ModelRunner:
    def __init__(self, model: LlamaModel | DeviceModel, pages: PageManager, ops: Ops | None = None) -> None:
        c = model.config
        self.model = model
        self.pages = pages
        self.ops: Ops = ops or TorchOps(c.norm_eps)
        self.kv = self.ops.make_kv(c.layers, pages.num_pages, pages.page_size, c.kv_heads, c.head_dim)

    @torch.inference_mode()
    def run(self, batch: Batch) -> torch.Tensor:
        """Logits [n, V] of the rows that sample, in the order of `batch.sampling`."""
        model, ops, c = self.model, self.ops, self.model.config
        for copy in batch.copies:
            self.kv.copy_prefix(copy.source, copy.target, copy.tokens)
        plan = plan_step(batch, [self.pages.table(chunk.seq.id) for chunk in batch.chunks], self.pages.page_size)
        x = model.embedding(plan.token_ids)  # float32 [N, H], the residual stream
        # a step of decode rows only: all layers in one call where the backend can
        residual = ops.decode_layers(model, self.kv, x, plan)  # the last layer output not yet added to x
        for index, layer in enumerate(model.layers if residual is None else ()):
            qkv = layer.qkv.whole(ops.rms_norm(x, residual, layer.attn_norm, layer.qkv.input_dtype))  # [N, (NH + 2 NKV) D]
            queries = ops.attention_inputs(self.kv, index, qkv, layer, model.rope, plan)  # [N, NH, D]; keys, values stored
            attended = ops.attention(self.kv, index, queries, plan)  # [N, NH * D]
            residual = layer.attn_output.whole(attended)  # [N, H]
            gate_up = layer.gate_up.whole(ops.rms_norm(x, residual, layer.ffn_norm, layer.gate_up.input_dtype))  # [N, 2F]
            residual = layer.down.whole(ops.swiglu(gate_up, layer.down.input_dtype))  # [N, H]
        if not len(plan.sample_rows):
            return torch.empty(0, c.vocab_size)
        assert residual is not None  # a model has layers
        rows = plan.sample_rows
        normed = ops.rms_norm(x[rows], residual[rows], model.output_norm, torch.float32)  # [n, H]
        return model.head.whole(normed).float().cpu()  # [n, V], for the sampler
