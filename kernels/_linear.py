"""Linear layers over quantised weights on the CPU, without a float copy of the weights.

`GroupLinear` holds formats with one scale and offset per group of 32 (Q4_0, Q4_1, Q4_K, Q5_K, Q8_0) as
4- or 8-bit codes with float16 scales, and multiplies them with the kernel of kernels/_group_matmul.py,
float32 in and out, split over the torch threads by output columns. GGUF's own float16 scales make its
weights those of the reference dequantisation. It is built from blocks of rows, so loading never holds
more than one block's temporaries. (It replaced PyTorch's `_weight_int4pack_mm_for_cpu`, which
dequantised again for every four rows of input: bench/RESULTS.md, Session 8.)

`Int8Linear` runs `_weight_int8pack_mm` (int8 codes, one scale per output row) for Q6_K, whose
groups of 16 the group layout cannot express: each row is requantised to int8 against its largest
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

from kernels._group_matmul import CODE_BYTES, LANES, GroupWeights
from kernels._group_matmul import pack as group_pack
from kernels._quants import GROUP, GroupAffine

INNER_K_TILES = 2
N_MULTIPLE = 16
PACK_ROWS = 256  # a multiple of 16 (the ops' row tiles): packing slices equals packing the whole
SPLIT_WORK = 2**18  # multiply-adds from which a product is split over the torch threads


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


class GroupLinear:
    """Group-affine codes of up to 8 bits (`w = scale * code + offset`, groups of 32) as bytes, multiplied by the
    kernel of kernels/_group_matmul.py: float32 in, float32 out, a row's outputs the same in any batch."""

    def __init__(self, codes: torch.Tensor, scales: torch.Tensor, rows: int, cols: int, bias: torch.Tensor | None = None) -> None:
        shapes = self.packed_shapes(rows, cols)
        for name, tensor in (("codes", codes), ("scales", scales)):
            if (tuple(tensor.shape), tensor.dtype) != shapes[name]:
                raise ValueError(f"{name} is {tuple(tensor.shape)} {tensor.dtype}, expected {shapes[name]}")
        self.codes, self.scales = codes, scales  # uint8 [NB, G, 512], float16 [NB, G, 2, 16]
        self.out_features, self.in_features, self.bias = rows, cols, bias
        self._weights = GroupWeights(codes.numpy(), scales.numpy().view(np.uint16))

    @classmethod
    def from_row_blocks(cls, blocks: Iterable[GroupAffine], rows: int, cols: int, bias: torch.Tensor | None = None) -> GroupLinear:
        """A layer from consecutive blocks of PACK_ROWS rows (the last may be shorter), packed one at a time."""
        shapes = cls.packed_shapes(rows, cols)
        codes, scales = torch.empty(shapes["codes"][0], dtype=torch.uint8), torch.empty(shapes["scales"][0], dtype=torch.float16)
        row = 0
        for block in blocks:
            count = block.codes.shape[0]
            if count != min(PACK_ROWS, rows - row) or block.codes.shape[1] != cols:
                raise ValueError(f"row block of {block.codes.shape} does not continue a [{rows}, {cols}] weight at row {row}")
            block_codes, block_scales = _group_pack(block)
            first = row // LANES
            codes[first : first + len(block_codes)] = torch.from_numpy(block_codes)
            scales[first : first + len(block_scales)] = torch.from_numpy(block_scales.view(np.float16))
            row += count
        if row != rows:
            raise ValueError(f"row blocks cover {row} of {rows} rows")
        return cls(codes, scales, rows, cols, bias)

    @staticmethod
    def packed_shapes(rows: int, cols: int) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        """The shapes and dtypes of `codes` and `scales` for a [rows, cols] weight."""
        if cols % GROUP:
            raise ValueError(f"a weight of {cols} columns has no groups of {GROUP}")
        blocks, groups = -(-rows // LANES), cols // GROUP
        return {"codes": ((blocks, groups, CODE_BYTES), torch.uint8), "scales": ((blocks, groups, 2, LANES), torch.float16)}

    def __call__(self, x: torch.Tensor) -> torch.Tensor:  # [M, K] -> float32 [M, N]
        x = x.detach()
        if x.dtype != torch.float32 or not x.is_contiguous():
            x = x.float().contiguous()
        blocks = self._weights.blocks
        parts = torch.get_num_threads() if len(x) * blocks * LANES * self.in_features >= SPLIT_WORK else 1
        out = self._weights.product(x, parts)
        y = out if blocks * LANES == self.out_features else out[:, : self.out_features]
        return y if self.bias is None else y + self.bias

    def dequantized(self) -> torch.Tensor:  # float32 [N, K]
        by_k = self._weights.codes.reshape(*self.codes.shape[:2], GROUP, LANES).astype(np.float32)  # [NB, G, 32, 16]
        scales = self.scales.numpy().astype(np.float32)  # [NB, G, 2, 16]
        weights = by_k * scales[:, :, :1] + scales[:, :, 1:]  # [NB, G, 32, 16]
        return torch.from_numpy(weights.transpose(0, 3, 1, 2).reshape(-1, self.in_features)[: self.out_features].copy())


def _group_pack(block: GroupAffine) -> tuple[np.ndarray, np.ndarray]:
    """One block of rows (padded to a multiple of 16) in the kernel's layout; float16 scales must stay finite."""
    codes, scale, offset = block.codes, block.scale, block.offset
    padding = -len(codes) % LANES
    if padding:
        codes = np.pad(codes, ((0, padding), (0, 0)))
        scale, offset = np.pad(scale, ((0, padding), (0, 0))), np.pad(offset, ((0, padding), (0, 0)))
    packed_codes, scales = group_pack(codes, scale, offset)
    if not np.isfinite(scales.view(np.float16)).all():
        raise ValueError("a scale or offset does not fit float16")
    return packed_codes, scales


class Int4PackedLinear:
    """Codes of up to 4 bits through PyTorch's `_weight_int4pack_mm_for_cpu` (bfloat16 in and out)."""

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
        if bits > 4:
            raise ValueError(f"the int4 op takes codes of up to 4 bits, not {bits}")
        padded = rows + (-rows % N_MULTIPLE)  # the op packs rows in tiles of 16: zero rows fill the last
        return {"packed": ((padded, cols // 2), torch.uint8), "scales_zeros": ((cols // GROUP, padded, 2), dtype)}

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
        layer.dtype, layer.bias = scales_zeros.dtype, bias
        layer.packed, layer.scales_zeros = packed, scales_zeros
        return layer

    def _build(self, blocks: Iterable[GroupAffine], rows: int, cols: int, bits: int, bias: torch.Tensor | None, dtype: torch.dtype) -> None:
        shapes = self.packed_shapes(rows, cols, bits, dtype)
        self.out_features, self.in_features = rows, cols
        self.dtype = dtype
        self.bias = bias
        padded = shapes["packed"][0][0]
        self.packed: torch.Tensor | None = None
        self.scales_zeros = torch.zeros(shapes["scales_zeros"][0], dtype=dtype)  # [K/32, N, 2]: (scale, zero)
        row = 0
        for block in blocks:
            count = block.codes.shape[0]
            if count != min(PACK_ROWS, rows - row) or block.codes.shape[1] != cols:
                raise ValueError(f"row block of {block.codes.shape} does not continue a [{rows}, {cols}] weight at row {row}")
            self.scales_zeros[:, row : row + count, 0] = torch.from_numpy(block.scale).t()
            self.scales_zeros[:, row : row + count, 1] = torch.from_numpy(block.offset + 8 * block.scale).t()
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

    @staticmethod
    def _pack(codes: np.ndarray) -> torch.Tensor:  # uint8 [rows, K] -> packed [rows, K/2]
        return torch.ops.aten._convert_weight_to_int4pack_for_cpu(torch.from_numpy(codes.astype(np.int32)), INNER_K_TILES)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:  # [M, K] -> [M, N] in bfloat16 (float32 with a bias)
        x = x.to(self.dtype)
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
