"""Linear layers over quantised weights on the CPU, without a float copy of the weights.

`Int4PackedLinear` runs PyTorch's weight-only int4 matmul (`_weight_int4pack_mm_for_cpu`,
groups of 32). Four-bit formats map onto it directly: the op computes `(q - 8) * s + z`, so a
group `w = scale * q + offset` becomes `s = scale, z = offset + 8 * scale`. Wider codes (Q8_0,
Q5_K) are split into two nibbles, `q = 16 * hi + lo`, laid side by side along K; the input is
repeated to match, so one op call still computes the whole product. The op takes bfloat16
scales (its float32 form is exact but about 10x slower), so scales and zeros are chosen to lose as
little as possible when rounded to bfloat16. It is built from blocks of rows, so loading never
holds more than one block's temporaries.

`Int8Linear` runs `_weight_int8pack_mm` (int8 codes, one scale per output row) for Q6_K, whose
groups of 16 the int4 op cannot express: each row is requantised to int8 against its largest
value (error at most 1/254 of the row's largest weight, about a quarter of Q6_K's own step).

`DenseLinear` holds float weights: float32 for F32 tensors, bfloat16 for F16 and BF16 ones (the
width the fused ops compute in). `DequantLinear` is the plain fallback: it dequantises its codes
on every call.

Every layer maps [M, K] inputs of any float dtype to [M, N] outputs, bfloat16 or float32.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch

from kernels._quants import GROUP, GroupAffine

INNER_K_TILES = 2
N_MULTIPLE = 16
PACK_ROWS = 256  # a multiple of the op's row tiles: packing slices equals packing the whole


class DenseLinear:
    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None = None) -> None:
        self.weight = weight.contiguous()  # [N, K], float32 or bfloat16
        self.bias = bias  # float32 [N]
        self.out_features, self.in_features = self.weight.shape

    def __call__(self, x: torch.Tensor) -> torch.Tensor:  # [M, K] -> [M, N]
        y = torch.nn.functional.linear(x.to(self.weight.dtype), self.weight)
        return y if self.bias is None else y + self.bias

    def dequantized(self) -> torch.Tensor:
        return self.weight.float()


class Int8Linear:
    """int8 codes with one scale per output row: `w[n, k] = scale[n] * codes[n, k]`."""

    def __init__(self, codes: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None = None) -> None:
        self.codes = codes.contiguous()  # int8 [N, K]
        self.scale = scale.to(torch.bfloat16).contiguous()  # [N]
        self.bias = bias
        self.out_features, self.in_features = self.codes.shape

    def __call__(self, x: torch.Tensor) -> torch.Tensor:  # [M, K] -> [M, N] in bfloat16 (float32 with a bias)
        y = torch.ops.aten._weight_int8pack_mm(x.to(torch.bfloat16), self.codes, self.scale)
        return y if self.bias is None else y + self.bias

    def dequantized(self) -> torch.Tensor:
        return self.codes.float() * self.scale.float()[:, None]


def requantize_int8(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float32 [N, K] -> (int8 codes [N, K], float32 scale [N]), symmetric per row."""
    largest = np.abs(values).max(axis=1)  # [N]
    scale = np.where(largest > 0, largest / 127.0, 1.0).astype(np.float32)
    codes = np.clip(np.rint(values / scale[:, None]), -127, 127).astype(np.int8)
    return codes, scale


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
        return torch.nn.functional.linear(x.float(), self.dequantized(), self.bias)


