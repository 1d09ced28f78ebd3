"""Turning the tensors of a GGUF file into the layers the forward uses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from gguf import GGML_QUANT_SIZES

from kernels._errors import ModelFileError
from kernels._gguf_file import GGUFFile
from kernels._linear import DenseLinear, DequantLinear, Int4PackedLinear, agreement, concat_affine
from kernels._quants import GroupAffine, dequantize, group_affine

Linear = DenseLinear | DequantLinear | Int4PackedLinear
LinearMode = Literal["fused", "fallback"]
SELF_TEST_COSINE = 0.999
SELF_TEST_ROWS = 256


class Embedding:
    """Token embeddings, dequantised row by row from the memory-mapped file when looked up."""

    def __init__(self, file: GGUFFile, name: str) -> None:
        info = file.tensors[name]
        self.rows, self.dim = info.shape
        self.qtype = info.qtype
        block, type_size = GGML_QUANT_SIZES[info.qtype]
        self.row_bytes = self.dim // block * type_size
        self.raw = file.tensor_bytes(name).reshape(self.rows, self.row_bytes)

    def __call__(self, token_ids: Sequence[int]) -> torch.Tensor:  # -> [T, H]
        rows = self.raw[np.asarray(token_ids, dtype=np.int64)]
        return torch.from_numpy(dequantize(rows.reshape(-1), self.qtype, (len(token_ids), self.dim)))


@dataclass(frozen=True)
class LinearGroup:
    """One linear layer computing several weights at once; `sizes` splits its output."""

    linear: Linear
    sizes: tuple[int, ...]

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.linear(x).split(self.sizes, dim=-1)


class WeightLoader:
    def __init__(self, file: GGUFFile, mode: LinearMode) -> None:
        self.file = file
        self.mode = mode
        self.checked: set[bool] = set()
        self.fallback_reason = ""

    def require(self, name: str, shape: tuple[int, ...]) -> None:
        info = self.file.tensors.get(name)
        if info is None:
            raise ModelFileError(self.file.path, f"tensor {name!r} is missing")
        if info.shape != shape and not (len(shape) == 1 and info.n_elements == shape[0]):
            raise ModelFileError(self.file.path, f"tensor {name!r} has shape {info.shape}, expected {shape}")

    def vector(self, name: str, size: int) -> torch.Tensor:
        self.require(name, (size,))
        info = self.file.tensors[name]
        values = dequantize(self.file.tensor_bytes(name), info.qtype, (size,))
        return torch.from_numpy(values.copy())

    def linear(self, names: Sequence[str], shapes: Sequence[tuple[int, int]], bias: Sequence[str] = ()) -> LinearGroup:
        """The weights `names` (each [N_i, K]) as one layer computing their outputs side by side."""
        for name, shape in zip(names, shapes, strict=True):
            self.require(name, shape)
        bias_vector = torch.cat([self.vector(b, s[0]) for b, s in zip(bias, shapes, strict=True)]) if bias else None
        sizes = tuple(s[0] for s in shapes)
        affines = [group_affine(self.file.tensor_bytes(n), self.file.tensors[n].qtype, s) for n, s in zip(names, shapes, strict=True)]
        combined = concat_affine(affines) if all(a is not None for a in affines) else None  # type: ignore[arg-type]
        if combined is not None and "token_embd.weight" not in names:  # embeddings are still read row by row
            for name in names:
                self.file.release_pages(name)
        if combined is None:
            dense = [dequantize(self.file.tensor_bytes(n), self.file.tensors[n].qtype, s) for n, s in zip(names, shapes, strict=True)]
            return LinearGroup(DenseLinear(torch.from_numpy(np.concatenate(dense)), bias_vector), sizes)
        if self.mode == "fused":
            fused = self._fused_or_none(combined, bias_vector)
            if fused is not None:
                return LinearGroup(fused, sizes)
        return LinearGroup(DequantLinear(combined, bias_vector), sizes)

    def _fused_or_none(self, affine: GroupAffine, bias: torch.Tensor | None) -> Int4PackedLinear | None:
        """The fused layer, self-tested against the fallback the first time each kind is built.

        A missing op or a disagreement switches the whole model to the fallback (and says why).
        """
        kind = affine.bits > 4
        try:
            fused = Int4PackedLinear(affine, bias)
            if kind not in self.checked:  # on the first rows only: the check must not cost a float copy
                rows = min(SELF_TEST_ROWS, affine.codes.shape[0])
                sample = GroupAffine(affine.codes[:rows], affine.scale[:rows], affine.offset[:rows], affine.bits)
                x = torch.randn(3, affine.codes.shape[1], generator=torch.Generator().manual_seed(0))  # [3, K]
                score = agreement(fused(x)[:, :rows], DequantLinear(sample)(x) + (0 if bias is None else bias[:rows]))
                if not score >= SELF_TEST_COSINE:
                    raise ValueError(f"the fused int4 op disagrees with the fallback (cosine {score:.5f})")
                self.checked.add(kind)
            return fused
        except (RuntimeError, AttributeError, NotImplementedError, ValueError) as error:
            self.mode = "fallback"
            self.fallback_reason = str(error)
            return None
