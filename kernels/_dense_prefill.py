"""Prompt rows as float32 GEMMs over weights dequantised a block of output rows at a time.

The fused int4 op unpacks the weight again for every few rows, so it is compute-bound for a
prefill chunk; a float32 GEMM (MKL) on the dequantised weight costs about half as much per row.
A layer's weight is never held as floats: up to SCRATCH_FLOATS of it at a time (a block of output
rows) is dequantised into a scratch buffer (one per thread, reused) as [b, K, 64] column blocks,
and the rows are multiplied by it with batched GEMMs. The dequantisation (torch ops, ~2 ns a
weight here) is paid once per call whatever the number of rows: `LlamaModel.dense_prefill`
says whether prompt rows take this path.

Row invariance: the input rows are zero-padded to whole tiles of TILE_ROWS, and every GEMM of a
layer has the same shape ([b, TILE_ROWS, K] x [b, K, 64], the blocks fixed by the layer), so a
row's output does not depend on how many rows, or which, are computed with it. That holds when
the BLAS kernel a shape gets sums every element of a tile in the same order:
`tiles_are_row_invariant` checks it once per shape on this machine, and a layer whose shape fails
keeps the fused op (itself row-invariant). MERGED_ROWS rows go in one call where
`tiles_merge_exactly` finds that this gives each row the bits of the tile calls.

The int4 op's CPU layout (`_convert_weight_to_int4pack_for_cpu`, inner_k_tiles 2) is read directly:
rows in blocks of 64, each [K, 32] bytes with row j in the low nibble and row j + 32 in the high
one; a last block of r < 64 rows (r a multiple of 16) is [K, r/2] bytes, row 2j low, 2j + 1 high.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass

import torch

from kernels._quants import GROUP

TILE_ROWS = 16  # input rows per GEMM call: a short prefill pays for whole tiles
MERGED_ROWS = 256  # rows of one call where it gives each row the bits of 16 tile calls (~1.5x faster)
SCRATCH_FLOATS = 1 << 19  # 2 MiB of float32 per thread for a block of dequantised weights
COLUMNS = 64  # output columns per batched GEMM, rows per block of the int4 op's CPU layout

BlockSource = Callable[[int, int, torch.Tensor], torch.Tensor]
"""(start, stop, scratch) -> float32 [b, K, c], the weight's rows start..stop as b column blocks:
c = 64 (stop - start = 64 b), or one block of the last rows of a weight (stop - start < 64)."""


@dataclass(frozen=True)
class RowSplit:
    """The rows of a batch computed densely (prompt tokens) and by the fused op (the rest)."""

    dense: torch.Tensor  # long [Md]
    fused: torch.Tensor  # long [Mf]

    @staticmethod
    def of(is_dense: torch.Tensor) -> RowSplit | bool:
        """True when every row is dense, False when none is, else the split. is_dense: bool [M]."""
        dense = is_dense.nonzero().flatten()
        if len(dense) in (0, len(is_dense)):
            return len(dense) > 0
        return RowSplit(dense, (~is_dense).nonzero().flatten())


def block_width(rows: int, scratch_rows: int) -> int:
    """Output rows per dequantised block for a weight of `scratch_rows` rows in the scratch: a multiple of 64."""
    return max(COLUMNS, SCRATCH_FLOATS // scratch_rows // COLUMNS * COLUMNS)


def pieces(rows: int, block: int) -> list[tuple[int, int]]:
    """Row ranges of a weight dequantised at a time: whole blocks of 64 rows, then the last rows alone."""
    whole = rows // COLUMNS * COLUMNS
    spans = [(start, min(start + block, whole)) for start in range(0, whole, block)]
    return spans + [(whole, rows)] if whole < rows else spans


_local = threading.local()


def _scratch(size: int) -> torch.Tensor:  # float32 [size], this thread's, reused across calls
    buffer = getattr(_local, "scratch", None)
    if buffer is None or buffer.numel() < size:
        buffer = _local.scratch = torch.empty(size)
    return buffer[:size]


def tiled_matmul(x: torch.Tensor, rows: int, width: int, source: BlockSource, block: int) -> torch.Tensor:
    """x [M, K] times the weight `source` dequantises, [rows, K], as float32 [M, rows].

    The weight comes `block` output rows at a time into this thread's scratch; `width` is the
    height of what `source` fills (K, or 2K for split codes it sums itself).
    """
    m, k = x.shape
    padded = -(-m // TILE_ROWS) * TILE_ROWS
    if padded == m and x.dtype == torch.float32 and x.is_contiguous() and x.data_ptr() % 64 == 0:
        tiles = x
    else:  # a fresh buffer: 64-byte aligned like every tile in it (the GEMM may pick kernels by alignment)
        tiles = torch.zeros(padded, k)
        tiles[:m] = x
    out = torch.empty(padded, rows)  # [Mp, N]
    threads = torch.get_num_threads()
    for start, stop in pieces(rows, block):
        weight = source(start, stop, _scratch(width * (stop - start)))  # [b, K, c]
        b, _, c = weight.shape
        merge = padded >= MERGED_ROWS and tiles_merge_exactly(k, b, c, threads)
        row = 0
        while row < padded:
            height = MERGED_ROWS if merge and padded - row >= MERGED_ROWS else TILE_ROWS
            product = torch.bmm(tiles[row : row + height].expand(b, height, k), weight)  # [b, T, c]
            out[row : row + height, start:stop].view(height, b, c).copy_(product.transpose(0, 1))
            row += height
    return out[:m]


@functools.cache
def tiles_merge_exactly(k: int, blocks: int, columns: int, threads: int) -> bool:
    """Whether one [MERGED_ROWS, k] x [k, columns] batched GEMM gives every row the bits that
    TILE_ROWS-row calls give it (the kernel a shape gets does not depend on the values)."""
    del threads  # part of the cache key
    gen = torch.Generator().manual_seed(1)
    x, weight = torch.randn(MERGED_ROWS, k, generator=gen), torch.randn(blocks, k, columns, generator=gen)
    merged = torch.bmm(x.expand(blocks, MERGED_ROWS, k), weight)  # [b, MERGED_ROWS, c]
    tiles = [torch.bmm(x[row : row + TILE_ROWS].expand(blocks, TILE_ROWS, k), weight) for row in range(0, MERGED_ROWS, TILE_ROWS)]
    return torch.equal(merged, torch.cat(tiles, dim=1))


def int4_block_source(packed: torch.Tensor, scales_zeros: torch.Tensor, width: int, split: bool) -> BlockSource:
    """Rows of the int4 op's weight as float32 `(q - 8) * s + z` (split codes: the hi and lo halves summed).

    packed: uint8 [Npad, width/2] in the op's CPU layout; scales_zeros: bfloat16 [width/32, Npad, 2].
    """
    flat = packed.view(-1)
    parts = 2 if split else 1  # split: hi * 16s + (128s + offset) and lo * s, summed, are the weight
    k = width // parts

    def source(start: int, stop: int, scratch: torch.Tensor) -> torch.Tensor:
        b, c = _blocks(stop - start)
        src = flat[start * width // 2 : stop * width // 2].view(b, width, c // 2)  # [b, K', c/2] bytes
        sz = scales_zeros[:, start:stop].float().view(width // GROUP, b, c, 2).transpose(0, 1)  # [b, G', c, 2]
        scale = sz[..., 0].contiguous().unsqueeze(2)  # [b, G', 1, c]
        zero = torch.add(sz[..., 1], sz[..., 0], alpha=-8).unsqueeze(2)  # z - 8s: w = q * s + (z - 8s)
        weight = scratch.view(parts, b, k, c)
        for part in range(parts):
            weight[part].copy_(_codes(src[:, part * k : (part + 1) * k]))
            groups = slice(part * k // GROUP, (part + 1) * k // GROUP)
            grouped = weight[part].view(b, k // GROUP, GROUP, c)
            torch.addcmul(zero[:, groups], grouped, scale[:, groups], out=grouped)
        return torch.add(weight[0], weight[1], out=weight[0]) if split else weight[0]

    return source


def _codes(src: torch.Tensor) -> torch.Tensor:  # uint8 [b, K, c/2] -> uint8 [b, K, c], the codes of c rows
    low, high = src & 0x0F, src >> 4
    if src.shape[-1] == COLUMNS // 2:  # a whole block: byte j holds row j (low nibble) and row j + 32 (high)
        return torch.cat([low, high], dim=-1)
    return torch.stack([low, high], dim=-1).view(*src.shape[:-1], -1)  # the last rows: rows 2j and 2j + 1


def int8_block_source(codes: torch.Tensor, scale: torch.Tensor) -> BlockSource:
    """Rows of `scale[n] * codes[n, k]` (codes int8 [N, K], scale [N]) as float32 [b, K, c]."""
    scale = scale.float()

    def source(start: int, stop: int, scratch: torch.Tensor) -> torch.Tensor:
        b, c = _blocks(stop - start)
        rows = codes[start:stop].view(b, c, -1).transpose(1, 2)  # [b, K, c]
        return torch.mul(rows, scale[start:stop].view(b, 1, c), out=scratch.view(rows.shape))

    return source


def float_block_source(weight: torch.Tensor) -> BlockSource:
    """Rows of a float weight [N, K] as float32 [b, K, c], copied into the scratch."""

    def source(start: int, stop: int, scratch: torch.Tensor) -> torch.Tensor:
        b, c = _blocks(stop - start)
        rows = weight[start:stop].view(b, c, -1).transpose(1, 2)  # [b, K, c]
        return scratch.view(rows.shape).copy_(rows)

    return source


def _blocks(count: int) -> tuple[int, int]:  # a piece of `count` rows as (b, c)
    return (count // COLUMNS, COLUMNS) if count >= COLUMNS else (1, count)


@functools.cache
def tiles_are_row_invariant(k: int, rows: int, block: int, threads: int) -> bool:
    """Whether this machine's GEMMs give a row of a tile the same bits wherever it sits in the tile and
    whatever the other rows hold, for a [rows, k] weight taken `block` rows at a time.

    Kernels are chosen by shape (and thread count), not by values: checked once per shape on random
    data with the very calls `tiled_matmul` makes (a tile's rows, then the same rows reversed among
    one more, so each sits elsewhere and one lands in a second, zero-padded tile)."""
    del threads  # part of the cache key
    gen = torch.Generator().manual_seed(0)
    source = float_block_source(torch.randn(rows, k, generator=gen))
    x = torch.randn(TILE_ROWS + 1, k, generator=gen)
    first = tiled_matmul(x[:TILE_ROWS], rows, k, source, block)  # [TILE_ROWS, rows]
    moved = tiled_matmul(x.flip(0), rows, k, source, block)
    return torch.equal(first, moved[1:].flip(0))
