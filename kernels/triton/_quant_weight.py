"""The weight layout the fused dequant-matmul kernels read, made once at load time from GGUF blocks.

A GGUF Q4_0 / Q4_1 / Q8_0 tensor of shape (N, K) (N output rows, K inputs, K a multiple of 32) is a
run of blocks of 32 elements along each row: Q4_0 = fp16 d + 16 bytes, Q4_1 = fp16 d + fp16 m + 16
bytes, Q8_0 = fp16 d + 32 int8. Repacking splits the blocks into separate, aligned arrays:

    qs  Q4_x: uint8 [N, K/2]; bytes 16g .. 16g+15 of a row are block g's 16 bytes unchanged:
              byte 16g + j holds element 32g + j in its low nibble, 32g + j + 16 in its high nibble.
        Q8_0: int8 [N, K]; element k is block k // 32's code k % 32.
    d   float16 [N, K/32]: each block's scale.
    m   float16 [N, K/32]: each block's minimum (Q4_1 only, else None).

Values: Q4_0 w = d * (q - 8); Q4_1 w = d * q + m; Q8_0 w = d * q. The bytes per weight are the
GGUF file's (4.5, 5 and 8.5 bits), just no longer interleaved with the scales.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from kernels.triton._errors import KernelInputError

BLOCK = 32
BLOCK_BYTES = {"Q4_0": 18, "Q4_1": 20, "Q8_0": 34}
QTYPE_CODE = {"Q4_0": 0, "Q4_1": 1, "Q8_0": 2}  # the kernels' QTYPE constexpr
GEMV_MAX_M = 8  # quant_matmul takes the GEMV up to this many rows, the GEMM above


@dataclass(frozen=True, eq=False)
class QuantWeight:
    qtype: str  # "Q4_0" | "Q4_1" | "Q8_0"
    qs: torch.Tensor  # Q4_x uint8 [N, K/2], Q8_0 int8 [N, K]
    d: torch.Tensor  # float16 [N, K/32]
    m: torch.Tensor | None  # float16 [N, K/32] for Q4_1, else None

    @property
    def out_features(self) -> int:
        return self.d.shape[0]

    @property
    def in_features(self) -> int:
        return self.d.shape[1] * BLOCK

    @property
    def device(self) -> torch.device:
        return self.qs.device

    @property
    def nbytes(self) -> int:
        parts = [self.qs, self.d] + ([self.m] if self.m is not None else [])
        return sum(p.numel() * p.element_size() for p in parts)

    def to(self, device: torch.device | str) -> QuantWeight:
        return QuantWeight(self.qtype, self.qs.to(device), self.d.to(device), None if self.m is None else self.m.to(device))


def qtype_name(qtype: object) -> str:
    """"Q4_0" from "Q4_0" or from gguf's GGMLQuantizationType.Q4_0; a clear error for anything else."""
    name = getattr(qtype, "name", qtype)
    if name not in BLOCK_BYTES:
        raise KernelInputError(f"quant type {name!r} has no fused kernel (supported: {', '.join(BLOCK_BYTES)})")
    return str(name)


def pack_quant_weight(raw: np.ndarray | torch.Tensor, qtype: object, shape: tuple[int, int]) -> QuantWeight:
    """Repack a tensor's GGUF block bytes (uint8, any shape, N*K/32 blocks) into a `QuantWeight`.

    The result lives on raw's device (a torch tensor) or the CPU (numpy); move it with `.to(device)`.
    """
    name = qtype_name(qtype)
    rows, cols = shape
    if rows <= 0 or cols <= 0 or cols % BLOCK:
        raise KernelInputError(f"a {name} weight needs N > 0 and K a positive multiple of {BLOCK}, got shape {shape}")
    if isinstance(raw, torch.Tensor):
        data = raw.reshape(-1)
        if data.dtype != torch.uint8:
            raise KernelInputError(f"GGUF block bytes must be uint8, got {data.dtype}")
    else:
        data = torch.from_numpy(np.array(raw, dtype=np.uint8, copy=True).reshape(-1))
    groups, size = cols // BLOCK, BLOCK_BYTES[name]
    if data.numel() != rows * groups * size:
        raise KernelInputError(f"{name} {shape}: expected {rows * groups * size} bytes of blocks, got {data.numel()}")
    blocks = data.view(rows, groups, size)  # [N, K/32, bytes per block]
    d = blocks[..., 0:2].contiguous().view(torch.float16).reshape(rows, groups)
    if name == "Q8_0":
        qs = blocks[..., 2:].contiguous().view(torch.int8).reshape(rows, cols)
        return QuantWeight(name, qs, d, None)
    if name == "Q4_0":
        return QuantWeight(name, blocks[..., 2:].reshape(rows, cols // 2).contiguous(), d, None)
    m = blocks[..., 2:4].contiguous().view(torch.float16).reshape(rows, groups)
    return QuantWeight(name, blocks[..., 4:].reshape(rows, cols // 2).contiguous(), d, m)


def concat_quant_weights(parts: list[QuantWeight]) -> QuantWeight:
    """Weights of one quant type and K stacked along N (e.g. q, k, v into one projection)."""
    if not parts or len({p.qtype for p in parts}) != 1 or len({p.in_features for p in parts}) != 1:
        raise KernelInputError("only weights of one quant type and one input width can be stacked")
    minimums = [p.m for p in parts if p.m is not None]
    return QuantWeight(
        parts[0].qtype,
        torch.cat([p.qs for p in parts]),
        torch.cat([p.d for p in parts]),
        torch.cat(minimums) if minimums else None,
    )
