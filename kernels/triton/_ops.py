"""The Triton ops: the references' signatures, inputs checked, then the kernel launched.

Each op raises `KernelInputError` for tensors it cannot take and `TritonUnavailable` where triton
is missing. Tensors must share one device: a CUDA/ROCm GPU, or the CPU after `use_interpreter()`.
Shapes as in `_reference` (M rows, H hidden, F feed-forward width, T tokens, NH heads, D head size).
"""

from __future__ import annotations

import torch

from kernels.triton._errors import KernelInputError
from kernels.triton._loader import kernel_module, launching
from kernels.triton._quant_weight import GEMV_MAX_M, QuantWeight

FLOATS = (torch.float16, torch.bfloat16, torch.float32)
ROPE_STYLES = ("interleaved", "neox")


def _launch(module: str, launcher: str, *args: object) -> torch.Tensor:
    with launching():
        return getattr(kernel_module(module), launcher)(*args)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise KernelInputError(message)


def _float(name: str, tensor: torch.Tensor) -> None:
    _check(tensor.dtype in FLOATS, f"{name} must be float16, bfloat16 or float32, got {tensor.dtype}")


def _one_device(**tensors: torch.Tensor | None) -> None:
    devices = {name: t.device for name, t in tensors.items() if t is not None}
    _check(len(set(devices.values())) <= 1, f"tensors on different devices: {devices}")


def _rows(name: str, tensor: torch.Tensor) -> torch.Tensor:
    """tensor with a contiguous last dimension (a copy only when it has none)."""
    _check(tensor.dim() >= 1, f"{name} must have at least one dimension")
    return tensor if tensor.shape[-1] <= 1 or tensor.stride(-1) == 1 else tensor.contiguous()


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """x [..., H], weight [H] -> [..., H] in x's dtype."""
    _float("x", x)
    _float("weight", weight)
    _check(weight.shape == (x.shape[-1],), f"weight must be [{x.shape[-1]}], got {list(weight.shape)}")
    _one_device(x=x, weight=weight)
    rows = _rows("x", x).reshape(-1, x.shape[-1])  # [M, H]
    return _launch("_rms_norm", "launch_rms_norm", rows, weight.contiguous(), float(eps)).view(x.shape)


