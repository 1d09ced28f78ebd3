"""x @ W.T for weights of group-affine codes (`w = scale * code + offset`, groups of 32 along K), as 16-lane code.

PyTorch's weight-only int4 op (`_weight_int4pack_mm_for_cpu`) dequantises its weights again for every four
rows of x, so a step of 16 decode rows cost 16 times one row's product, and it takes 4-bit codes only: 8-bit
ones (Q8_0, the output head of most small models) went through it as two nibble products. This kernel
dequantises each 16 weights once per tile of up to 16 rows of x, straight from 4-bit (nibbles) or 8-bit
(bytes) codes, and keeps the tile's sums in registers. Its pieces run on the spinning workers of
kernels/_kernel_jobs.py (figures in bench/RESULTS.md, Session 8).

Layout (`pack`): the weight's rows are padded to a multiple of 16 and cut into column blocks of 16 outputs.
Per block and group, the 32 k's codes in `codes`: bytes, 16 a k (one per output); or nibbles, 16 bytes a
pair of k's (k in the low nibble, k + 16 in the high one). Then 16 float16 scales and 16 float16 offsets in
`scales` (stored as their uint16 bits: numba has no float16 arrays).

Arithmetic: a weight is `fma(code, scale, offset)` in float32 (for GGUF's float16 scales, the float32 value
of the reference dequantisation), and each output sums `x[k] * w[k]` with fused multiply-adds, one running
sum, k in a fixed order (0, 1, 2, ... for bytes; 0, 16, 1, 17, ... for nibbles). Nothing in that depends on
the number of rows, the tile a row falls in or the thread that computes a column: a row's outputs have the
same bits alone or in any batch.

Shapes: M rows of x, K inputs (a multiple of 32), G = K / 32 groups, N outputs, NB = ceil(N / 16) blocks.
"""

from __future__ import annotations

import numpy as np
import torch
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from kernels._attention_blocks import LANES, _declared, _fma, _splat
from kernels._numba_target import use_wide_vectors

use_wide_vectors()

GROUP = 32
TILE_ROWS = 16  # rows of x whose sums a tile keeps in registers
FLOAT_BYTES = 4
SCALE_BYTES = 2
CACHE_LINE = 64
DEPENDENCY_HASHES = {  # sha256 of each file whose numba functions the kernels here inline (see kernels/_cpu_attention.py)
    "_attention_blocks.py": "a6b76fee5cdc0a8226a15721c1193a4620fe039bd571390fa42df6b9423818f8",
}
_F32 = ir.FloatType()
_VEC = ir.VectorType(_F32, LANES)
_HALVES = ir.VectorType(ir.HalfType(), LANES)
_BYTES = ir.VectorType(ir.IntType(8), LANES)
_I64 = ir.IntType(64)


CODE_BYTES = LANES * GROUP  # one block's codes for one group (bytes)
NIBBLE_BYTES = CODE_BYTES // 2  # the same as nibbles


def _load(builder: ir.IRBuilder, address: ir.Value, kind: ir.Type, align: int) -> ir.Value:
    value = builder.load(builder.inttoptr(address, ir.PointerType(kind)))
    value.align = align
    return value


def _at(builder: ir.IRBuilder, base: ir.Value, *terms: ir.Value | int) -> ir.Value:
    total = base
    for term in terms:
        total = builder.add(total, ir.Constant(_I64, term) if isinstance(term, int) else term)
    return total


AHEAD = 6  # groups ahead whose codes and scales a tile asks the cache for (one row's head: 4.2 -> 2.7 ms)


def _prefetch(builder: ir.IRBuilder, address: ir.Value) -> None:
    """Ask for the cache line at `address` (a hint: an address past the weight's end is never read)."""
    bytes_at, word = ir.PointerType(ir.IntType(8)), ir.IntType(32)
    hint = _declared(builder, "llvm.prefetch.p0i8", ir.VoidType(), [bytes_at, word, word, word])
    builder.call(hint, [builder.inttoptr(address, bytes_at), ir.Constant(word, 0), ir.Constant(word, 3), ir.Constant(word, 1)])


