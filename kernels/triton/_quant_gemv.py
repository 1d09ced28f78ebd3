"""Fused dequant GEMV for decode (M = 1 .. GEMV_MAX_M rows): y = x @ w.T with w in `QuantWeight` layout.

Grid: (N / BLOCK_N,). Each program owns BLOCK_N output rows for all M inputs, streams its weight
rows once along K in BLOCK_K steps, dequantises them in registers (never in memory) and
accumulates in float32 by broadcast-multiply-and-sum (M is too small for tensor-core dots).
Q4_x: a step of BLOCK_K elements is BLOCK_K/2 bytes; byte j of the row holds element
32*(j//16) + j%16 (low nibble) and that + 16 (high nibble), so the activations are loaded at those
two index sets and no nibble interleaving is needed. Reference: `kernels.triton._reference.quant_matmul`.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.triton._quant_weight import QTYPE_CODE, QuantWeight


@triton.jit
def quant_gemv_kernel(
    x_ptr, qs_ptr, d_ptr, m_ptr, bias_ptr, out_ptr,
    M, N, K, stride_xm, stride_qn, stride_dn, stride_om,
    QTYPE: tl.constexpr, HAS_BIAS: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
):  # fmt: skip
    rows = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)  # [BN] output features
    row_ok = rows < N
    ms = tl.arange(0, BLOCK_M)  # [BM] input rows
    m_ok = ms < M
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        if QTYPE == 2:  # Q8_0: one int8 per element
            ks = k0 + tl.arange(0, BLOCK_K)  # [BK]
            w_ok = row_ok[:, None] & (ks < K)[None, :]  # [BN, BK]
            q = tl.load(qs_ptr + rows[:, None] * stride_qn + ks[None, :], mask=w_ok, other=0).to(tl.float32)
            d = tl.load(d_ptr + rows[:, None] * stride_dn + ks[None, :] // 32, mask=w_ok, other=0.0).to(tl.float32)
            x = tl.load(x_ptr + ms[:, None] * stride_xm + ks[None, :], mask=m_ok[:, None] & (ks < K)[None, :], other=0.0)
            acc += tl.sum(x.to(tl.float32)[:, None, :] * (q * d)[None, :, :], axis=2)  # [BM, BN]
        else:  # Q4_0 / Q4_1: two elements per byte
            js = k0 // 2 + tl.arange(0, BLOCK_K // 2)  # [BK/2] byte index along the row
            j_ok = js < K // 2
            w_ok = row_ok[:, None] & j_ok[None, :]  # [BN, BK/2]
            packed = tl.load(qs_ptr + rows[:, None] * stride_qn + js[None, :], mask=w_ok, other=0)
            group = rows[:, None] * stride_dn + js[None, :] // 16
            d = tl.load(d_ptr + group, mask=w_ok, other=0.0).to(tl.float32)
            low = (packed & 0x0F).to(tl.float32)
            high = (packed >> 4).to(tl.float32)
            if QTYPE == 0:
                w_low, w_high = d * (low - 8.0), d * (high - 8.0)
            else:
                minimum = tl.load(m_ptr + group, mask=w_ok, other=0.0).to(tl.float32)
                w_low, w_high = d * low + minimum, d * high + minimum
            k_low = 2 * js - js % 16  # [BK/2] element of each low nibble
            x_ok = m_ok[:, None] & j_ok[None, :]
            x_low = tl.load(x_ptr + ms[:, None] * stride_xm + k_low[None, :], mask=x_ok, other=0.0).to(tl.float32)
            x_high = tl.load(x_ptr + ms[:, None] * stride_xm + (k_low + 16)[None, :], mask=x_ok, other=0.0).to(tl.float32)
            acc += tl.sum(x_low[:, None, :] * w_low[None, :, :], axis=2)
            acc += tl.sum(x_high[:, None, :] * w_high[None, :, :], axis=2)
    if HAS_BIAS:
        acc += tl.load(bias_ptr + rows, mask=row_ok, other=0.0).to(tl.float32)[None, :]
    out_ok = m_ok[:, None] & row_ok[None, :]
    tl.store(out_ptr + ms[:, None] * stride_om + rows[None, :], acc.to(out_ptr.dtype.element_ty), mask=out_ok)


def gemv_blocks(m: int, n: int) -> tuple[int, int]:
    """(BLOCK_N, BLOCK_K): enough programs to fill a large GPU, a register tile of bounded size."""
    block_n = 32
    while block_n > 4 and triton.cdiv(n, block_n) < 256:
        block_n //= 2
    block_m = triton.next_power_of_2(m)
    block_k = max(32, min(512, 8192 // (block_n * block_m)))
    return block_n, block_k


def launch_quant_gemv(x: torch.Tensor, weight: QuantWeight, bias: torch.Tensor | None, *, block_n: int | None = None, block_k: int | None = None) -> torch.Tensor:
    rows, k = x.shape  # x [M, K], last dim contiguous
    n = weight.out_features
    out = torch.empty(rows, n, dtype=x.dtype, device=x.device)  # [M, N]
    if rows == 0:
        return out
    default_n, default_k = gemv_blocks(rows, n)
    block_n, block_k = block_n or default_n, block_k or default_k
    m = weight.m if weight.m is not None else weight.d  # unread unless Q4_1
    quant_gemv_kernel[(triton.cdiv(n, block_n),)](
        x, weight.qs, weight.d, m, bias if bias is not None else weight.d, out,
        rows, n, k, x.stride(0), weight.qs.stride(0), weight.d.stride(0), out.stride(0),
        QTYPE=QTYPE_CODE[weight.qtype], HAS_BIAS=bias is not None,
        BLOCK_M=triton.next_power_of_2(rows), BLOCK_N=block_n, BLOCK_K=block_k,
    )  # fmt: skip
    return out
