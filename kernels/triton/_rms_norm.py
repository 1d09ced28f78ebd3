"""RMSNorm kernel: one program per row, the whole row in one tile, float32 arithmetic.

Reference: `kernels.triton._reference.rms_norm`.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def rms_norm_kernel(x_ptr, weight_ptr, out_ptr, hidden, stride_x, stride_out, eps, BLOCK_H: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK_H)  # [BLOCK_H]
    ok = cols < hidden
    x = tl.load(x_ptr + row * stride_x + cols, mask=ok, other=0.0).to(tl.float32)
    inverse_rms = 1.0 / tl.sqrt(tl.sum(x * x, axis=0) / hidden + eps)
    weight = tl.load(weight_ptr + cols, mask=ok, other=0.0).to(tl.float32)
    tl.store(out_ptr + row * stride_out + cols, (x * inverse_rms * weight).to(out_ptr.dtype.element_ty), mask=ok)


def launch_rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:  # x [M, H] rows contiguous
    rows, hidden = x.shape
    out = torch.empty(rows, hidden, dtype=x.dtype, device=x.device)  # [M, H]
    if rows:
        block = triton.next_power_of_2(hidden)
        rms_norm_kernel[(rows,)](x, weight, out, hidden, x.stride(0), out.stride(0), eps, BLOCK_H=block, num_warps=min(16, max(1, block // 256)))
    return out
