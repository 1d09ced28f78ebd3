"""Worker threads for the parts of a kernel call beyond the caller's own, handed jobs without the GIL.

A layer's product on one row takes ~0.1 ms; handing half of it to a thread through Python (a queue, the
GIL passed back and forth, a sleeping thread woken) cost ~60 us a call here, so two threads ran no faster
than one. Here each worker runs a numba loop (`serve`, no GIL) that reads its job slot: the caller writes
the job's operands, bumps the slot's `posted` counter, runs its own part, and spins until the worker's `done`
counter catches up. A worker spins for a while after each job (the next layer's product is a few
microseconds away), then sleeps on a queue; every post also puts a wake-up token, so a sleeping worker
misses no job.

Jobs are int64 words: posted, done, then the operands the `serve` function reads, then `held`. Each post and
wait holds the pool's lock, so callers on several threads take turns. A forked child starts workers of its own.

Compiled code may post jobs itself (kernels/_decode_layers.py runs a decode step's layers in one call): a job
posted so carries no wake-up token, so it may only be posted inside `held`, which keeps the workers spinning
(`held` set, a job done first) until the block ends. A sleeping worker would never run it, and every later
post, which waits for its slot to be free, would wait forever.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

SPIN_CHECKS = 2_000_000  # idle reads of a job slot before a worker sleeps (~5 ms here: a step's gaps between jobs)
WAIT_ROUND = 1_000_000  # reads of a done counter between checks that the worker still lives
_WORD = ir.IntType(64)


@intrinsic
def read_acquire(typingctx, address):  # type: ignore[no-untyped-def]
    """The int64 at `address`, read from memory (an acquire load: nothing after it is read before it)."""

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.load_atomic(builder.inttoptr(args[0], ir.PointerType(_WORD)), "acquire", 8)

    return types.int64(types.int64), codegen


@intrinsic
def write_release(typingctx, address, value):  # type: ignore[no-untyped-def]
    """Store int64 `value` at `address` after everything written before it (a release store)."""

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        builder.store_atomic(args[1], builder.inttoptr(args[0], ir.PointerType(_WORD)), "release", 8)
        return context.get_dummy_value()

    return types.void(types.int64, types.int64), codegen


@njit(cache=True, nogil=True)
def _wait(address, value, checks):  # type: ignore[no-untyped-def]
    """Whether the int64 at `address` reached `value` within `checks` reads."""
    for _ in range(checks):
        if read_acquire(address) == value:
            return True
    return False


class _Worker:
    def __init__(self, serve: Callable[[int, int], None], fields: int) -> None:
        self.job = np.zeros(2 + fields + 1, dtype=np.int64)  # posted, done, operands, held (see `held_at`)
        self.at = int(self.job.ctypes.data)
        self.wake: queue.SimpleQueue[None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._work, args=(serve,), name="orgide-kernel", daemon=True)
        self.thread.start()

    def _work(self, serve: Callable[[int, int], None]) -> None:
        while True:
            serve(self.at, SPIN_CHECKS)
            try:
                while True:
                    self.wake.get_nowait()
            except queue.Empty:
                pass
            if self.job[0] == self.job[1]:  # nothing posted since the tokens were drained: sleep until a post
                self.wake.get()

    def post(self, operands: Sequence[int]) -> int:
        """Write a job into the slot once its last one is done (a job posted without waiting, a rest, may still
        be read), then publish it; its count, for `wait`."""
        self.wait(int(self.job[0]))
        self.job[2 : 2 + len(operands)] = operands
        posted = int(self.job[0]) + 1
        self.job[0] = posted
        self.wake.put(None)
        return posted

    def wait(self, posted: int) -> None:
        while not _wait(self.at + 8, posted, WAIT_ROUND):
            if not self.thread.is_alive():
                raise RuntimeError("a kernel worker thread died")


@njit(inline="always")
def held_at(job_at, fields):  # type: ignore[no-untyped-def]
    """The address of a slot's `held` word: while it is not 0, `serve` must not return however long it idles."""
    return job_at + 8 * (2 + fields)


class SpinningWorkers:
    """Threads that each run `serve(job_address, checks)` (a numba function without the GIL) over their job slot.

    `nothing` is a job `serve` completes without doing anything."""

    def __init__(self, serve: Callable[[int, int], None], fields: int, nothing: Sequence[int]) -> None:
        self._serve, self._fields, self._nothing = serve, fields, tuple(nothing)
        self._workers: list[_Worker] = []
        self._pid = os.getpid()
        self._lock = threading.Lock()
        os.register_at_fork(after_in_child=self._forget_parent)

    def _forget_parent(self) -> None:
        """In a forked child: the parent's workers did not come along, and the lock may have been held by one of
        its other threads (a decode step runs under it) that the child does not have."""
        self._workers, self._pid, self._lock = [], os.getpid(), threading.Lock()

    def _enlist(self, count: int) -> list[_Worker]:
        """The first `count` workers, started where there are fewer (the lock held)."""
        if self._pid != os.getpid():  # forked: the parent's workers did not come along
            self._workers, self._pid = [], os.getpid()
        while len(self._workers) < count:
            self._workers.append(_Worker(self._serve, self._fields))
        return self._workers[:count]

    @contextmanager
    def held(self, count: int) -> Iterator[np.ndarray]:
        """For a caller that posts jobs itself (from compiled code, into the slots whose addresses this yields, int64
        [count]): keeps `count` workers spinning, awake and idle at the start, until the block ends; other callers
        wait. A slot is posted as `post` does it: wait until done == posted, write the operands, then a release store
        of posted + 1."""
        with self._lock:
            workers = self._enlist(count)
            try:
                for worker in workers:
                    worker.job[-1] = 1
                for worker, posted in [(worker, worker.post(self._nothing)) for worker in workers]:
                    worker.wait(posted)  # it has read `held`'s 1 when it reads its next job
                yield np.array([worker.at for worker in workers], dtype=np.int64)
            finally:
                for worker in workers:
                    worker.job[-1] = 0

    def post_all(self, job: Sequence[int], wait: bool = False) -> None:
        """Post `job` to every worker there is; with `wait`, return once each has done it."""
        with self._lock:
            if self._pid == os.getpid():
                posted = [(worker, worker.post(job)) for worker in self._workers]
                for worker, count in posted if wait else ():
                    worker.wait(count)

    def run(self, jobs: Sequence[Sequence[int]], own: Callable[[], object]) -> None:
        """Post each job to a worker, call `own()` here, and return once every job is done."""
        with self._lock:
            posted = [(worker, worker.post(job)) for worker, job in zip(self._enlist(len(jobs)), jobs)]
            try:
                own()
            finally:
                for worker, count in posted:
                    worker.wait(count)
