"""The inner loops of CPU decode attention as explicit 16-lane vector code (numba intrinsics emitting LLVM IR).

numba cannot hold a vector in a register: its dot-product loop over a head's D values ends every key
with a horizontal sum, and its value-sum loop keeps the accumulators in memory; both ran at ~25 ns a
key and head triple on a Cascade Lake core. These write the vectors out:

- `score_block`: 16 consecutive keys [16, D] against one query [D] -> 16 scaled scores. Lane l of key
  i's partial sum collects q[l + 16c] * k[i, l + 16c] over the D/16 chunks c in order (fused
  multiply-adds), then the 16 lanes meet in a fixed tree (l with l + 8, then + 4, + 2, + 1) that 16
  keys share as one transposing reduction. Each key's score depends only on its own key and the query,
  whichever block or lane it falls in.
- `value_run`: out_x[D] += w_x[i] * v[i, D] over n keys for three query heads that share the values,
  key by key in order (fused multiply-adds), with the accumulators in registers, one 16-lane chunk at a
  time.
- `row_max`: the largest score of a row (the softmax's shift), 16 lanes at a time.
- `row_sum`: the sum of a row (the softmax's denominator) in a fixed order: 16 running lane sums, a fixed
  tree over the lanes, then the tail in order. No fast-math reassociation, so every compilation of a caller
  (the caller's own, and the copy inside the kernels' worker loop) gives the same bits.

The first two need D to be a multiple of 16 (kernels/_cpu_attention.py keeps a plain loop for other sizes). A
chunk count given as a constant at the call site (head sizes 64 and 128 there) unrolls the chunks, so
every load is an immediate offset from one address and no accumulator leaves its register.
Arguments are addresses (int64) of float32 memory; nothing is checked here.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

LANES = 16
_F32 = ir.FloatType()
_VEC = ir.VectorType(_F32, LANES)
_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_FLOAT_BYTES = 4


def reduction_plan() -> tuple[list[list[tuple[list[int], list[int]]]], list[int]]:
    """The shuffles that sum 16 vectors' lanes: per level, per output vector, the masks (over the pair
    `shufflevector(a, b)`, lanes 0-15 of a then 16-31 of b) of the two halves to add; then the lane of the
    final vector that holds key i's sum, for each i."""
    segments: list[list[tuple[int, int]]] = [[(key, LANES)] for key in range(LANES)]  # per vector: (key, width) runs
    levels = []
    while len(segments) > 1:
        level, merged = [], []
        for a, b in zip(segments[0::2], segments[1::2]):
            low, high, out = [], [], []
            for source, runs in ((0, a), (1, b)):
                start = 0
                for key, width in runs:
                    half = width // 2
                    low += [source * LANES + start + j for j in range(half)]
                    high += [source * LANES + start + half + j for j in range(half)]
                    out.append((key, half))
                    start += width
            level.append((low, high))
            merged.append(out)
        levels.append(level)
        segments = merged
    final = [0] * LANES
    for lane, (key, _) in enumerate(segments[0]):
        final[key] = lane
    return levels, final


_LEVELS, _FINAL = reduction_plan()


def _vector_at(builder: ir.IRBuilder, base: ir.Value, offset: ir.Value) -> ir.Value:
    """The <16 x float> at float index `offset` past float* `base` (unaligned)."""
    pointer = builder.bitcast(builder.gep(base, [offset]), ir.PointerType(_VEC))
    value = builder.load(pointer)
    value.align = 4
    return value


def _store_vector(builder: ir.IRBuilder, base: ir.Value, offset: ir.Value, value: ir.Value) -> None:
    pointer = builder.bitcast(builder.gep(base, [offset]), ir.PointerType(_VEC))
    builder.store(value, pointer).align = 4


def _floats(builder: ir.IRBuilder, address: ir.Value) -> ir.Value:
    return builder.inttoptr(address, ir.PointerType(_F32))


def _splat(builder: ir.IRBuilder, scalar: ir.Value) -> ir.Value:
    one = builder.insert_element(ir.Constant(_VEC, ir.Undefined), scalar, ir.Constant(_I32, 0))
    return builder.shuffle_vector(one, ir.Constant(_VEC, ir.Undefined), ir.Constant(ir.VectorType(_I32, LANES), [0] * LANES))


def _declared(builder: ir.IRBuilder, name: str, result: ir.Type, operands: list[ir.Type]) -> ir.Function:
    module = builder.module
    return module.globals.get(name) or ir.Function(module, ir.FunctionType(result, operands), name=name)


def _fma(builder: ir.IRBuilder, a: ir.Value, b: ir.Value, c: ir.Value) -> ir.Value:
    """a * b + c, one rounding, lane by lane."""
    return builder.call(_declared(builder, "llvm.fma.v16f32", _VEC, [_VEC] * 3), [a, b, c])


