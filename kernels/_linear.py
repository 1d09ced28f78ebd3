"""Linear layers over quantised weights on the CPU, without a float copy of the weights.

`Int4PackedLinear` runs PyTorch's weight-only int4 matmul (`_weight_int4pack_mm_for_cpu`,
groups of 32). Four-bit formats map onto it directly: the op computes `(q - 8) * s + z`, so a
group `w = scale * q + offset` becomes `s = scale, z = offset + 8 * scale`. Wider codes (Q8_0,
Q5_K) are split into two nibbles, `q = 16 * hi + lo`, laid side by side along K; the input is
repeated to match, so one op call still computes the whole product. The op takes bfloat16
scales (its float32 form is exact but about 10x slower), so scales and zeros are chosen to lose as
little as possible when rounded to bfloat16.

`DequantLinear` is the plain fallback: it dequantises its codes on every call. `DenseLinear`
holds float weights (F32/F16/BF16 tensors and Q6_K, whose groups of 16 the op cannot express).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from kernels._quants import GROUP, GroupAffine

INNER_K_TILES = 2
N_MULTIPLE = 16
PACK_ROWS = 1024  # a multiple of the op's row tiles: packing slices equals packing the whole


class DenseLinear:
    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None = None) -> None:
        self.weight = weight.float().contiguous()  # [N, K]
        self.bias = bias
        self.out_features, self.in_features = self.weight.shape

    def __call__(self, x: torch.Tensor) -> torch.Tensor:  # [M, K] -> [M, N]
        return torch.nn.functional.linear(x, self.weight, self.bias)

    def dequantized(self) -> torch.Tensor:
        return self.weight


class DequantLinear:
    """Group-affine codes, dequantised to float on each call (the slow, simple fallback)."""

    def __init__(self, affine: GroupAffine, bias: torch.Tensor | None = None) -> None:
        self.codes = torch.from_numpy(affine.codes)  # uint8 [N, K]
        self.scale = torch.from_numpy(affine.scale)  # [N, K/32]
        self.offset = torch.from_numpy(affine.offset)  # [N, K/32]
        self.bias = bias
        self.out_features, self.in_features = self.codes.shape

    def dequantized(self) -> torch.Tensor:
        n, k = self.codes.shape
        groups = self.codes.view(n, k // GROUP, GROUP).float()  # [N, G, 32]
        return (groups * self.scale[..., None] + self.offset[..., None]).view(n, k)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.linear(x, self.dequantized(), self.bias)


class Int4PackedLinear:
    def __init__(self, affine: GroupAffine, bias: torch.Tensor | None = None, dtype: torch.dtype = torch.bfloat16) -> None:
        scale, offset = affine.scale, affine.offset
        self.out_features, self.in_features = affine.codes.shape
        self.split = affine.bits > 4
        if self.split:
            # hi: (h - 8) * 16s + (128s + offset) = 16s * h + offset; lo: (l - 8) * s + 8s = s * l.
            # For Q8_0 (offset = -128s) both zeros are power-of-two multiples of s: no extra rounding.
            scale, offset = np.concatenate([16 * scale, scale], axis=1), np.concatenate([128 * scale + offset, 8 * scale], axis=1)
        else:
            offset = offset + 8 * scale
        pad = -self.out_features % N_MULTIPLE  # the op packs rows in tiles of 16: add zero rows
        codes = np.pad(affine.codes, ((0, pad), (0, 0))) if pad else affine.codes
        scale, offset = np.pad(scale, ((0, pad), (0, 0))), np.pad(offset, ((0, pad), (0, 0)))
        self.dtype = dtype
        # packed in slices of rows, so the int32 copy the op wants never holds the whole matrix
        self.packed = torch.cat([self._pack(codes[row : row + PACK_ROWS]) for row in range(0, len(codes), PACK_ROWS)])
        # [K/32, N, 2]: per group and output row, the op's (scale, zero)
        self.scales_zeros = torch.stack([torch.from_numpy(scale).t(), torch.from_numpy(offset).t()], dim=-1).to(dtype).contiguous()
        self.bias = bias

    def _pack(self, codes: np.ndarray) -> torch.Tensor:  # uint8 [rows, K] -> packed [rows, K/2] (split: [rows, K])
        if self.split:  # q = 16 * hi + lo: [rows, K] -> [rows, 2K], groups hi then lo
            codes = np.concatenate([codes >> 4, codes & 0x0F], axis=1)
        return torch.ops.aten._convert_weight_to_int4pack_for_cpu(torch.from_numpy(codes.astype(np.int32)), INNER_K_TILES)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:  # [M, K] -> [M, N] in bfloat16 (float32 with a bias)
        x = x.to(self.dtype)
        if self.split:
            x = torch.cat([x, x], dim=-1)  # [M, 2K]
        y = torch.ops.aten._weight_int4pack_mm_for_cpu(x, self.packed, GROUP, self.scales_zeros)
        if y.shape[-1] != self.out_features:
            y = y[..., : self.out_features]
        return y if self.bias is None else y + self.bias


def concat_affine(parts: Sequence[GroupAffine]) -> GroupAffine | None:
    """Stack several weights along N so one op call computes them all; None if their bits differ."""
    if len({p.bits > 4 for p in parts}) != 1 or len({p.codes.shape[1] for p in parts}) != 1:
        return None
    return GroupAffine(
        codes=np.concatenate([p.codes for p in parts]),
        scale=np.concatenate([p.scale for p in parts]),
        offset=np.concatenate([p.offset for p in parts]),
        bits=max(p.bits for p in parts),
    )


def agreement(fast: torch.Tensor, reference: torch.Tensor) -> float:
    """Cosine similarity of two outputs, the self-test's measure."""
    return float(torch.nn.functional.cosine_similarity(fast.flatten().double(), reference.flatten().double(), dim=0))
