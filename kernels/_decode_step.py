"""The per-layer work of decoding as TorchScript functions: a whole layer of the single-sequence
decode step (kernels/_model.py), and the batching engine's rows before and after attention
(kernels/engine/_runner.py; attention itself stays the engine's own, paged).

A decode step at batch 1 is bound by per-op costs, not arithmetic: each layer runs ~40 small ops
around four int4 matmuls, and eager PyTorch pays Python's argument parsing and dispatch for every
one of them. Scripted, the same ops run from TorchScript's interpreter: about 1.5x faster per layer
on the 2-core machine (bench/RESULTS.md), with the very same kernels, so the numbers are bit for
bit those of the eager ops they replace (tests hold each pair together). The CPU fuser
is off by default for CPU tensors, so nothing is fused or reordered.

`torch.jit.script` is deprecated in favour of `torch.compile`; on this machine `torch.compile` took
minutes to compile a layer, recompiled as the position moved, and was no faster. The scripted step
covers layers whose linear groups are each one bfloat16 `Int4PackedLinear` (the fused path for the
4- and 8-bit formats); a model with any other layer keeps the eager step.

Shapes: H hidden, D head size, NH query heads, NKV key/value heads, F feed-forward width.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from collections.abc import Callable
from typing import TYPE_CHECKING, Optional, Tuple

import torch
import torch.nn.functional as F

from kernels._linear import GROUP, Int4PackedLinear

if TYPE_CHECKING:
    from kernels._model import Layer
    from kernels._weights import LinearGroup


def _int4(x: torch.Tensor, packed: torch.Tensor, scales_zeros: torch.Tensor, split: bool, out_features: int,
          bias: Optional[torch.Tensor], group: int) -> torch.Tensor:  # fmt: skip
    """`Int4PackedLinear.__call__`: bfloat16 [1, K] -> [1, N] (bfloat16, float32 with a bias)."""
    if split:
        x = torch.cat([x, x], dim=-1)  # [1, 2K]
    y = torch.ops.aten._weight_int4pack_mm_for_cpu(x, packed, group, scales_zeros)
    if y.shape[-1] != out_features:
        y = y[:, :out_features]
    if bias is not None:
        y = y + bias
    return y


def _rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:  # float32 [..., H] -> float32
    """kernels._model.rms_norm's arithmetic, in float32."""
    squares = torch.linalg.vector_norm(x, dim=-1, keepdim=True).square_()  # [..., 1]
    return x * torch.add(eps, squares, alpha=1.0 / x.shape[-1]).rsqrt_() * weight


