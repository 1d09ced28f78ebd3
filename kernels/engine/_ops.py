"""The ops a batched forward calls per layer, behind one interface so a backend can be swapped.

`TorchOps` is the CPU path: the single-sequence forward's own fused kernels (kernels/_fused_cpu.py)
for the residual adds, norms, attention prologue and SwiGLU; attention reads each sequence's KV
slots (a view when its pages are consecutive, else a gather). A GPU backend implements the same
methods (RMSNorm, RoPE, SwiGLU and paged decode attention as Triton kernels
reading `plan.page_tables` / `plan.context_lengths`, with a KV layout of its own from `make_kv`)
and is handed to `ModelRunner(ops=...)` (through `EngineConfig.ops`); the model's linear layers
are `LinearGroup`s whose parts may be device kernels too.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F

from kernels import _fused_cpu as fused
from kernels._decode_layers import DecodeAttention
from kernels._kernel_jobs import rest
from kernels._model import LlamaModel, Rope
from kernels._prefill_attention import prefill_attention
from kernels.engine._shared_attention import Workspace, shared_decode_attention
from kernels.engine._step_plan import StepPlan


class PagedKV:
    """Keys and values of every page: [L, NKV, slots, D] each, slot = page * page_size + offset.

    A sequence whose pages are consecutive reads its keys as a view, laid out as the single-sequence
    cache of kernels/_model.py lays them out (so the same ops give the same numbers)."""

    def __init__(self, layers: int, num_pages: int, page_size: int, kv_heads: int, head_dim: int,
                 dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> None:  # fmt: skip
        self.page_size = page_size
        # empty, not zeros: untouched pages of a large pool stay virtual memory; only written slots are read
        self.keys = torch.empty(layers, kv_heads, num_pages * page_size, head_dim, dtype=dtype, device=device)
        self.values = torch.empty_like(self.keys)

    @property
    def nbytes(self) -> int:
        return self.keys.numel() * self.keys.element_size() * 2

    def copy_prefix(self, source: int, target: int, tokens: int) -> None:
        """Copy the first `tokens` slots of page `source` into page `target` (copy-on-write)."""
        s, t = source * self.page_size, target * self.page_size
        self.keys[:, :, t : t + tokens] = self.keys[:, :, s : s + tokens]
        self.values[:, :, t : t + tokens] = self.values[:, :, s : s + tokens]


class Ops(Protocol):
    """What the runner asks of a backend. The KV layout is the backend's own (`make_kv`)."""

    def make_kv(self, layers: int, num_pages: int, page_size: int, kv_heads: int, head_dim: int) -> KVStore: ...

    def rms_norm(self, x: torch.Tensor, residual: torch.Tensor | None, weight: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """`x += residual` (when given; x float32 [N, H], in place), then RMSNorm(x) * weight [N, H],
        in `dtype` where the backend writes it (the next linear layer's `input_dtype`)."""
        ...

    def attention_inputs(self, kv: Any, layer: int, qkv: torch.Tensor, norms: QKNorms, rope: Rope, plan: StepPlan) -> torch.Tensor:
        """qkv [N, (NH + 2 NKV) D] -> queries float32 [N, NH, D]: QK-norm (when the layer has one) and
        RoPE at `plan.positions`; each row's key and value are written at `plan.write_slots`."""
        ...

    def swiglu(self, gate_up: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """gate_up [N, 2F] (gate, then up) -> silu(gate) * up [N, F], in float32, written in `dtype` where the backend does."""
        ...

    def attention(self, kv: Any, layer: int, queries: torch.Tensor, plan: StepPlan) -> torch.Tensor: ...

    def decode_layers(self, model: Any, kv: Any, x: torch.Tensor, plan: StepPlan) -> torch.Tensor | None:
        """Every layer of a step of decode rows only, at once where the backend can (x [N, H] as the layers leave it;
        the last layer's residual [N, H] returned), giving the numbers the per-layer calls give; else None."""
        ...


class QKNorms(Protocol):
    """A layer's QK-norm weights ([D] each, in rotary pair order), None where it has none."""

    @property
    def q_norm(self) -> torch.Tensor | None: ...

    @property
    def k_norm(self) -> torch.Tensor | None: ...


class KVStore(Protocol):
    def copy_prefix(self, source: int, target: int, tokens: int) -> None: ...


class TorchOps:
    """The CPU path, with the single-sequence forward's own ops (kernels/_model.py).

    `batch_invariant`: a sequence's numbers do not depend on what it is batched with. (One padded
    call for all decode rows, `batch_invariant=False`, rounds differently in the last bits: enough to
    flip a greedy near-tie of a small model whose activations are bf16.)
    `share_prefix` (with `batch_invariant`): decode attention is the numba kernel over each row's page
    table (kernels/engine/_shared_attention.py), rows sharing their first KV pages read back to back;
    each row's numbers are those it gets alone, and those the single-sequence forward's decode gives.
    Without it, decode attention runs one sequence at a time through torch `bmm`s (numbers that differ
    in the last bits from the kernel's).
    """

    def __init__(self, norm_eps: float, batch_invariant: bool = True, share_prefix: bool = True) -> None:
        self.eps = float(norm_eps)
        self.batch_invariant = batch_invariant
        self.share_prefix = share_prefix
        self._rows: tuple[StepPlan, np.ndarray, np.ndarray] | None = None  # the step's plan, its positions and write slots
        self._rope: tuple[Rope, np.ndarray] | None = None  # the rope and its (cos, sin) table
        self._work = Workspace()  # buffers reused from layer to layer: one TorchOps serves one engine thread

    def make_kv(self, layers: int, num_pages: int, page_size: int, kv_heads: int, head_dim: int) -> PagedKV:
        return PagedKV(layers, num_pages, page_size, kv_heads, head_dim)

    def rms_norm(self, x: torch.Tensor, residual: torch.Tensor | None, weight: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        return fused.rms_norm(x, residual, weight, self.eps, dtype)

    def attention_inputs(self, kv: PagedKV, layer: int, qkv: torch.Tensor, norms: QKNorms, rope: Rope, plan: StepPlan) -> torch.Tensor:
        keys, values = kv.keys[layer], kv.values[layer]  # [NKV, slots, D]
        kv_heads, _, d = keys.shape
        heads = qkv.shape[1] // d - 2 * kv_heads
        positions, slots = self._positions_and_slots(plan)
        table = self._table(rope)  # queries and keys turn alike: attention applies its scale itself
        return fused.attention_inputs(qkv, heads, norms.q_norm, norms.k_norm, self.eps, positions, table, table, keys, values, slots)

    def decode_layers(self, model: Any, kv: PagedKV, x: torch.Tensor, plan: StepPlan) -> torch.Tensor | None:
        """kernels/_decode_layers.py's single call where the model's layers allow it: the same kernels as the
        per-layer ops, decode attention as `shared_decode_attention` computes it."""
        layers = model.decode_layers if isinstance(model, LlamaModel) else None
        if layers is None or not (self.batch_invariant and self.share_prefix) or plan.decode_rows != len(x):  # a prompt makes x longer
            return None
        positions, slots = self._positions_and_slots(plan)
        table = self._table(model.rope)
        attention = DecodeAttention(plan.decode_tables, plan.decode_lengths, plan.decode_order, plan.page_size, model.config.head_dim**-0.5)
        return layers.run(x, positions, slots, table, table, kv.keys.unbind(), kv.values.unbind(), attention)

    def _positions_and_slots(self, plan: StepPlan) -> tuple[np.ndarray, np.ndarray]:  # int64 [N] each, made once a step
        if self._rows is None or self._rows[0] is not plan:
            self._rows = (plan, np.ascontiguousarray(plan.positions.numpy(), dtype=np.int64),
                          np.ascontiguousarray(plan.write_slots.numpy(), dtype=np.int64))  # fmt: skip
        return self._rows[1], self._rows[2]

    def _table(self, rope: Rope) -> np.ndarray:  # float32 [P, D/2, 2], made once a rope
        if self._rope is None or self._rope[0] is not rope:
            self._rope = (rope, fused.rotary_table(rope.turns))
        return self._rope[1]

    def swiglu(self, gate_up: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        return fused.swiglu(gate_up, dtype)

    def attention(self, kv: PagedKV, layer: int, queries: torch.Tensor, plan: StepPlan) -> torch.Tensor:
        """queries [N, NH, D] -> [N, NH * D]."""
        n, heads, d = queries.shape
        keys, values = kv.keys[layer], kv.values[layer]  # [NKV, slots, D]
        kv_heads = keys.shape[0]
        parts = []
        b = plan.decode_rows
        if b and self.batch_invariant and self.share_prefix:
            parts.append(shared_decode_attention(keys, values, queries[:b], plan, self._work))
        elif b and (self.batch_invariant or b == 1):
            scale = d**-0.5
            if plan.decode_gather is not None:  # one copy for all rows whose pages are scattered: [NKV, sum S, D]
                gathered_keys = self._work.gather("exact_k", keys, plan.decode_gather)
                gathered_values = self._work.gather("exact_v", values, plan.decode_gather)
            for row, span in enumerate(plan.decode_spans):  # query heads grouped by the key/value head they share
                whole = isinstance(plan.decode_each[row], slice)
                k = (keys if whole else gathered_keys)[:, span]  # [NKV, S, D]
                v = (values if whole else gathered_values)[:, span]
                scores = torch.bmm(queries[row].view(kv_heads, heads // kv_heads, d), k.transpose(1, 2))  # [NKV, NH/NKV, S]
                parts.append(torch.bmm(torch.softmax(scores.mul_(scale), dim=-1), v).view(1, heads * d))
        elif b:
            assert isinstance(plan.decode_slots, torch.Tensor)
            rows, longest = plan.decode_slots.shape
            k = keys.index_select(1, plan.decode_slots.flatten()).view(kv_heads, rows, longest, d).transpose(0, 1)  # [B, NKV, Smax, D]
            v = values.index_select(1, plan.decode_slots.flatten()).view(kv_heads, rows, longest, d).transpose(0, 1)
            out = F.scaled_dot_product_attention(queries[:b, :, None, :], k, v, attn_mask=plan.decode_mask, enable_gqa=heads != kv_heads)
            parts.append(out.reshape(b, heads * d))  # [B, NH, 1, D] -> [B, NH * D]
        if plan.prefills:
            rest()  # prompt attention is torch's, on torch's threads: the kernels' workers sleep meanwhile
        for prefill in plan.prefills:
            q = queries[prefill.rows].transpose(0, 1)[None]  # [1, NH, T, D]
            k = self._work.gather("prefill_k", keys, prefill.key_slots)[None]  # [1, NKV, S, D]
            v = self._work.gather("prefill_v", values, prefill.key_slots)[None]
            out = prefill_attention(q, k, v, prefill.mask)  # a row's numbers whatever rows come with it
            parts.append(out[0].transpose(0, 1).reshape(-1, heads * d))  # [T, NH * D]
        return parts[0] if len(parts) == 1 else torch.cat(parts)
