"""Triton kernels for GPUs: fused dequant-matmul (Q4_0, Q4_1, Q8_0), RMSNorm, RoPE, SwiGLU, paged decode attention.

The engine takes this path where `available()` (triton imports and torch sees a CUDA or ROCm
device) and the CPU path otherwise. Importing this package never needs triton; the kernels are
imported on first use.

    rms_norm(x [..., H], weight [H], eps) -> [..., H]
    rope(x [T, NH, D], positions [T] int, cos [P, D/2] f32, sin [P, D/2] f32, *, style="interleaved", rope_dim=None)
        -> [T, NH, D]; with `t = torch.view_as_real(model.rope.turns)`: cos = t[..., 0], sin = t[..., 1]
    swiglu(gate [M, F], up [M, F]) -> silu(gate) * up [M, F]
    pack_quant_weight(raw GGUF block bytes, "Q4_0" | "Q4_1" | "Q8_0", (N, K)) -> QuantWeight (CPU; .to(device))
    concat_quant_weights([QuantWeight, ...]) -> QuantWeight stacked along N (fused q/k/v, gate/up)
    quant_matmul(x [M, K], weight, bias [N] | None) -> [M, N]   (quant_gemv for M <= GEMV_MAX_M, quant_gemm above)
    paged_decode_attention(q [B, QH, D], k_cache [P, S, KVH, D], v_cache, block_table [B, MP] int32,
                           seq_lens [B] int32, scale) -> [B, QH, D]

Outputs take the (first) input's dtype: float16, bfloat16 or float32; all arithmetic is float32.
`reference` holds plain-torch functions of the same names and signatures (they run anywhere).
Layouts: `_quant_weight` (the repacked quantised weights), `_paged_attention` (the KV pages).
"""

from kernels.triton import _reference as reference
from kernels.triton._errors import KernelInputError, TritonUnavailable
from kernels.triton._loader import available, interpreting, unavailable_reason, use_interpreter
from kernels.triton._ops import paged_decode_attention, quant_gemm, quant_gemv, quant_matmul, rms_norm, rope, swiglu
from kernels.triton._quant_weight import GEMV_MAX_M, QuantWeight, concat_quant_weights, pack_quant_weight

__all__ = [
    "GEMV_MAX_M",
    "KernelInputError",
    "QuantWeight",
    "TritonUnavailable",
    "available",
    "concat_quant_weights",
    "interpreting",
    "pack_quant_weight",
    "paged_decode_attention",
    "quant_gemm",
    "quant_gemv",
    "quant_matmul",
    "reference",
    "rms_norm",
    "rope",
    "swiglu",
    "unavailable_reason",
    "use_interpreter",
]
