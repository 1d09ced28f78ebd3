"""Decode attention on the CPU as numba kernels that read keys and values straight from the paged store.

Each decode row attends over its own positions through its page table: scores, softmax and value
sum per query head, each in the row's position order. No other row's data or length enters a row's
arithmetic, so its numbers are the same alone or in any batch (batch invariance by construction),
whatever its pages (scattered or consecutive). The loops run page index by page index and, inside,
row by row in the order given: rows that share a prefix page (an org brief every agent starts with)
and come one after another read it back to back, so its keys and values come from the cache for all
but the first; no row's arithmetic changes with that. Rows may be split over threads the same way
(`nogil`): each row is computed whole by one call.

Slots past a row's length are never read (they may hold anything). Head sizes that are multiples of 16
(all the common ones) run the scores and value sums as explicit 16-lane vector code
(kernels/_attention_blocks.py; for 8-16 rows sharing a 1,050-token brief, 2x faster with the brief
in the cache, 1.55x from memory); other sizes run plain loops. Nothing is compiled with fast-math: the
kernel is compiled twice (here, and inside the worker loop of kernels/_kernel_jobs.py), and with
reassociation allowed the two copies summed some rows in different orders (a head size of 8 showed it);
without it the arithmetic is the IR's own, the same in every copy. The softmax's sum is an explicit
16-lane loop for that reason (`row_sum`). exp is a vectorisable polynomial (libm's expf is a scalar call).

numba's disk cache knows a kernel by the text of its own file only, so `DEPENDENCY_HASHES` records the
files these kernels call into: a change there changes this file, and nothing compiled before is loaded
(tests/kernels/test_numba_cache_dependencies.py keeps the record true).

Shapes: R decode rows, NH query heads, NKV key/value heads, G = NH / NKV, D head size, P pages of a
row's table (padded), S page size, Smax the longest row.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from kernels._attention_blocks import LANES, row_max, row_sum, score_block, value_run
from kernels._fused_cpu import exp_float32

FLOAT_BYTES = 4
DEPENDENCY_HASHES = {  # sha256 of each file whose numba functions the kernels here inline
    "_attention_blocks.py": "a6b76fee5cdc0a8226a15721c1193a4620fe039bd571390fa42df6b9423818f8",
    "_fused_cpu.py": "dbe0670dcad15d24ce0989f281fd0347687ddbf20847e94eb0681f5b43ef9102",
}


@njit(inline="always")
def _address(array):  # type: ignore[no-untyped-def]
    """The address of an array's first element as int64 (numba would make uint64 + int64 a float)."""
    return np.int64(array.ctypes.data)