def _layer(x: torch.Tensor, eps: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, position: int,
           turns: torch.Tensor, query_turns: torch.Tensor, score_scale: float, heads: int, kv_heads: int,
           attn_norm: torch.Tensor, q_norm: Optional[torch.Tensor], k_norm: Optional[torch.Tensor],
           qkv: torch.Tensor, qkv_sz: torch.Tensor, qkv_split: bool, qkv_n: int, qkv_bias: Optional[torch.Tensor],
           out: torch.Tensor, out_sz: torch.Tensor, out_split: bool, out_n: int, out_bias: Optional[torch.Tensor],
           ffn_norm: torch.Tensor,
           gate_up: torch.Tensor, gate_up_sz: torch.Tensor, gate_up_split: bool, gate_up_n: int,
           gate_up_bias: Optional[torch.Tensor],
           down: torch.Tensor, down_sz: torch.Tensor, down_split: bool, down_n: int, down_bias: Optional[torch.Tensor],
           group: int) -> None:  # fmt: skip
    """x float32 [1, H], the residual stream, updated in place; keys/values [NKV, capacity, D] get `position`."""
    d = keys.shape[-1]
    k_end, end = (heads + kv_heads) * d, position + 1
    normed = _rms_norm(x, attn_norm, eps).to(torch.bfloat16)
    projected = _int4(normed, qkv, qkv_sz, qkv_split, qkv_n, qkv_bias, group)[0]  # [(NH + 2 NKV) D]
    qk = projected[:k_end].float().view(heads + kv_heads, d)
    if q_norm is not None and k_norm is not None:
        qk = torch.cat([_rms_norm(qk[:heads], q_norm, eps), _rms_norm(qk[heads:], k_norm, eps)])
    pairs = torch.view_as_complex(qk.view(heads + kv_heads, d // 2, 2))  # [NH + NKV, D/2]
    keys[:, position] = torch.view_as_real(pairs[heads:] * turns).view(kv_heads, d)
    values[:, position] = projected[k_end:].view(kv_heads, d)
    queries = torch.view_as_real(pairs[:heads] * query_turns).view(kv_heads, heads // kv_heads, d)
    scores = torch.bmm(queries, keys[:, :end].transpose(1, 2))  # [NKV, NH/NKV, S]
    if score_scale != 1.0:
        scores.mul_(score_scale)
    attended = torch.bmm(torch.softmax(scores, dim=-1), values[:, :end])  # [NKV, NH/NKV, D]
    _rows_after_attention(x, attended.view(1, heads * d), eps, out, out_sz, out_split, out_n, out_bias, ffn_norm,
                          gate_up, gate_up_sz, gate_up_split, gate_up_n, gate_up_bias,
                          down, down_sz, down_split, down_n, down_bias, group)  # fmt: skip


def _rows_before_attention(x: torch.Tensor, eps: torch.Tensor, turns: torch.Tensor, heads: int, kv_heads: int, head_dim: int,
                           attn_norm: torch.Tensor, q_norm: Optional[torch.Tensor], k_norm: Optional[torch.Tensor],
                           qkv: torch.Tensor, qkv_sz: torch.Tensor, qkv_split: bool, qkv_n: int, qkv_bias: Optional[torch.Tensor],
                           group: int) -> Tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """The batching engine's rows up to attention (kernels/engine/_runner.py's ops): x float32 [N, H] ->
    roped queries and keys float32 [N, NH + NKV, D], values [N, NKV, D]; turns complex [N, 1, D/2]."""
    n, d = x.shape[0], head_dim
    k_end = (heads + kv_heads) * d
    projected = _int4(_rms_norm(x, attn_norm, eps).to(torch.bfloat16), qkv, qkv_sz, qkv_split, qkv_n, qkv_bias, group).float()
    qk = projected[:, :k_end].view(n, heads + kv_heads, d)
    values = projected[:, k_end:].view(n, kv_heads, d)
    if q_norm is not None and k_norm is not None:
        qk = torch.cat([_rms_norm(qk[:, :heads], q_norm, eps), _rms_norm(qk[:, heads:], k_norm, eps)], dim=1)
    pairs = torch.view_as_complex(qk.reshape(n, heads + kv_heads, d // 2, 2))  # [N, NH + NKV, D/2]
    return torch.view_as_real(pairs * turns).view(n, heads + kv_heads, d), values


def _rows_after_attention(x: torch.Tensor, attended: torch.Tensor, eps: torch.Tensor,
                          out: torch.Tensor, out_sz: torch.Tensor, out_split: bool, out_n: int, out_bias: Optional[torch.Tensor],
                          ffn_norm: torch.Tensor,
                          gate_up: torch.Tensor, gate_up_sz: torch.Tensor, gate_up_split: bool, gate_up_n: int,
                          gate_up_bias: Optional[torch.Tensor],
                          down: torch.Tensor, down_sz: torch.Tensor, down_split: bool, down_n: int, down_bias: Optional[torch.Tensor],
                          group: int) -> None:  # fmt: skip
    """The engine's rows after attention: x float32 [N, H] += the layer's output for attended float32 [N, NH * D]."""
    x.add_(_int4(attended.to(torch.bfloat16), out, out_sz, out_split, out_n, out_bias, group))
    both = _int4(_rms_norm(x, ffn_norm, eps).to(torch.bfloat16), gate_up, gate_up_sz, gate_up_split, gate_up_n, gate_up_bias, group)
    f = both.shape[-1] // 2
    activated = F.silu(both[:, :f].float()).mul_(both[:, f:])  # [N, F], SwiGLU in float32
    x.add_(_int4(activated.to(torch.bfloat16), down, down_sz, down_split, down_n, down_bias, group))


_scripted: dict[str, torch.jit.ScriptFunction] = {}


def _script(function: Callable = _layer) -> torch.jit.ScriptFunction:
    name = function.__name__
    if name not in _scripted:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # see the module docstring
            warnings.simplefilter("ignore", FutureWarning)
            _scripted[name] = torch.jit.script(function)
    return _scripted[name]


def _int4_part(group: LinearGroup) -> Int4PackedLinear | None:
    if len(group.parts) != 1:
        return None
    part = group.parts[0]
    if not isinstance(part, Int4PackedLinear) or part.dtype != torch.bfloat16 or part.packed is None:
        return None
    return part


def _bound_layers(layers: list[Layer]) -> list[tuple] | None:
    """Per layer: (attn_norm, q_norm, k_norm, qkv's 5 arguments), (out's 5, ffn_norm, gate_up's 5, down's 5)."""
    bound = []
    for layer in layers:
        parts = [_int4_part(g) for g in (layer.qkv, layer.attn_output, layer.gate_up, layer.down)]
        if any(p is None for p in parts) or (layer.q_norm is None) != (layer.k_norm is None):
            return None
        qkv, out, gate_up, down = [(p.packed, p.scales_zeros, p.split, p.out_features, p.bias) for p in parts]  # type: ignore[union-attr]
        bound.append(((layer.attn_norm, layer.q_norm, layer.k_norm, *qkv), (*out, layer.ffn_norm, *gate_up, *down)))
    return bound


@dataclass(frozen=True)
class ScriptedRows:
    """The engine's per-layer work around attention, scripted: each layer's arguments bound once."""

    layer_args: tuple[tuple[tuple, tuple], ...]
    heads: int
    kv_heads: int
    head_dim: int
    eps: torch.Tensor  # float32 [], the norms' epsilon

    @classmethod
    def build(cls, layers: list[Layer], heads: int, kv_heads: int, head_dim: int, eps: torch.Tensor) -> ScriptedRows | None:
        """None when some layer is not all bfloat16 int4 (the runner's eager ops serve those models)."""
        bound = _bound_layers(layers)
        if bound is None:
            return None
        _script(_rows_before_attention), _script(_rows_after_attention)
        return cls(tuple(bound), heads, kv_heads, head_dim, eps)

    def before_attention(self, index: int, x: torch.Tensor, turns: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x float32 [N, H] -> roped queries and keys [N, NH + NKV, D], values [N, NKV, D]; turns complex [N, 1, D/2]."""
        before, _ = self.layer_args[index]
        return _script(_rows_before_attention)(x, self.eps, turns, self.heads, self.kv_heads, self.head_dim, *before, GROUP)

    def after_attention(self, index: int, x: torch.Tensor, attended: torch.Tensor) -> None:
        """x float32 [N, H] += the layer's output for attended float32 [N, NH * D]."""
        _, after = self.layer_args[index]
        _script(_rows_after_attention)(x, attended, self.eps, *after, GROUP)


@dataclass(frozen=True)
class ScriptedDecode:
    """The scripted step's arguments for each layer, bound once."""

    layer_args: tuple[tuple, ...]

    @classmethod
    def build(cls, layers: list[Layer]) -> ScriptedDecode | None:
        """None when some layer is not all bfloat16 int4 (the eager step serves those models)."""
        bound = _bound_layers(layers)
        if bound is None:
            return None
        _script()
        return cls(tuple((*before, *after) for before, after in bound))

    def run(self, x: torch.Tensor, eps: torch.Tensor, keys: list[torch.Tensor], values: list[torch.Tensor], position: int,
            turns: torch.Tensor, query_turns: torch.Tensor, score_scale: float, heads: int, kv_heads: int) -> torch.Tensor:  # fmt: skip
        """x float32 [1, H] through every layer (in place); each layer's keys/values [NKV, capacity, D] get `position`."""
        step = _script()
        for args, layer_keys, layer_values in zip(self.layer_args, keys, values):
            step(x, eps, layer_keys, layer_values, position, turns, query_turns, score_scale, heads, kv_heads, *args, GROUP)
        return x
