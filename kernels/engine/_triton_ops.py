"""The Triton path's per-layer ops (the `Ops` protocol of kernels/engine/_ops.py) on a GPU.

RMSNorm, RoPE and SwiGLU are the Triton kernels; decode rows attend with the paged decode attention
kernel, reading the page tables directly; each prefill chunk attends with torch SDPA over its
sequence's keys and values gathered from the pages (flash attention on the GPU when the chunk starts
at position 0). The KV cache is `TritonKV`, the kernels' page layout. What a step needs on the device
(write slots, page tables, lengths, masks) is copied there once per step, not once per layer.

Shapes: N rows, NH query heads, NKV key/value heads, D head size, B decode rows, L layers, P pages,
S page size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

import kernels.triton as kt
from kernels._model import Rope
from kernels.engine._ops import QKNorms
from kernels.engine._step_plan import StepPlan


class TritonKV:
    """Keys and values of every page: [L, P, S, NKV, D] each (`kernels.triton.paged_decode_attention`'s layout)."""

    def __init__(self, layers: int, num_pages: int, page_size: int, kv_heads: int, head_dim: int,
                 dtype: torch.dtype, device: torch.device) -> None:  # fmt: skip
        self.page_size = page_size
        self.keys = torch.empty(layers, num_pages, page_size, kv_heads, head_dim, dtype=dtype, device=device)
        self.values = torch.empty_like(self.keys)

    @property
    def nbytes(self) -> int:
        return self.keys.numel() * self.keys.element_size() * 2

    def copy_prefix(self, source: int, target: int, tokens: int) -> None:
        """Copy the first `tokens` slots of page `source` into page `target` (copy-on-write)."""
        self.keys[:, target, :tokens] = self.keys[:, source, :tokens]
        self.values[:, target, :tokens] = self.values[:, source, :tokens]

    def slots(self, layer: int) -> tuple[torch.Tensor, torch.Tensor]:  # [P * S, NKV, D] each
        shape = (-1, *self.keys.shape[3:])
        return self.keys[layer].view(shape), self.values[layer].view(shape)


@dataclass(frozen=True)
class _Prefill:
    rows: slice
    key_slots: torch.Tensor | slice  # [S] on the device
    mask: torch.Tensor | None  # [T, S] bool on the device


@dataclass(frozen=True)
class _DeviceStep:
    """A step's plan, on the device."""

    write_slots: torch.Tensor  # [N] long
    block_table: torch.Tensor | None  # [B, max pages] int32
    seq_lens: torch.Tensor | None  # [B] int32
    prefills: tuple[_Prefill, ...]


class TritonOps:
    def __init__(self, norm_eps: float, device: torch.device, dtype: torch.dtype) -> None:
        self.eps = float(norm_eps)
        self.device = device
        self.dtype = dtype  # the KV cache's, and the attention's inputs'
        self._plan: StepPlan | None = None
        self._step: _DeviceStep | None = None
        self._rows = torch.arange(0, dtype=torch.int32, device=device)
        self._turns: tuple[StepPlan, torch.Tensor] | None = None  # the step's plan and its rows' rotary tables  # 0, 1, ...: rows of a step's rotary table

    def make_kv(self, layers: int, num_pages: int, page_size: int, kv_heads: int, head_dim: int) -> TritonKV:
        return TritonKV(layers, num_pages, page_size, kv_heads, head_dim, self.dtype, self.device)

    def rms_norm(self, x: torch.Tensor, residual: torch.Tensor | None, weight: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """x float32 [N, H] (+= residual, in place) -> float32 [N, H]: the device layers take float32 (`dtype` is theirs too)."""
        if residual is not None:
            x.add_(residual)
        return kt.rms_norm(x, weight, self.eps)

    def attention_inputs(self, kv: TritonKV, layer: int, qkv: torch.Tensor, norms: QKNorms, rope: Rope, plan: StepPlan) -> torch.Tensor:
        """qkv float32 [N, (NH + 2 NKV) D] -> queries float32 [N, NH, D]; keys and values stored at the write slots."""
        kv_heads, d = kv.keys.shape[3:]
        n = qkv.shape[0]
        heads = qkv.shape[1] // d - 2 * kv_heads
        qk = qkv[:, : (heads + kv_heads) * d].view(n, heads + kv_heads, d)
        if norms.q_norm is not None and norms.k_norm is not None:
            qk = torch.cat([kt.rms_norm(qk[:, :heads], norms.q_norm, self.eps), kt.rms_norm(qk[:, heads:], norms.k_norm, self.eps)], dim=1)
        qk = self._rope(qk, rope, plan)  # [N, NH + NKV, D]
        self._store_kv(kv, layer, qk[:, heads:], qkv[:, (heads + kv_heads) * d :].view(n, kv_heads, d), plan)
        return qk[:, :heads]

    def swiglu(self, gate_up: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:  # [N, 2F] -> float32 [N, F]
        gate, up = gate_up.split(gate_up.shape[1] // 2, dim=-1)
        return kt.swiglu(gate, up)

    def _rope(self, x: torch.Tensor, rope: Rope, plan: StepPlan) -> torch.Tensor:
        """x float32 [N, heads, D], dims in rotary pair order; row i turns by `rope.turns[plan.positions[i]]`."""
        if self._turns is None or self._turns[0] is not plan:  # once a step
            self._turns = (plan, torch.view_as_real(rope.turns[plan.positions.to(rope.turns.device)]))
        tables = self._turns[1]  # [N, D/2, 2]: (cos, sin) of each pair's angle
        if self._rows.shape[0] < x.shape[0]:
            self._rows = torch.arange(x.shape[0], dtype=torch.int32, device=self.device)
        return kt.rope(x, self._rows[: x.shape[0]], tables[..., 0], tables[..., 1])

    def _store_kv(self, kv: TritonKV, layer: int, keys: torch.Tensor, values: torch.Tensor, plan: StepPlan) -> None:
        slots = self._on_device(plan).write_slots  # keys/values [N, NKV, D]
        layer_keys, layer_values = kv.slots(layer)
        layer_keys.index_copy_(0, slots, keys.to(kv.keys.dtype))
        layer_values.index_copy_(0, slots, values.to(kv.values.dtype))

    def decode_layers(self, model: Any, kv: TritonKV, x: torch.Tensor, plan: StepPlan) -> None:
        return None  # layer by layer: each op is one kernel launch already

    def attention(self, kv: TritonKV, layer: int, queries: torch.Tensor, plan: StepPlan) -> torch.Tensor:
        """queries float32 [N, NH, D] -> float32 [N, NH * D]."""
        step = self._on_device(plan)
        n, heads, d = queries.shape
        keys, values = kv.slots(layer)  # [P * S, NKV, D]
        scale = d**-0.5
        parts = []
        b = plan.decode_rows
        if b:
            assert step.block_table is not None and step.seq_lens is not None
            k_cache, v_cache = kv.keys[layer], kv.values[layer]  # [P, S, NKV, D]
            q = queries[:b].to(k_cache.dtype)
            out = kt.paged_decode_attention(q, k_cache, v_cache, step.block_table, step.seq_lens, scale)  # [B, NH, D]
            parts.append(out.float().reshape(b, heads * d))
        for prefill in step.prefills:
            q = queries[prefill.rows].to(keys.dtype).transpose(0, 1)[None]  # [1, NH, T, D]
            k = keys[prefill.key_slots].transpose(0, 1)[None]  # [1, NKV, S, D]
            v = values[prefill.key_slots].transpose(0, 1)[None]
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=prefill.mask, is_causal=prefill.mask is None,
                                                 enable_gqa=heads != k.shape[1])  # fmt: skip
            parts.append(out[0].transpose(0, 1).reshape(-1, heads * d).float())  # [T, NH * D]
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def _on_device(self, plan: StepPlan) -> _DeviceStep:
        if plan is self._plan and self._step is not None:
            return self._step
        device = self.device
        b = plan.decode_rows
        block_table = seq_lens = None
        if b:
            tables, lengths = plan.page_tables[:b], plan.context_lengths[:b]  # the decode chunks come first
            width = max(len(t) for t in tables)
            rows = [list(t) + [0] * (width - len(t)) for t in tables]  # pages past a sequence's length are never read
            block_table = torch.tensor(rows, dtype=torch.int32).to(device)
            seq_lens = torch.tensor(lengths, dtype=torch.int32).to(device)
        prefills = tuple(
            _Prefill(p.rows, p.key_slots if isinstance(p.key_slots, slice) else p.key_slots.to(device),
                     None if p.mask is None else p.mask.to(device))
            for p in plan.prefills
        )  # fmt: skip
        self._plan = plan
        self._step = _DeviceStep(plan.write_slots.to(device), block_table, seq_lens, prefills)
        return self._step