@njit(inline="always")
def _chunk_starts(heads, g):  # type: ignore[no-untyped-def]
    """The first query head of each run of up to three within one key/value head's group of g."""
    starts = np.empty(heads // g * ((g + 2) // 3), dtype=np.int64)
    n = 0
    for start in range(0, heads, g):
        for offset in range(0, g, 3):
            starts[n] = start + offset
            n += 1
    return starts


@njit(inline="always")
def _page_piece(tables, lengths, r, j, page_size):  # type: ignore[no-untyped-def]
    """Row r's positions in its page j (0 past its length) and that page's first slot."""
    return max(min(lengths[r] - j * page_size, page_size), 0), tables[r, j] * page_size


@njit(inline="always")
def _within(head, first, g):  # type: ignore[no-untyped-def]
    """`head` if it is in the key/value group of `first` (g query heads each), else `first` again."""
    return head if head < first - first % g + g else first


@njit(inline="always")
def _scores_loops(keys, queries, tables, lengths, rows, page_size, scale, scores, pages):  # type: ignore[no-untyped-def]
    """Any head size: three query heads a key load, each dot product a vectorised loop with its own sum."""
    heads, d = queries.shape[1], queries.shape[2]
    g = heads // keys.shape[0]
    starts = _chunk_starts(heads, g)
    for j in range(pages):
        first = j * page_size
        for r in rows:
            count, base = _page_piece(tables, lengths, r, j, page_size)
            for head in starts:
                a, b, c = head, _within(head + 1, head, g), _within(head + 2, head, g)
                k_head, qa, qb, qc = keys[head // g], queries[r, a], queries[r, b], queries[r, c]
                sa, sb, sc = scores[r, a], scores[r, b], scores[r, c]
                for i in range(count):
                    k = k_head[base + i]
                    da, db, dc = np.float32(0.0), np.float32(0.0), np.float32(0.0)
                    for e in range(d):
                        da += qa[e] * k[e]
                        db += qb[e] * k[e]
                        dc += qc[e] * k[e]
                    sa[first + i], sb[first + i], sc[first + i] = da * scale, db * scale, dc * scale


@njit(inline="always")
def _scores_blocks(keys, queries, tables, lengths, rows, page_size, scale, scores, pages):  # type: ignore[no-untyped-def]
    """Head sizes that are multiples of 16: 16 keys a block (kernels/_attention_blocks.py), each query head of a
    key/value head against a block while it is in the L1 cache. A block of under 16 keys (a page's last) is
    copied into a scratch block first (nothing past a row's slots is read), as are scores that would
    reach past a row of `scores`."""
    kv_heads, slots = keys.shape[0], keys.shape[1]
    heads, d, longest = queries.shape[1], queries.shape[2], scores.shape[2]
    g, chunks = heads // kv_heads, d // LANES
    block = np.zeros((LANES, d), dtype=np.float32)
    sixteen = np.empty(LANES, dtype=np.float32)
    k_at, q_at, s_at = _address(keys), _address(queries), _address(scores)
    block_at, sixteen_at = _address(block), _address(sixteen)
    for j in range(pages):
        first = j * page_size
        for r in rows:
            count, base = _page_piece(tables, lengths, r, j, page_size)
            for kv_head in range(kv_heads):
                for start in range(0, count, LANES):
                    n = min(LANES, count - start)
                    source = k_at + ((kv_head * slots + base + start) * d) * FLOAT_BYTES
                    if n < LANES:
                        block[:n] = keys[kv_head, base + start : base + start + n]
                        source = block_at
                    for head in range(kv_head * g, kv_head * g + g):
                        row_at = s_at + ((r * heads + head) * longest + first + start) * FLOAT_BYTES
                        whole = first + start + LANES <= longest
                        query, target = q_at + ((r * heads + head) * d) * FLOAT_BYTES, row_at if whole else sixteen_at
                        if chunks == 4:  # head size 64 or 128: the block unrolled
                            score_block(source, query, target, 4, scale)
                        elif chunks == 8:
                            score_block(source, query, target, 8, scale)
                        else:
                            score_block(source, query, target, chunks, scale)
                        if not whole:
                            scores[r, head, first + start : first + start + n] = sixteen[:n]


@njit(inline="always")
def _value_loops(values, tables, lengths, rows, page_size, scores, out, pages):  # type: ignore[no-untyped-def]
    """Any head size: three query heads a value load, accumulating in out."""
    heads, d = out.shape[1], out.shape[2]
    g = heads // values.shape[0]
    starts = _chunk_starts(heads, g)
    spare = np.zeros((2, d), dtype=np.float32)
    for j in range(pages):
        first = j * page_size
        for r in rows:
            count, base = _page_piece(tables, lengths, r, j, page_size)
            for head in starts:
                b, c = _within(head + 1, head, g), _within(head + 2, head, g)
                v_head, pa, pb, pc = values[head // g], scores[r, head], scores[r, b], scores[r, c]
                acc_a = out[r, head]
                acc_b = out[r, b] if b != head else spare[0]  # a head past the group's adds into scratch
                acc_c = out[r, c] if c != head else spare[1]
                for i in range(count):
                    v, wa, wb, wc = v_head[base + i], pa[first + i], pb[first + i], pc[first + i]
                    for e in range(d):
                        acc_a[e] += wa * v[e]
                        acc_b[e] += wb * v[e]
                        acc_c[e] += wc * v[e]


@njit(inline="always")
def _value_runs(values, tables, lengths, rows, page_size, scores, out, pages):  # type: ignore[no-untyped-def]
    """Head sizes that are multiples of 16: three query heads a value load, accumulating in registers over a
    page's piece (kernels/_attention_blocks.py)."""
    kv_heads, slots = values.shape[0], values.shape[1]
    heads, d, longest = out.shape[1], out.shape[2], scores.shape[2]
    g, chunks = heads // kv_heads, d // LANES
    starts = _chunk_starts(heads, g)
    spare = np.zeros((2, d), dtype=np.float32)  # a head past the group's adds into scratch
    v_at, s_at, o_at = _address(values), _address(scores), _address(out)
    spare_b, spare_c = _address(spare[0]), _address(spare[1])
    for j in range(pages):
        first = j * page_size
        for r in rows:
            count, base = _page_piece(tables, lengths, r, j, page_size)
            if count == 0:
                continue
            for head in starts:
                b, c = _within(head + 1, head, g), _within(head + 2, head, g)
                weights = (s_at + ((r * heads + head) * longest + first) * FLOAT_BYTES,
                           s_at + ((r * heads + b) * longest + first) * FLOAT_BYTES,
                           s_at + ((r * heads + c) * longest + first) * FLOAT_BYTES)  # fmt: skip
                sums = (o_at + (r * heads + head) * d * FLOAT_BYTES,
                        o_at + (r * heads + b) * d * FLOAT_BYTES if b != head else spare_b,
                        o_at + (r * heads + c) * d * FLOAT_BYTES if c != head else spare_c)  # fmt: skip
                source = v_at + ((head // g * slots + base) * d) * FLOAT_BYTES
                if chunks == 4:  # head size 64 or 128: the sums held in registers
                    value_run(source, count, 4, weights, sums)
                elif chunks == 8:
                    value_run(source, count, 8, weights, sums)
                else:
                    value_run(source, count, chunks, weights, sums)


@njit(cache=True, nogil=True, error_model="numpy")
def _attend_rows(keys, values, queries, tables, lengths, rows, page_size, scale, scores, out):  # type: ignore[no-untyped-def]
    """keys/values [NKV, slots, D] f32, queries [R, NH, D] f32, tables [R, P] i64, lengths [R] i64, rows [n] i64
    (the rows to attend, in this order), scale f32, scores [R, NH, Smax] f32 (scratch) -> out [R, NH, D] f32."""
    heads, d = queries.shape[1], queries.shape[2]
    blocks = d % LANES == 0
    longest = 0
    for r in rows:
        longest = max(longest, lengths[r])
    pages = (longest + page_size - 1) // page_size
    if blocks:
        _scores_blocks(keys, queries, tables, lengths, rows, page_size, scale, scores, pages)
    else:
        _scores_loops(keys, queries, tables, lengths, rows, page_size, scale, scores, pages)
    norms = np.empty((len(rows), heads), dtype=np.float32)
    s_at, stride = _address(scores), scores.shape[2]
    for n, r in enumerate(rows):  # softmax numerators and their sums; out starts at 0
        for head in range(heads):
            s = scores[r, head]
            top = row_max(s_at + (r * heads + head) * stride * FLOAT_BYTES, lengths[r])
            for i in range(lengths[r]):
                s[i] = exp_float32(s[i] - top)  # x <= 0: a softmax numerator
            norms[n, head] = np.float32(1.0) / row_sum(s_at + (r * heads + head) * stride * FLOAT_BYTES, lengths[r])
            out[r, head, :] = np.float32(0.0)
    if blocks:  # value sums, each row's in its position order
        _value_runs(values, tables, lengths, rows, page_size, scores, out, pages)
    else:
        _value_loops(values, tables, lengths, rows, page_size, scores, out, pages)
    for n, r in enumerate(rows):
        for head in range(heads):
            norm = norms[n, head]
            for e in range(d):
                out[r, head, e] *= norm


def check_operands(keys: np.ndarray, values: np.ndarray, queries: np.ndarray, tables: np.ndarray, lengths: np.ndarray,
                   page_size: int, scores: np.ndarray, out: np.ndarray) -> None:  # fmt: skip
    """Raise ValueError unless the operands fit `attend_rows` (one compiled function serves every call, so
    every row gets the same arithmetic: all arrays C-contiguous, float32 / int64)."""
    rows, heads, d = queries.shape
    for name, array in (("keys", keys), ("values", values), ("queries", queries), ("scores", scores), ("out", out)):
        if array.dtype != np.float32 or not array.flags.c_contiguous:
            raise ValueError(f"{name} must be C-contiguous float32, not {array.dtype}")
    for name, array in (("tables", tables), ("lengths", lengths)):
        if array.dtype != np.int64 or not array.flags.c_contiguous:
            raise ValueError(f"{name} must be C-contiguous int64, not {array.dtype}")
    if keys.shape != values.shape or keys.shape[2] != d or heads % keys.shape[0]:
        raise ValueError(f"keys {keys.shape} and values {values.shape} do not fit queries {queries.shape}")
    if len(lengths) != rows or len(tables) != rows or out.shape != (rows, heads, d) or (rows and lengths.min() < 1):
        raise ValueError(f"{rows} rows need {rows} page tables, lengths >= 1 and out [{rows}, {heads}, {d}]")
    longest = int(lengths.max()) if rows else 0
    if tables.shape[1] * page_size < longest or scores.shape != (rows, heads, max(longest, 1)):
        raise ValueError(f"{longest} positions need {-(-longest // page_size)} pages and scores [{rows}, {heads}, {longest}]")
    if rows and (tables.min() < 0 or (tables.max() + 1) * page_size > keys.shape[1]):
        raise ValueError(f"page tables name pages outside the store's {keys.shape[1] // page_size}")


def attend_rows(keys: np.ndarray, values: np.ndarray, queries: np.ndarray, tables: np.ndarray, lengths: np.ndarray,
                rows: np.ndarray, page_size: int, scores: np.ndarray, out: np.ndarray, scale: float | None = None) -> None:  # fmt: skip
    """Rows `rows` (int64) of out [R, NH, D] <- their attention over keys/values [NKV, slots, D] through `tables`
    [R, P] (a row's pages past its length: any page of the store) for `lengths` [R] positions; scores
    [R, NH, Smax] scratch; `scale`: the scores' (None: D**-0.5; 1 for queries that carry it). A row's numbers
    depend on nothing but its own operands, not even the page size: a contiguous cache read as one page of
    `length` slots gives the bits its pages give. Releases the GIL: calls on disjoint `rows` may run on
    threads side by side."""
    scale = queries.shape[2] ** -0.5 if scale is None else scale
    _attend_rows(keys, values, queries, tables, lengths, rows, page_size, np.float32(scale), scores, out)


def attend_contiguous(keys: np.ndarray, values: np.ndarray, queries: np.ndarray, length: int, scale: float | None = None) -> np.ndarray:
    """One token's queries [NH, D] over the first `length` slots of a contiguous cache's keys/values [NKV, S, D]
    (float32, C-contiguous) -> [NH, D]: the bits `attend_rows` gives the same row over pages, for a
    single-sequence forward that must agree with the engine token for token."""
    heads, d = queries.shape
    out, scores = np.empty((1, heads, d), np.float32), np.empty((1, heads, length), np.float32)
    table, lengths, rows = np.zeros((1, 1), np.int64), np.array([length], np.int64), np.zeros(1, np.int64)
    check_operands(keys, values, queries[None], table, lengths, length, scores, out)
    attend_rows(keys, values, queries[None], table, lengths, rows, length, scores, out, scale)
    return out[0]
