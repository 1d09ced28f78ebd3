"""Rotary embedding kernel: each rotated pair (a, b) of a head becomes (a cos - b sin, a sin + b cos).

Pairs: "interleaved" rotates dims (2i, 2i+1) by angle i, the form `kernels._model.Rope` applies as
a complex product (llama files, and Qwen files once their Q/K rows are put in pair order);
"neox" rotates dims (i, i + rope_dim/2) by angle i. Dims from rope_dim on pass unchanged.
Grid: (T tokens, head tiles); each program rotates BLOCK_HEADS heads of one token at that token's
own position. Reference: `kernels.triton._reference.rope`.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def rope_kernel(
    x_ptr, positions_ptr, cos_ptr, sin_ptr, out_ptr,
    heads, head_dim, rope_dim,
    stride_xt, stride_xh, stride_cos_p, stride_cos_i, stride_sin_p, stride_sin_i, stride_ot, stride_oh,
    INTERLEAVED: tl.constexpr, BLOCK_HEADS: tl.constexpr, BLOCK_D: tl.constexpr,
):  # fmt: skip
    token = tl.program_id(0)
    hs = tl.program_id(1) * BLOCK_HEADS + tl.arange(0, BLOCK_HEADS)  # [BH]
    ds = tl.arange(0, BLOCK_D)  # [BD] output dims
    half = rope_dim // 2
    rotated = ds < rope_dim
    if INTERLEAVED:
        partner = ds ^ 1
        angle = ds // 2
        first = ds % 2 == 0  # the pair's first dim: a cos - b sin
    else:
        first = ds < half
        partner = tl.where(first, ds + half, ds - half)
        angle = tl.where(first, ds, ds - half)
    partner = tl.where(rotated, partner, ds)
    ok = (hs[:, None] < heads) & (ds[None, :] < head_dim)  # [BH, BD]
    row = x_ptr + token * stride_xt + hs[:, None] * stride_xh
    x = tl.load(row + ds[None, :], mask=ok, other=0.0).to(tl.float32)  # [BH, BD]
    x_partner = tl.load(row + partner[None, :], mask=ok, other=0.0).to(tl.float32)
    position = tl.load(positions_ptr + token).to(tl.int64)
    cos = tl.load(cos_ptr + position * stride_cos_p + angle * stride_cos_i, mask=rotated, other=1.0)  # [BD]
    sin = tl.load(sin_ptr + position * stride_sin_p + angle * stride_sin_i, mask=rotated, other=0.0)
    signed_sin = tl.where(first, -sin, sin)
    out = x * cos[None, :] + x_partner * signed_sin[None, :]
    tl.store(out_ptr + token * stride_ot + hs[:, None] * stride_oh + ds[None, :], out.to(out_ptr.dtype.element_ty), mask=ok)


def launch_rope(x: torch.Tensor, positions: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, rope_dim: int, style: str) -> torch.Tensor:
    tokens, heads, head_dim = x.shape  # x [T, NH, D], last dim contiguous; cos, sin [P, >= rope_dim/2]
    out = torch.empty(tokens, heads, head_dim, dtype=x.dtype, device=x.device)  # [T, NH, D]
    if tokens and heads:
        block_heads = min(triton.next_power_of_2(heads), 16)
        grid = (tokens, triton.cdiv(heads, block_heads))
        rope_kernel[grid](
            x, positions, cos, sin, out, heads, head_dim, rope_dim,
            x.stride(0), x.stride(1), cos.stride(0), cos.stride(1), sin.stride(0), sin.stride(1), out.stride(0), out.stride(1),
            INTERLEAVED=style == "interleaved", BLOCK_HEADS=block_heads, BLOCK_D=triton.next_power_of_2(head_dim),
        )  # fmt: skip
    return out
