"""Linear layers over quantised weights on the CPU, without a float copy of the weights.

`GroupLinear` holds formats with one scale and offset per group of 32 (Q4_0, Q4_1, Q4_K, Q5_K, Q8_0) as
4- or 8-bit codes with float16 scales, and multiplies them with the kernel of kernels/_group_matmul.py,
float32 in and out, split by output columns over the kernels' threads (kernels/_kernel_jobs.py). GGUF's
own float16 scales make its weights those of the reference dequantisation. It is built from blocks of rows, so loading never holds
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
from kernels._kernel_jobs import product, threads
from kernels._quants import GROUP, GroupAffine

PACK_ROWS = 256  # a multiple of 16 (the kernel's column blocks): packing slices equals packing the whole
SPLIT_WORK = 2**18  # multiply-adds from which a product is split over the kernels' threads


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
    """Group-affine codes of up to 8 bits (`w = scale * code + offset`, groups of 32) as nibbles (up to 4 bits) or
    bytes, multiplied by the kernel of kernels/_group_matmul.py: float32 in, float32 out, a row's outputs the
    same in any batch."""

    def __init__(self, codes: torch.Tensor, scales: torch.Tensor, rows: int, cols: int, bits: int, bias: torch.Tensor | None = None) -> None:
        shapes = self.packed_shapes(rows, cols, bits)
        for name, tensor in (("codes", codes), ("scales", scales)):
            if (tuple(tensor.shape), tensor.dtype) != shapes[name]:
                raise ValueError(f"{name} is {tuple(tensor.shape)} {tensor.dtype}, expected {shapes[name]}")
        self.codes, self.scales = codes, scales  # uint8 [NB, G, 512 or 256 (nibbles)], float16 [NB, G, 2, 16]
        self.out_features, self.in_features, self.bits, self.bias = rows, cols, bits, bias
        self._weights = GroupWeights(codes.numpy(), scales.numpy().view(np.uint16))

    @classmethod
    def from_row_blocks(cls, blocks: Iterable[GroupAffine], rows: int, cols: int, bits: int, bias: torch.Tensor | None = None) -> GroupLinear:
        """A layer from consecutive blocks of PACK_ROWS rows (the last may be shorter), packed one at a time."""
        shapes = cls.packed_shapes(rows, cols, bits)
        codes, scales = torch.empty(shapes["codes"][0], dtype=torch.uint8), torch.empty(shapes["scales"][0], dtype=torch.float16)
        row = 0
        for block in blocks:
            count = block.codes.shape[0]
            if count != min(PACK_ROWS, rows - row) or block.codes.shape[1] != cols:
                raise ValueError(f"row block of {block.codes.shape} does not continue a [{rows}, {cols}] weight at row {row}")
            block_codes, block_scales = _group_pack(block, bits <= 4)
            first = row // LANES
            codes[first : first + len(block_codes)] = torch.from_numpy(block_codes)
            scales[first : first + len(block_scales)] = torch.from_numpy(block_scales.view(np.float16))
            row += count
        if row != rows:
            raise ValueError(f"row blocks cover {row} of {rows} rows")
        return cls(codes, scales, rows, cols, bits, bias)

    @staticmethod
    def packed_shapes(rows: int, cols: int, bits: int) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        """The shapes and dtypes of `codes` and `scales` for a [rows, cols] weight of `bits`-bit codes (nibbles up to 4)."""
        if cols % GROUP or not 1 <= bits <= 8:
            raise ValueError(f"a [{rows}, {cols}] weight of {bits}-bit codes has no group layout")
        blocks, groups = -(-rows // LANES), cols // GROUP
        return {"codes": ((blocks, groups, CODE_BYTES // 2 if bits <= 4 else CODE_BYTES), torch.uint8), "scales": ((blocks, groups, 2, LANES), torch.float16)}

    @property
    def words(self) -> tuple[int, ...]:
        """Its weight's words for compiled callers (`GroupWeights.words`); valid while the layer lives."""
        return self._weights.words

    def __call__(self, x: torch.Tensor) -> torch.Tensor:  # [M, K] -> float32 [M, N]
        x = x.detach()
        if x.dtype != torch.float32 or not x.is_contiguous():
            x = x.float().contiguous()
        blocks = self._weights.blocks
        parts = threads() if len(x) * blocks * LANES * self.in_features >= SPLIT_WORK else 1
        out = product(self._weights, x, parts)
        y = out if blocks * LANES == self.out_features else out[:, : self.out_features]
        return y if self.bias is None else y + self.bias

    def dequantized(self) -> torch.Tensor:  # float32 [N, K]
        codes = self._weights.codes
        if self.bits <= 4:  # [NB, G, 16 pairs, 16] -> [NB, G, 32, 16]
            pairs = codes.reshape(*codes.shape[:2], GROUP // 2, LANES)
            codes = np.concatenate([pairs & 0x0F, pairs >> 4], axis=2)
        by_k = codes.reshape(*codes.shape[:2], GROUP, LANES).astype(np.float32)  # [NB, G, 32, 16]
        scales = self.scales.numpy().astype(np.float32)  # [NB, G, 2, 16]
        weights = by_k * scales[:, :, :1] + scales[:, :, 1:]  # [NB, G, 32, 16]
        return torch.from_numpy(weights.transpose(0, 3, 1, 2).reshape(-1, self.in_features)[: self.out_features].copy())


def _group_pack(block: GroupAffine, nibbles: bool) -> tuple[np.ndarray, np.ndarray]:
    """One block of rows (padded to a multiple of 16) in the kernel's layout; float16 scales must stay finite."""
    codes, scale, offset = block.codes, block.scale, block.offset
    padding = -len(codes) % LANES
    if padding:
        codes = np.pad(codes, ((0, padding), (0, 0)))
        scale, offset = np.pad(scale, ((0, padding), (0, 0))), np.pad(offset, ((0, padding), (0, 0)))
    packed_codes, scales = group_pack(codes, scale, offset, nibbles)
    if not np.isfinite(scales.view(np.float16)).all():
        raise ValueError("a scale or offset does not fit float16")
    return packed_codes, scales


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
