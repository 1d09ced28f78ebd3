"""The jobs the spinning workers of kernels/_kernel_threads.py run: column blocks of a group product
(kernels/_group_matmul.py) or rows of decode attention (kernels/_cpu_attention.py).

Every piece of parallel work of a CPU step goes through these workers, so no third thread ever competes
with a spinning one for a core. A job slot holds the job's kind, then its operands as int64 words (addresses,
sizes; the attention's scale as the bits of a float64); the worker rebuilds the arrays from them.
`threads()` is how many threads the kernels split over: an engine sets it (`set_threads`), and it stays the
same in steps where torch runs on one thread. Before torch's own multi-threaded ops (prompt attention) the
workers are sent to sleep (`rest`) instead of spinning beside torch's threads; at exit they are brought out
of the compiled loop before the interpreter unloads it.
"""

from __future__ import annotations

import atexit

import numba
import numpy as np
import torch
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from kernels._cpu_attention import _attend_rows
from kernels._group_matmul import GroupWeights, multiply
from kernels._kernel_threads import SpinningWorkers, held_at, read_acquire, write_release

GEMM, ATTENTION, REST, NOTHING = 0, 1, 2, 3
JOB_FIELDS = 19  # the kind, then the operands of the longer job (attention: 18)
DEPENDENCY_HASHES = {  # sha256 of each file whose numba functions the kernels here inline (see kernels/_cpu_attention.py)
    "_cpu_attention.py": "0b93ec7185b0be96df7e7399bb1f57646ace31068322c808d73bcfa63bce4a43",
    "_group_matmul.py": "d8e7aae8263c20338ac31dc17c99b8ac360e7043b801bb1673599f616314e42b",
    "_kernel_threads.py": "b1be7eafa2ae309e6857bfb46f08dba86d4e956dd6a3b249dae10a3651eeee0d",
}
_threads: int | None = None


@intrinsic
def _floats_at(typingctx, address):  # type: ignore[no-untyped-def]
    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.inttoptr(args[0], ir.PointerType(ir.FloatType()))

    return types.CPointer(types.float32)(types.int64), codegen


@intrinsic
def _words_at(typingctx, address):  # type: ignore[no-untyped-def]
    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.inttoptr(args[0], ir.PointerType(ir.IntType(64)))

    return types.CPointer(types.int64)(types.int64), codegen


@intrinsic
def _float_of_bits(typingctx, bits):  # type: ignore[no-untyped-def]
    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@njit(inline="always")
def _attention(f):  # type: ignore[no-untyped-def]
    """Rows of decode attention from their operands' words (see `attention_job`)."""
    kv_heads, slots, d, rows, heads, pages, count, longest = f[4], f[5], f[6], f[8], f[9], f[11], f[14], f[17]
    keys = numba.carray(_floats_at(f[1]), (kv_heads, slots, d))
    values = numba.carray(_floats_at(f[2]), (kv_heads, slots, d))
    queries = numba.carray(_floats_at(f[7]), (rows, heads, d))
    tables = numba.carray(_words_at(f[10]), (rows, pages))
    lengths = numba.carray(_words_at(f[12]), (rows,))
    order = numba.carray(_words_at(f[13]), (count,))
    scores = numba.carray(_floats_at(f[16]), (rows, heads, longest))
    out = numba.carray(_floats_at(f[18]), (rows, heads, d))
    _attend_rows(keys, values, queries, tables, lengths, order, f[3], np.float32(_float_of_bits(f[15])), scores, out)


@njit(cache=True, nogil=True)
def serve(job_at, checks):  # type: ignore[no-untyped-def]
    """A worker's loop: run each job posted at job_at (int64: posted, done, kind, operands, held), publishing it done;
    return after `checks` reads that found nothing, unless it is held."""
    idle = 0
    while True:
        posted = read_acquire(job_at)
        if posted == read_acquire(job_at + 8):
            idle += 1
            if idle >= checks and read_acquire(held_at(job_at, JOB_FIELDS)) == 0:
                return
            continue
        f = [read_acquire(job_at + 8 * (2 + i)) for i in range(JOB_FIELDS)]
        if f[0] == GEMM:
            multiply(f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11])  # compiled once, called
        elif f[0] == ATTENTION:
            _attention(f)
        write_release(job_at + 8, posted)
        if f[0] == REST:  # sleep now: torch's own threads are about to want the cores
            return
        idle = 0


WORKERS = SpinningWorkers(serve, JOB_FIELDS, (NOTHING,))


@atexit.register
def _stop_spinning() -> None:
    """Bring every worker out of its compiled loop before the interpreter unloads the code it runs."""
    WORKERS.post_all((REST,), wait=True)


def set_threads(count: int | None) -> int | None:
    """The threads the kernels split their work over (this one and count - 1 workers; None: torch's thread
    count at each use); returns the setting it replaces."""
    global _threads
    previous, _threads = _threads, None if count is None else max(1, int(count))
    return previous


def threads() -> int:
    return _threads if _threads is not None else torch.get_num_threads()


def rest() -> None:
    """Let the workers sleep now rather than spin (before torch's multi-threaded ops: prompt attention)."""
    WORKERS.post_all((REST,))


def product(weights: GroupWeights, x: torch.Tensor, parts: int) -> torch.Tensor:
    """x [M, K] float32 C-contiguous -> float32 [M, 16 NB] = x . W.T, its column blocks split over `parts` threads."""
    if parts <= 1:
        return weights.product(x)
    out, _tiles, operands, pieces = weights.split(x, parts)  # _tiles: read by every piece until run() returns
    jobs = [(GEMM, *operands, first, stop, weights.nibbles) for first, stop in pieces[1:]]
    first, stop = pieces[0]
    WORKERS.run(jobs, lambda: multiply(*operands, first, stop, weights.nibbles))
    return out


def attention_pieces(order: np.ndarray, kv_heads: int, parts: int) -> list[tuple[np.ndarray, int, int]]:
    """Decode attention over rows `order` (int64) cut for up to `parts` threads: (the rows, in order, C-contiguous;
    key/value heads low..high) a piece. One row by its key/value heads (a view of one row's heads is contiguous,
    many rows' are not), more by rows, so rows sharing pages stay together. Each head of each row stays whole in one
    piece, so the cut changes no number."""
    if len(order) == 1:
        bounds = np.linspace(0, kv_heads, min(parts, kv_heads) + 1).round().astype(int)
        row = np.ascontiguousarray(order, dtype=np.int64)
        return [(row, int(low), int(high)) for low, high in zip(bounds, bounds[1:])]
    return [(np.ascontiguousarray(part, dtype=np.int64), 0, kv_heads) for part in np.array_split(order, min(parts, len(order)))]


def attention_job(keys: np.ndarray, values: np.ndarray, queries: np.ndarray, tables: np.ndarray, lengths: np.ndarray,
                  order: np.ndarray, page_size: int, scale: float, scores: np.ndarray, out: np.ndarray) -> tuple[int, ...]:  # fmt: skip
    """The words of a job computing rows `order` as `attend_rows` would (operands checked by its caller, C-contiguous)."""
    kv_heads, slots, d = keys.shape
    rows, heads, _ = queries.shape
    return (ATTENTION, keys.ctypes.data, values.ctypes.data, page_size, kv_heads, slots, d, queries.ctypes.data, rows, heads,
            tables.ctypes.data, tables.shape[1], lengths.ctypes.data, order.ctypes.data, len(order),
            int(np.float64(scale).view(np.int64)), scores.ctypes.data, scores.shape[2], out.ctypes.data)  # fmt: skip