def rope(x: torch.Tensor, positions: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, *, style: str = "interleaved", rope_dim: int | None = None) -> torch.Tensor:
    """x [T, NH, D] (any strides but the last), positions [T] int, cos/sin [P, >= rope_dim/2] float32 -> [T, NH, D]."""
    _float("x", x)
    _check(x.dim() == 3, f"x must be [tokens, heads, head_dim], got {list(x.shape)}")
    tokens, _, head_dim = x.shape
    _check(style in ROPE_STYLES, f"style must be one of {ROPE_STYLES}, got {style!r}")
    _check(cos.dim() == 2 and cos.shape == sin.shape and cos.dtype == sin.dtype == torch.float32,
           f"cos and sin must be float32 [max_positions, pairs] alike, got {cos.dtype} {list(cos.shape)}, {sin.dtype} {list(sin.shape)}")  # fmt: skip
    rope_dim = rope_dim or min(head_dim, 2 * cos.shape[1])
    _check(0 < rope_dim <= head_dim and rope_dim % 2 == 0, f"rope_dim must be even and in 2..{head_dim}, got {rope_dim}")
    _check(cos.shape[1] >= rope_dim // 2, f"cos and sin need {rope_dim // 2} angles per position, have {cos.shape[1]}")
    _check(positions.shape == (tokens,) and not positions.is_floating_point(), f"positions must be integers [{tokens}], got {positions.dtype} {list(positions.shape)}")
    _one_device(x=x, positions=positions, cos=cos, sin=sin)
    return _launch("_rope", "launch_rope", _rows("x", x), positions.contiguous(), cos, sin, rope_dim, style)


def swiglu(gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    """gate, up [M, F] (views into one [M, 2F] buffer are fine) -> silu(gate) * up [M, F] in gate's dtype."""
    _float("gate", gate)
    _float("up", up)
    _check(gate.dim() == 2 and gate.shape == up.shape, f"gate and up must be [M, F] alike, got {list(gate.shape)} and {list(up.shape)}")
    _one_device(gate=gate, up=up)
    return _launch("_swiglu", "launch_swiglu", _rows("gate", gate), _rows("up", up))


def _check_quant(x: torch.Tensor, weight: QuantWeight, bias: torch.Tensor | None) -> torch.Tensor:
    _float("x", x)
    _check(x.dim() == 2 and x.shape[1] == weight.in_features, f"x must be [M, {weight.in_features}], got {list(x.shape)}")
    _check(bias is None or bias.shape == (weight.out_features,), f"bias must be [{weight.out_features}]")
    _one_device(x=x, qs=weight.qs, d=weight.d, m=weight.m, bias=bias)
    return _rows("x", x)


def quant_gemv(x: torch.Tensor, weight: QuantWeight, bias: torch.Tensor | None = None) -> torch.Tensor:
    """Decode: x [M, K] with M <= GEMV_MAX_M -> x @ w.T (+ bias) [M, N] in x's dtype."""
    x = _check_quant(x, weight, bias)
    _check(x.shape[0] <= GEMV_MAX_M, f"the GEMV takes at most {GEMV_MAX_M} rows, got {x.shape[0]}")
    return _launch("_quant_gemv", "launch_quant_gemv", x, weight, bias)


def quant_gemm(x: torch.Tensor, weight: QuantWeight, bias: torch.Tensor | None = None) -> torch.Tensor:
    """Prefill: x [M, K], any M -> x @ w.T (+ bias) [M, N] in x's dtype."""
    x = _check_quant(x, weight, bias)
    return _launch("_quant_gemm", "launch_quant_gemm", x, weight, bias)


def quant_matmul(x: torch.Tensor, weight: QuantWeight, bias: torch.Tensor | None = None) -> torch.Tensor:
    """x [M, K] -> [M, N]: the GEMV for M <= GEMV_MAX_M, the GEMM above."""
    return (quant_gemv if x.dim() == 2 and 0 < x.shape[0] <= GEMV_MAX_M else quant_gemm)(x, weight, bias)


def paged_decode_attention(
    q: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, block_table: torch.Tensor, seq_lens: torch.Tensor, scale: float
) -> torch.Tensor:
    """q [B, QH, D], k/v_cache [P, S, KVH, D], block_table [B, MP] int32, seq_lens [B] int32 -> [B, QH, D]."""
    _float("q", q)
    _check(q.dim() == 3 and k_cache.dim() == 4, f"q must be [B, QH, D] and k_cache [P, S, KVH, D], got {list(q.shape)}, {list(k_cache.shape)}")
    batch, q_heads, head_dim = q.shape
    _check(v_cache.shape == k_cache.shape and v_cache.dtype == k_cache.dtype == q.dtype,
           f"k_cache and v_cache must match each other and q's dtype, got {k_cache.dtype} {list(k_cache.shape)}, {v_cache.dtype} {list(v_cache.shape)}")  # fmt: skip
    kv_heads = k_cache.shape[2]
    _check(k_cache.shape[3] == head_dim, f"cache head_dim {k_cache.shape[3]} differs from q's {head_dim}")
    _check(q_heads % kv_heads == 0, f"{q_heads} query heads cannot share {kv_heads} key/value heads")
    _check(block_table.dim() == 2 and block_table.shape[0] == batch and block_table.dtype == torch.int32,
           f"block_table must be int32 [{batch}, max_pages], got {block_table.dtype} {list(block_table.shape)}")  # fmt: skip
    _check(seq_lens.shape == (batch,) and seq_lens.dtype == torch.int32, f"seq_lens must be int32 [{batch}], got {seq_lens.dtype} {list(seq_lens.shape)}")
    _one_device(q=q, k_cache=k_cache, v_cache=v_cache, block_table=block_table, seq_lens=seq_lens)
    return _launch("_paged_attention", "launch_paged_decode_attention", _rows("q", q), _rows("k_cache", k_cache),
                   _rows("v_cache", v_cache), block_table.contiguous(), seq_lens.contiguous(), float(scale))  # fmt: skip
