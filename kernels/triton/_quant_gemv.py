"""Fused dequant GEMV for decode (M = 1 .. GEMV_MAX_M rows): y = x @ w.T with w in `QuantWeight` layout.

Grid: (N / BLOCK_N,). Each program owns BLOCK_N output rows for all M inputs and streams its weight
rows once along K, BLOCK_B code bytes per row per step (BLOCK_B elements for Q8_0, 2 * BLOCK_B for
Q4_x), dequantising them in registers (never in memory). Products accumulate element-wise in a
float32 [BLOCK_M, BLOCK_N, BLOCK_B] tile, reduced once after the loop (M is too small for
tensor-core dots, and one reduction instead of one per step saves the cross-lane shuffles).
Q4_x: byte j of a row holds element 32*(j//16) + j%16 (low nibble) and that + 16 (high nibble), so
the activations are loaded at those two index sets and no nibble interleaving is needed.
Reference: `kernels.triton._reference.quant_matmul`.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.triton._loader import interpreting
from kernels.triton._quant_weight import QTYPE_CODE, QuantWeight

TARGET_PROGRAMS = 512  # about four per multiprocessor on a large GPU
TILE_ELEMENTS = 2048  # BLOCK_M * BLOCK_N * BLOCK_B: 16 float32 accumulators per thread at 4 warps


@triton.jit
def quant_gemv_kernel(
    x_ptr, qs_ptr, d_ptr, m_ptr, bias_ptr, out_ptr,
    M, N, K, stride_xm, stride_qn, stride_dn, stride_om,
    QTYPE: tl.constexpr, HAS_BIAS: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_B: tl.constexpr,
):  # fmt: skip
    rows = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)  # [BN] output features
    row_ok = rows < N
    ms = tl.arange(0, BLOCK_M)  # [BM] input rows
    m_ok = ms < M
    row_bytes = K if QTYPE == 2 else K // 2
    acc = tl.zeros((BLOCK_M, BLOCK_N, BLOCK_B), dtype=tl.float32)
    for b0 in range(0, row_bytes, BLOCK_B):
        js = b0 + tl.arange(0, BLOCK_B)  # [BB] byte index along the row
        j_ok = js < row_bytes
        w_ok = row_ok[:, None] & j_ok[None, :]  # [BN, BB]
        x_ok = m_ok[:, None] & j_ok[None, :]  # [BM, BB]
        codes = tl.load(qs_ptr + rows[:, None] * stride_qn + js[None, :], mask=w_ok, other=0)  # [BN, BB]
        if QTYPE == 2:  # Q8_0: byte j is element j
            d = tl.load(d_ptr + rows[:, None] * stride_dn + js[None, :] // 32, mask=w_ok, other=0.0).to(tl.float32)
            x = tl.load(x_ptr + ms[:, None] * stride_xm + js[None, :], mask=x_ok, other=0.0).to(tl.float32)  # [BM, BB]
            acc += x[:, None, :] * (codes.to(tl.float32) * d)[None, :, :]
        else:  # Q4_0 / Q4_1: two elements per byte
            group = rows[:, None] * stride_dn + js[None, :] // 16
            d = tl.load(d_ptr + group, mask=w_ok, other=0.0).to(tl.float32)
            low = (codes & 0x0F).to(tl.float32)
            high = (codes >> 4).to(tl.float32)
            if QTYPE == 0:
                w_low, w_high = d * (low - 8.0), d * (high - 8.0)
            else:
                minimum = tl.load(m_ptr + group, mask=w_ok, other=0.0).to(tl.float32)
                w_low, w_high = d * low + minimum, d * high + minimum
            k_low = 2 * js - js % 16  # [BB] element of each low nibble
            x_low = tl.load(x_ptr + ms[:, None] * stride_xm + k_low[None, :], mask=x_ok, other=0.0).to(tl.float32)
            x_high = tl.load(x_ptr + ms[:, None] * stride_xm + (k_low + 16)[None, :], mask=x_ok, other=0.0).to(tl.float32)
            acc += x_low[:, None, :] * w_low[None, :, :] + x_high[:, None, :] * w_high[None, :, :]
    out = tl.sum(acc, axis=2)  # [BM, BN]
    if HAS_BIAS:
        out += tl.load(bias_ptr + rows, mask=row_ok, other=0.0).to(tl.float32)[None, :]
    out_ok = m_ok[:, None] & row_ok[None, :]
    tl.store(out_ptr + ms[:, None] * stride_om + rows[None, :], out.to(out_ptr.dtype.element_ty), mask=out_ok)


def gemv_blocks(m: int, n: int, row_bytes: int) -> tuple[int, int]:
    """(BLOCK_N, BLOCK_B): enough programs to fill a large GPU, an accumulator tile of bounded size
    and no wider than a row. In Triton's interpreter, where each program costs milliseconds of Python,
    a few large tiles instead (the tests that cover tiling pass their own sizes)."""
    if interpreting():
        return min(128, triton.next_power_of_2(n)), max(16, min(256, triton.next_power_of_2(row_bytes)))
    block_n = 32
    while block_n > 4 and triton.cdiv(n, block_n) < TARGET_PROGRAMS:
        block_n //= 2
    block_b = max(16, min(512, TILE_ELEMENTS // (block_n * triton.next_power_of_2(m)), triton.next_power_of_2(row_bytes)))
    return block_n, block_b


def launch_quant_gemv(x: torch.Tensor, weight: QuantWeight, bias: torch.Tensor | None, *, block_n: int | None = None, block_b: int | None = None) -> torch.Tensor:
    rows, k = x.shape  # x [M, K], last dim contiguous
    n = weight.out_features
    out = torch.empty(rows, n, dtype=x.dtype, device=x.device)  # [M, N]
    if rows == 0:
        return out
    default_n, default_b = gemv_blocks(rows, n, weight.qs.shape[1])
    block_n, block_b = block_n or default_n, block_b or default_b
    m = weight.m if weight.m is not None else weight.d  # unread unless Q4_1
    quant_gemv_kernel[(triton.cdiv(n, block_n),)](
        x, weight.qs, weight.d, m, bias if bias is not None else weight.d, out,
        rows, n, k, x.stride(0), weight.qs.stride(0), weight.d.stride(0), out.stride(0),
        QTYPE=QTYPE_CODE[weight.qtype], HAS_BIAS=bias is not None,
        BLOCK_M=triton.next_power_of_2(rows), BLOCK_N=block_n, BLOCK_B=block_b,
    )  # fmt: skip
    return out