@intrinsic(prefer_literal=True)
def _tile(typingctx, codes_at, scales_at, x_at, out_at, groups, out_stride, block_codes, rows, cols, nibbles):  # type: ignore[no-untyped-def]
    """out[r, 16c : 16c + 16] = x[r] . W[block c] for `rows` x `cols` (constants).

    codes_at / scales_at: the first block's codes [G, 512 or 256 (nibbles)] and scales [G, 2, 16] (the next blocks follow
    at `block_codes` bytes and G * 64 bytes); x_at: the tile's rows as [K, rows] float32; out_at: float32, rows
    `out_stride` floats apart."""
    r_count, c_count, halves = rows.literal_value, cols.literal_value, bool(nibbles.literal_value)
    group_bytes = NIBBLE_BYTES if halves else CODE_BYTES

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        codes_at, scales_at, x_at, out_at, groups, out_stride, block_codes = args[:7]
        sums = [[cgutils.alloca_once_value(builder, ir.Constant(_VEC, [0.0] * LANES)) for _ in range(c_count)] for _ in range(r_count)]
        with cgutils.for_range(builder, groups) as loop:
            g = loop.index
            x_group = _at(builder, x_at, builder.mul(g, ir.Constant(_I64, GROUP * r_count * FLOAT_BYTES)))
            blocks = []
            for c in range(c_count):
                scale_at = _at(builder, scales_at, builder.mul(builder.add(builder.mul(groups, ir.Constant(_I64, c)), g),
                                                               ir.Constant(_I64, 2 * LANES * SCALE_BYTES)))  # fmt: skip
                scale = builder.fpext(_load(builder, scale_at, _HALVES, SCALE_BYTES), _VEC)
                offset = builder.fpext(_load(builder, _at(builder, scale_at, LANES * SCALE_BYTES), _HALVES, SCALE_BYTES), _VEC)
                first = _at(builder, codes_at, builder.mul(block_codes, ir.Constant(_I64, c)), builder.mul(g, ir.Constant(_I64, group_bytes)))
                blocks.append((scale, offset, first))
                for line in range(0, group_bytes, CACHE_LINE):
                    _prefetch(builder, _at(builder, first, AHEAD * group_bytes + line))
                _prefetch(builder, _at(builder, scale_at, AHEAD * 2 * LANES * SCALE_BYTES))

            def weights(codes: ir.Value, c: int) -> ir.Value:
                scale, offset, _ = blocks[c]
                return _fma(builder, builder.uitofp(codes, _VEC), scale, offset)

            def accumulate(k: ir.Value, w: list[ir.Value]) -> None:
                x_k = _at(builder, x_group, builder.mul(k, ir.Constant(_I64, r_count * FLOAT_BYTES)))
                for r in range(r_count):
                    xs = _splat(builder, _load(builder, _at(builder, x_k, r * FLOAT_BYTES), _F32, FLOAT_BYTES))
                    for c in range(c_count):
                        builder.store(_fma(builder, xs, w[c], builder.load(sums[r][c])), sums[r][c])

            # a loop, not unrolled: unrolled, LLVM dequantises a whole group ahead of the sums and spills it
            if halves:  # 16 bytes a pair of k's: k in the low nibbles, k + 16 in the high ones
                with cgutils.for_range(builder, ir.Constant(_I64, GROUP // 2)) as pairs:
                    k = pairs.index
                    codes = [_load(builder, _at(builder, blocks[c][2], builder.mul(k, ir.Constant(_I64, LANES))), _BYTES, 1) for c in range(c_count)]
                    accumulate(k, [weights(builder.and_(code, ir.Constant(_BYTES, [15] * LANES)), c) for c, code in enumerate(codes)])
                    accumulate(_at(builder, k, GROUP // 2), [weights(builder.lshr(code, ir.Constant(_BYTES, [4] * LANES)), c) for c, code in enumerate(codes)])
            else:
                with cgutils.for_range(builder, ir.Constant(_I64, GROUP)) as ks:
                    k = ks.index
                    codes = [_load(builder, _at(builder, blocks[c][2], builder.mul(k, ir.Constant(_I64, LANES))), _BYTES, 1) for c in range(c_count)]
                    accumulate(k, [weights(code, c) for c, code in enumerate(codes)])
        for r in range(r_count):
            for c in range(c_count):
                target = _at(builder, out_at, builder.mul(out_stride, ir.Constant(_I64, r * FLOAT_BYTES)), LANES * c * FLOAT_BYTES)
                builder.store(builder.load(sums[r][c]), builder.inttoptr(target, ir.PointerType(_VEC))).align = FLOAT_BYTES
        return context.get_dummy_value()

    return types.void(*([types.int64] * 7), rows, cols, nibbles), codegen


@njit(inline="always")
def _tile_rows(remaining):  # type: ignore[no-untyped-def]
    """The rows of the next tile: 16 while there are, then 8, 4, 2, 1."""
    rows = TILE_ROWS
    while rows > remaining:
        rows //= 2
    return rows


@njit(cache=True, nogil=True)
def tile_major(x, tiles):  # type: ignore[no-untyped-def]
    """x [M, K] float32 -> tiles [M * K]: each tile's rows (as `_tile_rows` cuts them) as [K, rows], in row order."""
    m, k = x.shape
    start = 0
    while start < m:
        rows = _tile_rows(m - start)
        base = start * k
        for i in range(k):
            for r in range(rows):
                tiles[base + i * rows + r] = x[start + r, i]
        start += rows


@njit(inline="always")
def _tile_of_shape(c_at, s_at, x_at, o_at, groups, stride, block_codes, rows, cols, nibbles):  # type: ignore[no-untyped-def]
    """The tile for `rows` x `cols` (a runtime choice among the compiled shapes); `nibbles` a constant."""
    if rows == 16:
        _tile(c_at, s_at, x_at, o_at, groups, stride, block_codes, 16, 1, nibbles)
    elif rows == 8:
        _tile(c_at, s_at, x_at, o_at, groups, stride, block_codes, 8, 1, nibbles)
    elif rows == 4:
        _tile(c_at, s_at, x_at, o_at, groups, stride, block_codes, 4, 1, nibbles)
    elif rows == 2 and cols == 2:
        _tile(c_at, s_at, x_at, o_at, groups, stride, block_codes, 2, 2, nibbles)
    elif rows == 2:
        _tile(c_at, s_at, x_at, o_at, groups, stride, block_codes, 2, 1, nibbles)
    elif cols == 4:
        _tile(c_at, s_at, x_at, o_at, groups, stride, block_codes, 1, 4, nibbles)
    else:
        _tile(c_at, s_at, x_at, o_at, groups, stride, block_codes, 1, 1, nibbles)


@njit(inline="always")
def _blocks(tiles_at, m, codes_at, scales_at, block_codes, groups, out_at, stride, first, stop, nibbles):  # type: ignore[no-untyped-def]
    """out[:, 16 first : 16 stop] = x . W[blocks first..stop).T, all operands by address (see `multiply`)."""
    k = groups * GROUP
    block_scales = groups * 2 * LANES * SCALE_BYTES
    start = 0
    while start < m:
        rows = _tile_rows(m - start)
        x_at = tiles_at + start * k * FLOAT_BYTES
        block = first
        while block < stop:
            c_at, s_at = codes_at + block * block_codes, scales_at + block * block_scales
            o_at = out_at + (start * stride + block * LANES) * FLOAT_BYTES
            left = stop - block
            cols = 4 if rows == 1 and left >= 4 else 2 if rows == 2 and left >= 2 else 1  # chains enough to hide latency
            if nibbles:  # a constant at each call: the tile shapes are compiled for both code widths
                _tile_of_shape(c_at, s_at, x_at, o_at, groups, stride, block_codes, rows, cols, 1)
            else:
                _tile_of_shape(c_at, s_at, x_at, o_at, groups, stride, block_codes, rows, cols, 0)
            block += cols
        start += rows


@njit(cache=True, nogil=True)
def multiply(tiles_at, m, codes_at, scales_at, block_codes, groups, out_at, stride, first, stop, nibbles):  # type: ignore[no-untyped-def]
    """out[:, 16 first : 16 stop] = x . W[blocks first..stop).T, by address: tiles (x [m, K] as `tile_major` lays it
    out; x itself for one row) float32, codes [NB, G, 512 or 256 (nibbles)] uint8 (block_codes bytes a block),
    scales [NB, G, 2, 16] float16, out [m, stride] float32."""
    _blocks(tiles_at, m, codes_at, scales_at, block_codes, groups, out_at, stride, first, stop, nibbles)


class GroupWeights:
    """A weight in the kernel's layout (`pack`), with what each product needs of it."""

    def __init__(self, codes: np.ndarray, scales: np.ndarray) -> None:
        if codes.dtype != np.uint8 or scales.dtype != np.uint16 or not (codes.flags.c_contiguous and scales.flags.c_contiguous):
            raise ValueError("codes must be C-contiguous uint8 and scales C-contiguous uint16")
        blocks, groups, width = codes.shape
        if width not in (CODE_BYTES, NIBBLE_BYTES) or scales.shape != (blocks, groups, 2, LANES):
            raise ValueError(f"codes {codes.shape} and scales {scales.shape} are not the kernel's layout")
        self.codes, self.scales = codes, scales  # kept alive: the addresses below point into them
        self.blocks, self.groups, self.inputs = blocks, groups, groups * GROUP
        self.nibbles = int(width == NIBBLE_BYTES)
        self._operands = (int(codes.ctypes.data), int(scales.ctypes.data), groups * width, groups)

    @property
    def words(self) -> tuple[int, int, int, int, int, int]:
        """(codes address, scales address, bytes of a block's codes, groups, nibbles, blocks): what a product of it
        from compiled code needs (kernels/_decode_layers.py)."""
        return (*self._operands, self.nibbles, self.blocks)

    def split(self, x: torch.Tensor, parts: int) -> tuple[torch.Tensor, torch.Tensor, tuple[int, ...], list[tuple[int, int]]]:
        """x [M, K] float32 C-contiguous -> (out float32 [M, 16 NB] to fill, the tiles the operands point to (keep
        them until every piece is computed), the operands `multiply` takes before `first`, the (first, stop)
        block ranges of `parts` pieces)."""
        m = len(x)
        if x.shape != (m, self.inputs) or x.dtype != torch.float32 or not x.is_contiguous():
            raise ValueError(f"x must be C-contiguous float32 [M, {self.inputs}], not {tuple(x.shape)} {x.dtype}")
        out = torch.empty(m, self.blocks * LANES)
        tiles = x
        if m > 1:
            tiles = torch.empty(m * self.inputs)
            tile_major(x.numpy(), tiles.numpy())
        parts = max(1, min(parts, self.blocks))
        bounds = [self.blocks * part // parts for part in range(parts + 1)]
        operands = (tiles.data_ptr(), m, *self._operands, out.data_ptr(), self.blocks * LANES)
        return out, tiles, operands, list(zip(bounds, bounds[1:]))

    def product(self, x: torch.Tensor) -> torch.Tensor:
        """x [M, K] float32 C-contiguous -> float32 [M, 16 NB], on this thread."""
        out, _tiles, operands, ((first, stop),) = self.split(x, 1)
        multiply(*operands, first, stop, self.nibbles)
        return out


def pack(codes: np.ndarray, scale: np.ndarray, offset: np.ndarray, nibbles: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """codes uint8 [n, K] (n a multiple of 16; below 16 for `nibbles`), scale / offset float32 [n, G] -> (codes
    [n/16, G, 512 or 256] uint8,
    scales [n/16, G, 2, 16] uint16: the float16 bits of scale, then offset)."""
    n, k = codes.shape
    blocks, groups = n // LANES, k // GROUP
    by_block = codes.reshape(blocks, LANES, groups, GROUP).transpose(0, 2, 3, 1)  # [NB, G, 32 k, 16 outputs]
    halves = np.stack([scale.reshape(blocks, LANES, groups), offset.reshape(blocks, LANES, groups)], axis=1)  # [NB, 2, 16, G]
    with np.errstate(over="ignore"):  # a value past float16's range becomes inf: callers check
        scales = halves.transpose(0, 3, 1, 2).astype(np.float16)  # [NB, G, 2, 16]
    if nibbles:  # codes below 16: k and k + 16 share a byte
        by_block = by_block[:, :, : GROUP // 2] | (by_block[:, :, GROUP // 2 :] << 4)
    return np.ascontiguousarray(by_block, dtype=np.uint8).reshape(blocks, groups, -1), np.ascontiguousarray(scales).view(np.uint16)