def _mask(indices: list[int]) -> ir.Constant:
    return ir.Constant(ir.VectorType(_I32, LANES), indices)


def _chunk_count(chunks: types.Type) -> tuple[types.Type, int | None]:
    """The argument type to compile for, and the chunk count when the call site gives it as a constant."""
    if isinstance(chunks, types.IntegerLiteral):
        return chunks, chunks.literal_value
    return types.int64, None


def _chunk_offsets(builder: ir.IRBuilder, chunks: ir.Value, unrolled: int | None):  # type: ignore[no-untyped-def]
    """Yield the float offset of each 16-lane chunk: constants when the count is known (the loop unrolled,
    every load an immediate offset from one base), else the index of a loop over `chunks`."""
    if unrolled is not None:
        for chunk in range(unrolled):
            yield ir.Constant(_I64, chunk * LANES)
        return
    with cgutils.for_range(builder, chunks) as loop:
        yield builder.mul(loop.index, ir.Constant(_I64, LANES))


@intrinsic(prefer_literal=True)
def score_block(typingctx, keys_at, query_at, out_at, chunks, scale):  # type: ignore[no-untyped-def]
    """keys [16, 16 * chunks] at keys_at, query [16 * chunks] at query_at -> out [16] at out_at: scale * q . k_i.
    A constant `chunks` at the call site compiles a fully unrolled block."""
    chunks_type, unrolled = _chunk_count(chunks)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        keys_at, query_at, out_at, chunks, scale = args
        query, out = _floats(builder, query_at), _floats(builder, out_at)
        width = ir.Constant(_I64, unrolled * LANES) if unrolled is not None else builder.mul(chunks, ir.Constant(_I64, LANES))
        rows = [_floats(builder, builder.add(keys_at, builder.mul(width, ir.Constant(_I64, _FLOAT_BYTES * key)))) for key in range(LANES)]  # key i's address
        partials = [cgutils.alloca_once_value(builder, ir.Constant(_VEC, [0.0] * LANES)) for _ in range(LANES)]
        for offset in _chunk_offsets(builder, chunks, unrolled):
            q = _vector_at(builder, query, offset)
            for row, partial in zip(rows, partials):
                builder.store(_fma(builder, _vector_at(builder, row, offset), q, builder.load(partial)), partial)
        vectors = [builder.load(partial) for partial in partials]
        for level in _LEVELS:
            vectors = [
                builder.fadd(builder.shuffle_vector(a, b, _mask(low)), builder.shuffle_vector(a, b, _mask(high)))
                for (a, b), (low, high) in zip(zip(vectors[0::2], vectors[1::2]), level)
            ]
        sums = builder.shuffle_vector(vectors[0], vectors[0], _mask(_FINAL))
        _store_vector(builder, out, ir.Constant(_I64, 0), builder.fmul(sums, _splat(builder, scale)))
        return context.get_dummy_value()

    return types.void(types.int64, types.int64, types.int64, chunks_type, types.float32), codegen


@intrinsic(prefer_literal=True)
def value_run(typingctx, values_at, count, chunks, weights_at, out_at):  # type: ignore[no-untyped-def]
    """values [count, 16 * chunks] at values_at; weights_at, out_at: UniTuple of three addresses, w_x [count]
    and out_x [16 * chunks] -> out_x += sum_i w_x[i] v[i], i in order. A constant `chunks` at the call site keeps
    all 3 x chunks accumulators in registers through the whole run."""
    chunks_type, unrolled = _chunk_count(chunks)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        values_at, count, chunks, weights_at, out_at = args
        values = _floats(builder, values_at)
        weights = [_floats(builder, builder.extract_value(weights_at, x)) for x in range(3)]
        outs = [_floats(builder, builder.extract_value(out_at, x)) for x in range(3)]
        width = ir.Constant(_I64, unrolled * LANES) if unrolled is not None else builder.mul(chunks, ir.Constant(_I64, LANES))
        if unrolled is not None:  # every chunk's three sums live through the key loop
            offsets = [ir.Constant(_I64, chunk * LANES) for chunk in range(unrolled)]
            sums = {(x, o.constant): cgutils.alloca_once_value(builder, _vector_at(builder, out, o)) for o in offsets for x, out in enumerate(outs)}
            with cgutils.for_range(builder, count) as key:
                row = builder.gep(values, [builder.mul(width, key.index)])
                splats = [_splat(builder, builder.load(builder.gep(w, [key.index]))) for w in weights]
                for o in offsets:
                    v = _vector_at(builder, row, o)
                    for x, weight in enumerate(splats):
                        acc = sums[(x, o.constant)]
                        builder.store(_fma(builder, weight, v, builder.load(acc)), acc)
            for (x, offset), acc in sums.items():
                _store_vector(builder, outs[x], ir.Constant(_I64, offset), builder.load(acc))
            return context.get_dummy_value()
        accs = [cgutils.alloca_once(builder, _VEC) for _ in range(3)]
        with cgutils.for_range(builder, chunks) as chunk:
            offset = builder.mul(chunk.index, ir.Constant(_I64, LANES))
            for out, acc in zip(outs, accs):
                builder.store(_vector_at(builder, out, offset), acc)
            with cgutils.for_range(builder, count) as key:
                v = _vector_at(builder, values, builder.add(builder.mul(width, key.index), offset))
                for w, acc in zip(weights, accs):
                    weight = _splat(builder, builder.load(builder.gep(w, [key.index])))
                    builder.store(_fma(builder, weight, v, builder.load(acc)), acc)
            for out, acc in zip(outs, accs):
                _store_vector(builder, out, offset, builder.load(acc))
        return context.get_dummy_value()

    addresses = types.UniTuple(types.int64, 3)
    return types.void(types.int64, types.int64, chunks_type, addresses, addresses), codegen


