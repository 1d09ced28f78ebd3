"""Turning the tensors of a GGUF file into the layers the forward uses.

Weights are converted a block of rows at a time straight from the memory-mapped file, and each
tensor's mapped pages are dropped once it is converted, so loading never holds a float copy of a
weight or a second copy of the model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import torch
from gguf import GGML_QUANT_SIZES
from gguf import GGMLQuantizationType as Q

from kernels._errors import ModelFileError
from kernels._gguf_file import GGUFFile
from kernels._heap import return_freed_memory
from kernels._packed_cache import PackedCache
from kernels._linear import (
    PACK_ROWS,
    DenseLinear,
    DequantLinear,
    GroupLinear,
    Int8Linear,
    agreement,
    concat_affine,
    requantize_int8,
)
from kernels._quants import AFFINE_BITS, GroupAffine, dequantize, group_affine

Linear = DenseLinear | DequantLinear | GroupLinear | Int8Linear
LinearMode = Literal["fused", "fallback"]
SELF_TEST_COSINE = 0.999
SELF_TEST_ROWS = 256
HALF_TYPES = (Q.F16, Q.BF16)


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
    """Several weights computed side by side (one layer when their formats allow); `sizes` splits the output."""

    parts: tuple[Linear, ...]
    sizes: tuple[int, ...]

    @cached_property
    def input_dtype(self) -> torch.dtype:
        """The dtype the layer computes its input in: an input made in it is converted by nobody."""
        dtypes = {_input_dtype(part) for part in self.parts}
        return dtypes.pop() if len(dtypes) == 1 else torch.float32

    def whole(self, x: torch.Tensor) -> torch.Tensor:  # [M, K] -> [M, sum(sizes)]
        if len(self.parts) == 1:
            return self.parts[0](x)
        outputs = [part(x) for part in self.parts]
        dtype = torch.float32 if any(o.dtype == torch.float32 for o in outputs) else outputs[0].dtype
        return torch.cat([o.to(dtype) for o in outputs], dim=-1)

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.whole(x).split(self.sizes, dim=-1)

    def dequantized(self) -> torch.Tensor:  # float32 [sum(sizes), K]
        return torch.cat([part.dequantized() for part in self.parts])


def _input_dtype(layer: Linear) -> torch.dtype:
    if isinstance(layer, Int8Linear):
        return torch.bfloat16
    if isinstance(layer, DenseLinear):
        return layer.weight.dtype
    return torch.float32  # float32 is never narrower than what a layer computes in


class OutputHead:
    """The output layer: every logit from the fast layer, the few near each row's top recomputed in float32.

    A fast layer that returns bfloat16 (a step of 0.125 at a logit of 25; Q6_K's int8 op) ties or swaps
    the top tokens often enough to change greedy text. Logits within `margin` of a row's largest are
    then recomputed from the file's rows (dequantised exactly) and the float32 input, so the top
    choices equal those of the float model's head on the same hidden state. Layers that sum in
    float32 (the group kernel, float weights) need no second look.
    """

    RELATIVE_MARGIN = 2.0**-5  # of the row's largest |logit|; the fast logits err by < 1% of it
    ABSOLUTE_MARGIN = 0.25
    MOST_REFINED = 64  # per row

    def __init__(self, fast: LinearGroup, rows: Embedding) -> None:
        self.fast = fast
        self.rows = rows
        self.sizes = fast.sizes

    def whole(self, x: torch.Tensor) -> torch.Tensor:  # float32 [T, H] -> float32 [T, V]
        logits = self.fast.whole(x)
        if logits.dtype == torch.float32:  # float32 sums of the file's own weights: nothing to refine
            return logits
        logits = logits.float()
        top = logits.amax(dim=-1, keepdim=True)  # [T, 1] (amax: a tenth of max()'s time, which also finds indices)
        near = logits >= top - (top.abs() * self.RELATIVE_MARGIN + self.ABSOLUTE_MARGIN)  # [T, V]
        rows, tokens = near.nonzero(as_tuple=True)  # [C] each
        if len(rows) > self.MOST_REFINED and int(torch.bincount(rows).max()) > self.MOST_REFINED:
            near = torch.zeros_like(near).scatter_(-1, logits.topk(self.MOST_REFINED, dim=-1).indices, True)
            rows, tokens = near.nonzero(as_tuple=True)
        weights = self.rows(tokens.tolist())  # float32 [C, H]
        logits[rows, tokens] = torch.linalg.vecdot(weights, x[rows].float())
        return logits

    def dequantized(self) -> torch.Tensor:
        return self.fast.dequantized()


@dataclass(frozen=True)
class _Source:
    """One weight of a group: its rows in the order the layer wants them (`order`, or file order)."""

    name: str
    rows: int
    cols: int
    qtype: Q
    order: np.ndarray | None


class WeightLoader:
    def __init__(self, file: GGUFFile, mode: LinearMode) -> None:
        self.file = file
        self.mode = mode
        self.checked: set[str] = set()
        self.fallback_reason = ""
        self.packed = PackedCache.for_file(file.path) if mode == "fused" else None  # None: pack every time

    def require(self, name: str, shape: tuple[int, ...]) -> None:
        info = self.file.tensors.get(name)
        if info is None:
            raise ModelFileError(self.file.path, f"tensor {name!r} is missing")
        if info.shape != shape and not (len(shape) == 1 and info.n_elements == shape[0]):
            raise ModelFileError(self.file.path, f"tensor {name!r} has shape {info.shape}, expected {shape}")

    def vector(self, name: str, size: int, order: np.ndarray | None = None) -> torch.Tensor:
        self.require(name, (size,))
        info = self.file.tensors[name]
        values = dequantize(self.file.tensor_bytes(name), info.qtype, (size,))
        return torch.from_numpy(values[order] if order is not None else values.copy())

    def linear(self, names: Sequence[str], shapes: Sequence[tuple[int, int]], bias: Sequence[str] = (),
               orders: Sequence[np.ndarray | None] | None = None) -> LinearGroup:  # fmt: skip
        """The weights `names` (each [N_i, K]) as one layer computing their outputs side by side.

        `orders[i]`, when given, lists the rows of weight i (and its bias) in the order to compute them.
        """
        orders = list(orders) if orders is not None else [None] * len(names)
        sources = []
        for name, shape, order in zip(names, shapes, orders, strict=True):
            self.require(name, shape)
            sources.append(_Source(name, shape[0], shape[1], self.file.tensors[name].qtype, order))
        bias_vector = torch.cat([self.vector(b, s.rows, s.order) for b, s in zip(bias, sources, strict=True)]) if bias else None
        parts: list[Linear] = []
        row = 0
        for run in _runs(sources):
            count = sum(s.rows for s in run)
            part_bias = None if bias_vector is None else bias_vector[row : row + count]
            parts.append(self._layer(run, part_bias))
            row += count
            for source in run:
                self.file.release_pages(source.name)
        return_freed_memory()
        return LinearGroup(tuple(parts), tuple(s.rows for s in sources))

    def _layer(self, run: list[_Source], bias: torch.Tensor | None) -> Linear:
        first = run[0]
        if first.qtype in AFFINE_BITS:
            rows, cols = sum(s.rows for s in run), first.cols
            if self.mode == "fused":
                bits = max(AFFINE_BITS[s.qtype] for s in run)
                fast = self._self_tested(
                    "group" if bits > 4 else "group4",
                    build=lambda: self._grouped(run, rows, cols, bits, bias),
                    reference=lambda: DequantLinear(next(self._affine_blocks(run))),  # the first rows
                )
                if fast is not None:
                    return fast
            affine = concat_affine(list(self._affine_blocks(run)))
            assert affine is not None  # a run holds one kind of code
            return DequantLinear(affine, bias)
        (source,) = run  # other formats are converted one tensor at a time
        if source.qtype == Q.Q6_K and self.mode == "fused":
            fast = self._self_tested(
                "int8",
                build=lambda: self._int8(source, bias),
                reference=lambda: DenseLinear(torch.from_numpy(next(self._dense_rows(source)))),  # the first rows
            )
            if fast is not None:
                return fast
        dtype = torch.bfloat16 if source.qtype in HALF_TYPES and self.mode == "fused" else torch.float32
        layer = self._dense(source, dtype)
        return DenseLinear(layer.weight, bias)

    def _rows(self, source: _Source, start: int, stop: int) -> tuple[np.ndarray, tuple[int, int]]:
        """The raw bytes of rows start..stop of `source` (in its order), flat, and their shape."""
        info = self.file.tensors[source.name]
        raw = self.file.tensor_bytes(source.name).reshape(source.rows, -1)
        if source.order is not None:
            return raw[source.order[start:stop]].reshape(-1), (stop - start, info.shape[-1])
        picked = raw[start:stop].copy()
        self.file.release_pages(source.name, (start, stop))  # read once: the pages may go
        return picked.reshape(-1), (stop - start, info.shape[-1])

    def _affine_blocks(self, run: list[_Source]) -> Iterator[GroupAffine]:
        """The group-affine form of the run's rows stacked, PACK_ROWS rows at a time."""
        bounds = np.cumsum([0] + [s.rows for s in run])
        for begin in range(0, int(bounds[-1]), PACK_ROWS):
            end = min(begin + PACK_ROWS, int(bounds[-1]))
            pieces = []
            for source, low, high in zip(run, bounds[:-1], bounds[1:], strict=True):
                start, stop = max(begin, low) - low, min(end, high) - low
                if start < stop:
                    raw, shape = self._rows(source, int(start), int(stop))
                    pieces.append(group_affine(raw, source.qtype, shape))
            block = pieces[0] if len(pieces) == 1 else concat_affine(pieces)
            assert block is not None
            yield block

    def _dense_rows(self, source: _Source) -> Iterator[np.ndarray]:  # float32 [<= PACK_ROWS, K] blocks
        for start in range(0, source.rows, PACK_ROWS):
            raw, shape = self._rows(source, start, min(start + PACK_ROWS, source.rows))
            yield dequantize(raw, source.qtype, shape)

    def _dense(self, source: _Source, dtype: torch.dtype) -> DenseLinear:
        weight = torch.empty(source.rows, source.cols, dtype=dtype)
        for start, values in zip(range(0, source.rows, PACK_ROWS), self._dense_rows(source)):
            weight[start : start + len(values)] = torch.from_numpy(values)
        return DenseLinear(weight)

    def _grouped(self, run: list[_Source], rows: int, cols: int, bits: int, bias: torch.Tensor | None) -> GroupLinear:
        """Packed in the group kernel's layout from the file, or read back from the packed cache when an earlier load packed it."""
        key = _cache_key(run, "group")
        stored = self.packed.load(key, GroupLinear.packed_shapes(rows, cols, bits)) if self.packed else None
        if stored is not None:
            return GroupLinear(stored["codes"], stored["scales"], rows, cols, bits, bias)
        layer = GroupLinear.from_row_blocks(self._affine_blocks(run), rows, cols, bits, bias)
        if self.packed is not None:
            self.packed.store(key, {"codes": layer.codes, "scales": layer.scales})
        return layer

    def _int8(self, source: _Source, bias: torch.Tensor | None) -> Int8Linear:
        key = _cache_key([source], "int8")
        shapes = {"codes": ((source.rows, source.cols), torch.int8), "scale": ((source.rows,), torch.bfloat16)}
        stored = self.packed.load(key, shapes) if self.packed else None
        if stored is not None:
            return Int8Linear(stored["codes"], stored["scale"], bias)
        layer = self._requantized_int8(source, bias)
        if self.packed is not None:
            self.packed.store(key, {"codes": layer.codes, "scale": layer.scale})
        return layer

    def _requantized_int8(self, source: _Source, bias: torch.Tensor | None) -> Int8Linear:
        codes = torch.empty(source.rows, source.cols, dtype=torch.int8)
        scale = torch.empty(source.rows)
        for start, values in zip(range(0, source.rows, PACK_ROWS), self._dense_rows(source)):
            block_codes, block_scale = requantize_int8(values)
            codes[start : start + len(values)] = torch.from_numpy(block_codes)
            scale[start : start + len(values)] = torch.from_numpy(block_scale)
        return Int8Linear(codes, scale, bias)

    def _self_tested(self, kind: str, build: Callable[[], Linear], reference: Callable[[], Linear]) -> Linear | None:
        """The fast layer, self-tested against the reference the first time each kind is built.

        A missing op or a disagreement switches the whole model to the fallback (and says why).
        The test covers the first rows only: it must not cost a float copy of a weight.
        """
        try:
            fast = build()
            if kind not in self.checked:
                slow = reference()  # the first rows only, without the bias
                rows = min(SELF_TEST_ROWS, slow.out_features)
                x = torch.randn(3, fast.in_features, generator=torch.Generator().manual_seed(0))  # [3, K]
                got = fast(x)[:, :rows].float()
                if fast.bias is not None:
                    got = got - fast.bias[:rows]
                score = agreement(got, slow(x)[:, :rows].float())
                if not score >= SELF_TEST_COSINE:
                    raise ValueError(f"the fused {kind} op disagrees with the fallback (cosine {score:.5f})")
                self.checked.add(kind)
            return fast
        except (RuntimeError, AttributeError, NotImplementedError, ValueError) as error:
            self.mode = "fallback"
            self.fallback_reason = str(error)
            return None


def _cache_key(run: list[_Source], kind: str) -> str:
    """What a layer's packed tensors depend on: its weights, their formats, shapes and row orders."""
    parts = [kind]
    for s in run:
        order = "" if s.order is None else hashlib.sha256(np.ascontiguousarray(s.order, dtype=np.int64).tobytes()).hexdigest()[:16]
        parts.append(f"{s.name}:{int(s.qtype)}:{s.rows}x{s.cols}:{order}")
    return "|".join(parts)


def _runs(sources: list[_Source]) -> Iterator[list[_Source]]:
    """Consecutive sources one layer can compute together: group-affine codes of one width class and K."""
    run: list[_Source] = []
    for source in sources:
        if run and _joinable(run[-1], source):
            run.append(source)
            continue
        if run:
            yield run
        run = [source]
    if run:
        yield run


def _joinable(a: _Source, b: _Source) -> bool:
    return (a.qtype in AFFINE_BITS and b.qtype in AFFINE_BITS and a.cols == b.cols
            and (AFFINE_BITS[a.qtype] > 4) == (AFFINE_BITS[b.qtype] > 4))  # fmt: skip
