"""SwiGLU kernel: silu(gate) * up in float32, one program per (row, column tile).

gate and up may be views into one [M, 2F] buffer (their own row strides). Reference:
`kernels.triton._reference.swiglu`.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

BLOCK_F = 1024


@triton.jit
def swiglu_kernel(gate_ptr, up_ptr, out_ptr, width, stride_gate, stride_up, stride_out, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)  # [BLOCK]
    ok = cols < width
    gate = tl.load(gate_ptr + row * stride_gate + cols, mask=ok, other=0.0).to(tl.float32)
    up = tl.load(up_ptr + row * stride_up + cols, mask=ok, other=0.0).to(tl.float32)
    out = gate / (1.0 + tl.exp(-gate)) * up
    tl.store(out_ptr + row * stride_out + cols, out.to(out_ptr.dtype.element_ty), mask=ok)


def launch_swiglu(gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:  # [M, F] each, last dim contiguous
    rows, width = gate.shape
    out = torch.empty(rows, width, dtype=gate.dtype, device=gate.device)  # [M, F]
    if rows and width:
        block = min(BLOCK_F, triton.next_power_of_2(width))
        swiglu_kernel[(rows, triton.cdiv(width, block))](gate, up, out, width, gate.stride(0), up.stride(0), out.stride(0), BLOCK=block)
    return out