class Int4PackedLinear:
    def __init__(self, affine: GroupAffine, bias: torch.Tensor | None = None, dtype: torch.dtype = torch.bfloat16) -> None:
        rows, cols = affine.codes.shape
        blocks = (slice_affine(affine, row, row + PACK_ROWS) for row in range(0, rows, PACK_ROWS))
        self._build(blocks, rows, cols, affine.bits, bias, dtype)

    @classmethod
    def from_row_blocks(cls, blocks: Iterable[GroupAffine], rows: int, cols: int, bits: int,
                        bias: torch.Tensor | None = None, dtype: torch.dtype = torch.bfloat16) -> Int4PackedLinear:  # fmt: skip
        """A layer from consecutive blocks of PACK_ROWS rows (the last may be shorter), packed one at a time."""
        layer = cls.__new__(cls)
        layer._build(blocks, rows, cols, bits, bias, dtype)
        return layer

    @staticmethod
    def packed_shapes(rows: int, cols: int, bits: int, dtype: torch.dtype = torch.bfloat16) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        """The shapes and dtypes of `packed` and `scales_zeros` for a [rows, cols] weight of `bits`-bit codes."""
        padded = rows + (-rows % N_MULTIPLE)  # the op packs rows in tiles of 16: zero rows fill the last
        width = 2 * cols if bits > 4 else cols  # K as the op sees it
        return {"packed": ((padded, width // 2), torch.uint8), "scales_zeros": ((width // GROUP, padded, 2), dtype)}

    @classmethod
    def from_packed(cls, packed: torch.Tensor, scales_zeros: torch.Tensor, rows: int, cols: int, bits: int,
                    bias: torch.Tensor | None = None) -> Int4PackedLinear:  # fmt: skip
        """A layer from tensors an earlier layer of the same weight packed (kernels/_packed_cache.py)."""
        shapes = cls.packed_shapes(rows, cols, bits, scales_zeros.dtype)
        for name, tensor in (("packed", packed), ("scales_zeros", scales_zeros)):
            if (tuple(tensor.shape), tensor.dtype) != shapes[name]:
                raise ValueError(f"{name} is {tuple(tensor.shape)} {tensor.dtype}, expected {shapes[name]}")
        layer = cls.__new__(cls)
        layer.out_features, layer.in_features = rows, cols
        layer.split, layer.dtype, layer.bias = bits > 4, scales_zeros.dtype, bias
        layer.packed, layer.scales_zeros = packed, scales_zeros
        return layer

    def _build(self, blocks: Iterable[GroupAffine], rows: int, cols: int, bits: int, bias: torch.Tensor | None, dtype: torch.dtype) -> None:
        self.out_features, self.in_features = rows, cols
        self.split = bits > 4
        self.dtype = dtype
        self.bias = bias
        padded = rows + (-rows % N_MULTIPLE)  # the op packs rows in tiles of 16: zero rows fill the last
        width = 2 * cols if self.split else cols  # K as the op sees it
        self.packed: torch.Tensor | None = None
        self.scales_zeros = torch.zeros(width // GROUP, padded, 2, dtype=dtype)  # [K'/32, N, 2]: (scale, zero)
        row = 0
        for block in blocks:
            count = block.codes.shape[0]
            if count != min(PACK_ROWS, rows - row) or block.codes.shape[1] != cols:
                raise ValueError(f"row block of {block.codes.shape} does not continue a [{rows}, {cols}] weight at row {row}")
            scale, offset = self._scales_zeros(block)
            self.scales_zeros[:, row : row + count, 0] = torch.from_numpy(scale).t()
            self.scales_zeros[:, row : row + count, 1] = torch.from_numpy(offset).t()
            codes = block.codes
            if row + count == rows and padded > rows:
                codes = np.pad(codes, ((0, padded - rows), (0, 0)))
            packed = self._pack(codes)
            if self.packed is None:
                self.packed = torch.empty((padded, *packed.shape[1:]), dtype=packed.dtype)
            self.packed[row : row + packed.shape[0]] = packed
            row += count
        if row != rows or self.packed is None:
            raise ValueError(f"row blocks cover {row} of {rows} rows")

    def _scales_zeros(self, block: GroupAffine) -> tuple[np.ndarray, np.ndarray]:  # -> [n, K'/32] each
        scale, offset = block.scale, block.offset
        if self.split:
            # hi: (h - 8) * 16s + (128s + offset) = 16s * h + offset; lo: (l - 8) * s + 8s = s * l.
            # For Q8_0 (offset = -128s) both zeros are power-of-two multiples of s: no extra rounding.
            return np.concatenate([16 * scale, scale], axis=1), np.concatenate([128 * scale + offset, 8 * scale], axis=1)
        return scale, offset + 8 * scale

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


def slice_affine(affine: GroupAffine, start: int, stop: int) -> GroupAffine:
    return GroupAffine(affine.codes[start:stop], affine.scale[start:stop], affine.offset[start:stop], affine.bits)


def concat_affine(parts: Sequence[GroupAffine]) -> GroupAffine | None:
    """Stack several weights along N so one op call computes them all; None if their widths differ."""
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