def _fold_blocks(builder: ir.IRBuilder, row: ir.Value, count: ir.Value, combine, start: ir.Value) -> tuple[ir.Value, ir.Value]:  # type: ignore[no-untyped-def]
    """Fold the whole 16-element blocks of `count` floats at `row` into `start` lane by lane, in order, with
    `combine(builder, lanes, block)`; the resulting vector, and where the tail after the blocks begins."""
    lanes = cgutils.alloca_once_value(builder, start)
    whole = builder.mul(builder.udiv(count, ir.Constant(_I64, LANES)), ir.Constant(_I64, LANES))
    with cgutils.for_range_slice(builder, ir.Constant(_I64, 0), whole, ir.Constant(_I64, LANES)) as (block, _):
        builder.store(combine(builder, builder.load(lanes), _vector_at(builder, row, block)), lanes)
    return builder.load(lanes), whole


def _fold_tail(builder: ir.IRBuilder, row: ir.Value, whole: ir.Value, count: ir.Value, combine, start: ir.Value) -> ir.Value:  # type: ignore[no-untyped-def]
    """Fold the floats whole..count at `row` into the scalar `start`, in order."""
    total = cgutils.alloca_once_value(builder, start)
    with cgutils.for_range_slice(builder, whole, count, ir.Constant(_I64, 1)) as (index, _):
        builder.store(combine(builder, builder.load(total), builder.load(builder.gep(row, [index]))), total)
    return builder.load(total)


@intrinsic
def row_max(typingctx, row_at, count):  # type: ignore[no-untyped-def]
    """The largest of `count` >= 1 float32 at row_at, 16 lanes at a time (numba's own max loop is a scalar
    chain, ~1.7 ns an element here). Exact: a maximum rounds nothing, in any order."""

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        row_at, count = args
        row = _floats(builder, row_at)
        lanes = _declared(builder, "llvm.maxnum.v16f32", _VEC, [_VEC, _VEC])
        one = _declared(builder, "llvm.maxnum.f32", _F32, [_F32, _F32])
        across = _declared(builder, "llvm.vector.reduce.fmax.v16f32", _F32, [_VEC])
        best, whole = _fold_blocks(builder, row, count, lambda b, x, y: b.call(lanes, [x, y]), _splat(builder, builder.load(row)))
        return _fold_tail(builder, row, whole, count, lambda b, x, y: b.call(one, [x, y]), builder.call(across, [best]))

    return types.float32(types.int64, types.int64), codegen


@intrinsic
def row_sum(typingctx, row_at, count):  # type: ignore[no-untyped-def]
    """The sum of `count` float32 at row_at: lane l sums elements l, l + 16, ... of the whole 16-element blocks in
    order, the lanes meet in a fixed tree (l with l + 8, then + 4, + 2, + 1), then the tail is added in order."""

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        row_at, count = args
        row = _floats(builder, row_at)
        vector, whole = _fold_blocks(builder, row, count, lambda b, x, y: b.fadd(x, y), ir.Constant(_VEC, [0.0] * LANES))
        width = LANES
        while width > 1:
            width //= 2
            vector = builder.fadd(vector, builder.shuffle_vector(vector, vector, _mask([(lane + width) % LANES for lane in range(LANES)])))
        return _fold_tail(builder, row, whole, count, lambda b, x, y: b.fadd(x, y), builder.extract_element(vector, ir.Constant(_I32, 0)))

    return types.float32(types.int64, types.int64), codegen
