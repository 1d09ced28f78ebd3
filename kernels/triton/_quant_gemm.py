"""Fused dequant GEMM for prefill (M > GEMV_MAX_M rows): y = x @ w.T with w in `QuantWeight` layout.

Grid: (M / BLOCK_M, N / BLOCK_N). Each K step loads a [BLOCK_K, BLOCK_N] weight tile and its
[BLOCK_K/32, BLOCK_N] scales, dequantises the tile in registers (viewed as [groups, 32, BLOCK_N] so
each scale broadcasts over its group) to the activation dtype, and feeds tensor-core dots with
float32 accumulation (fp32 activations use exact IEEE dots, not TF32). Q4_x tiles are split into
the low-nibble and high-nibble halves (see `_quant_gemv`), each a [BLOCK_K/2, BLOCK_N] operand
with its matching activation columns. BLOCK_K is a multiple of 32. Reference: `kernels.triton._reference.quant_matmul`.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.triton._loader import interpreting
from kernels.triton._quant_weight import QTYPE_CODE, QuantWeight


@triton.jit
def quant_gemm_kernel(
    x_ptr, qs_ptr, d_ptr, m_ptr, bias_ptr, out_ptr,
    M, N, K, stride_xm, stride_qn, stride_dn, stride_om,
    QTYPE: tl.constexpr, HAS_BIAS: tl.constexpr, PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
):  # fmt: skip
    ms = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)  # [BM]
    ns = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)  # [BN]
    m_ok, n_ok = ms < M, ns < N
    dtype = x_ptr.dtype.element_ty
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    gs = tl.arange(0, BLOCK_K // 32)  # [G] groups of 32 in a K step
    for k0 in range(0, K, BLOCK_K):
        g_ok = (k0 // 32 + gs) < K // 32  # [G]
        scale_at = ns[None, :] * stride_dn + (k0 // 32 + gs)[:, None]  # [G, BN]
        scale_ok = g_ok[:, None] & n_ok[None, :]
        d = tl.load(d_ptr + scale_at, mask=scale_ok, other=0.0).to(tl.float32)[:, None, :]  # [G, 1, BN]
        if QTYPE == 2:  # Q8_0
            ks = k0 + tl.arange(0, BLOCK_K)  # [BK]
            k_ok = ks < K
            q = tl.load(qs_ptr + ns[None, :] * stride_qn + ks[:, None], mask=k_ok[:, None] & n_ok[None, :], other=0)  # [BK, BN]
            w = tl.reshape(tl.reshape(q.to(tl.float32), (BLOCK_K // 32, 32, BLOCK_N)) * d, (BLOCK_K, BLOCK_N))
            x = tl.load(x_ptr + ms[:, None] * stride_xm + ks[None, :], mask=m_ok[:, None] & k_ok[None, :], other=0.0)  # [BM, BK]
            acc = tl.dot(x, w.to(dtype), acc, input_precision=PRECISION)
        else:  # Q4_0 / Q4_1
            js = k0 // 2 + tl.arange(0, BLOCK_K // 2)  # [BK/2] byte index along the row
            j_ok = js < K // 2
            packed = tl.load(qs_ptr + ns[None, :] * stride_qn + js[:, None], mask=j_ok[:, None] & n_ok[None, :], other=0)  # [BK/2, BN]
            low = tl.reshape((packed & 0x0F).to(tl.float32), (BLOCK_K // 32, 16, BLOCK_N))
            high = tl.reshape((packed >> 4).to(tl.float32), (BLOCK_K // 32, 16, BLOCK_N))
            if QTYPE == 0:
                w_low, w_high = d * (low - 8.0), d * (high - 8.0)
            else:
                minimum = tl.load(m_ptr + scale_at, mask=scale_ok, other=0.0).to(tl.float32)[:, None, :]
                w_low, w_high = d * low + minimum, d * high + minimum
            k_low = 2 * js - js % 16  # [BK/2]
            x_ok = m_ok[:, None] & j_ok[None, :]  # [BM, BK/2]
            x_low = tl.load(x_ptr + ms[:, None] * stride_xm + k_low[None, :], mask=x_ok, other=0.0)
            x_high = tl.load(x_ptr + ms[:, None] * stride_xm + (k_low + 16)[None, :], mask=x_ok, other=0.0)
            acc = tl.dot(x_low, tl.reshape(w_low, (BLOCK_K // 2, BLOCK_N)).to(dtype), acc, input_precision=PRECISION)
            acc = tl.dot(x_high, tl.reshape(w_high, (BLOCK_K // 2, BLOCK_N)).to(dtype), acc, input_precision=PRECISION)
    if HAS_BIAS:
        acc += tl.load(bias_ptr + ns, mask=n_ok, other=0.0).to(tl.float32)[None, :]
    tl.store(out_ptr + ms[:, None] * stride_om + ns[None, :], acc.to(out_ptr.dtype.element_ty), mask=m_ok[:, None] & n_ok[None, :])


def gemm_blocks(m: int, dtype: torch.dtype, qtype: str) -> tuple[int, int, int, int, int]:
    """(BLOCK_M, BLOCK_N, BLOCK_K, warps, stages): tiles chosen by rows, dtype and width, free of
    register spills on sm_90 (checked with `python -m kernels.triton._cross_compile`; not yet timed).
    In Triton's interpreter, a few large tiles (each program costs milliseconds of Python)."""
    if interpreting():
        return 64, 128, 64, 4, 1
    if dtype == torch.float32:  # IEEE fp32 dots run on CUDA cores from registers: small tiles
        return 32, 32, 32, 4, 2
    wide = 2 if qtype == "Q8_0" else 1  # a Q8_0 element is a byte: half the K per step for the same bytes
    if m <= 16:
        return 16, 64, 128 // wide, 4, 3
    if m <= 32:
        return 32, 64, 128 // wide, 4, 3
    if m <= 64:
        return 64, 64, 64 // wide, 4, 3
    return 128, 64, 64, 8, 3


def launch_quant_gemm(
    x: torch.Tensor, weight: QuantWeight, bias: torch.Tensor | None, *, block_m: int | None = None, block_n: int | None = None, block_k: int | None = None
) -> torch.Tensor:
    rows, k = x.shape  # x [M, K], last dim contiguous
    n = weight.out_features
    out = torch.empty(rows, n, dtype=x.dtype, device=x.device)  # [M, N]
    if rows == 0:
        return out
    default_m, default_n, default_k, warps, stages = gemm_blocks(rows, x.dtype, weight.qtype)
    block_m, block_n, block_k = block_m or default_m, block_n or default_n, block_k or default_k
    m = weight.m if weight.m is not None else weight.d  # unread unless Q4_1
    grid = (triton.cdiv(rows, block_m), triton.cdiv(n, block_n))
    quant_gemm_kernel[grid](
        x, weight.qs, weight.d, m, bias if bias is not None else weight.d, out,
        rows, n, k, x.stride(0), weight.qs.stride(0), weight.d.stride(0), out.stride(0),
        QTYPE=QTYPE_CODE[weight.qtype], HAS_BIAS=bias is not None, PRECISION="ieee" if x.dtype == torch.float32 else "tf32",
        BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_K=block_k, num_warps=warps, num_stages=stages,
    )  # fmt: skip
    return out
