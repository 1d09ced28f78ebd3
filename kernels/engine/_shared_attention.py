"""Decode attention on the CPU: every decode row over its own KV pages, read through its page table.

Agents of one org start with the same brief, so the decode rows of a step mostly attend over the
same KV pages. The numba kernel (kernels/_cpu_attention.py) reads each row's keys and values
straight from the store, page index by page index, rows in the plan's `decode_order` (rows sharing
their first pages side by side, so a shared page is read once from memory and then from the cache):
no gathers, no tables of blocks. Each row's scores, softmax and value sum run in its own position
order, so its numbers do not depend on what it is batched with, nor on how its pages are scattered
(batch invariance by construction; tests/kernels/test_shared_attention.py asserts it bit for bit).

From SPLIT_ROWS decode rows on, a step that has more than one torch thread cuts its rows (in plan order,
so rows sharing a brief stay together) into a few chunks a thread, and the threads take chunks until
none is left: the kernel releases the GIL, and each row is still computed whole by one call, so its
numbers do not change. A helper thread that wakes late (a sleeping thread took up to ~0.6 ms to start
here, against ~1.3 ms for 8 rows of a layer) takes fewer chunks instead of holding the layer up. Light
steps run on one thread. What a step's rows need beyond each layer's keys and queries (the operand
checks, the chunks, the scores buffer) is worked out once for its plan, not once a layer: one row's
attention took 0.45 ms a layer, 0.15 of it that work (bench/RESULTS.md, Session 8).

Shapes: R decode rows, NH query heads, NKV key/value heads, G query heads per key/value head, D head size.
"""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from kernels._cpu_attention import attend_rows, check_operands
from kernels.engine._step_plan import StepPlan

SPLIT_ROWS = 4  # decode rows from which the attention is split over the step's threads
CHUNKS_PER_THREAD = 2  # pieces of a split step a thread takes in turn (a late thread takes fewer)


@dataclass(frozen=True)
class _Rows:
    """What one plan's decode rows need in every layer."""

    plan: StepPlan
    threads: int  # torch's thread count the split was made for
    parts: int  # threads that take chunks
    scores: np.ndarray  # [R, NH, longest] float32 scratch: the workspace's "decode_scores"
    chunks: tuple[np.ndarray, ...]  # the rows in plan order, cut into pieces for the threads
    checked: tuple[tuple[int, ...], tuple[int, ...]]  # the keys' and queries' shapes check_operands passed


class _Chunks:
    """A split call's chunks, handed out one at a time; `done` is set when every chunk is computed."""

    def __init__(self, count: int) -> None:
        self.count, self.taken, self.finished = count, 0, 0
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.error: BaseException | None = None

    def take(self) -> int | None:
        with self.lock:
            if self.taken == self.count:
                return None
            self.taken += 1
            return self.taken - 1

    def finish(self, error: BaseException | None = None) -> None:
        with self.lock:
            self.error = self.error or error
            self.finished += 1
            if self.finished == self.count:
                self.done.set()


class Workspace:
    """Flat buffers kept from layer to layer and step to step.

    A fresh tensor of a few MiB per op and layer costs page faults on every call (the allocator hands
    large blocks back to the system); these grow to the largest step seen and stay. One Workspace
    serves one engine thread."""

    def __init__(self) -> None:
        self._buffers: dict[str, torch.Tensor] = {}
        self._helpers: tuple[ThreadPoolExecutor, int] | None = None
        self.rows: _Rows | None = None  # the last plan's decode rows, as every layer of its step uses them

    def helpers(self, count: int) -> ThreadPoolExecutor:
        """Threads for the parts of a step's work beyond the caller's own, at least `count` of them."""
        if self._helpers is None or self._helpers[1] < count:
            if self._helpers is not None:
                self._helpers[0].shutdown(wait=False)
            self._helpers = (ThreadPoolExecutor(count, thread_name_prefix="orgide-attention"), count)
        return self._helpers[0]

    def take(self, name: str, *shape: int) -> torch.Tensor:
        """A contiguous [*shape] float32 tensor, `name`'s own: valid until `name` is taken again."""
        size = math.prod(shape)
        buffer = self._buffers.get(name)
        if buffer is None or buffer.numel() < size:
            buffer = self._buffers[name] = torch.empty(size)
        return buffer[:size].view(shape)

    def gather(self, name: str, store: torch.Tensor, slots: torch.Tensor | slice, pages: torch.Tensor | None = None) -> torch.Tensor:
        """store [NKV, slots, D] -> [NKV, S, D]: a view for a slice, else a copy into `name`'s buffer, page by page
        when `pages` holds the same slots as whole pages (else slot by slot)."""
        if isinstance(slots, slice):
            return store[:, slots]
        kv_heads, _, d = store.shape
        out = self.take(name, kv_heads, len(slots), d)
        if pages is None:
            return torch.index_select(store, 1, slots, out=out)
        by_page = store.view(kv_heads, -1, len(slots) // len(pages) * d)
        return torch.index_select(by_page, 1, pages, out=out.view(kv_heads, len(pages), -1)).view(kv_heads, -1, d)


def shared_decode_attention(keys: torch.Tensor, values: torch.Tensor, queries: torch.Tensor, plan: StepPlan,
                            work: Workspace | None = None) -> torch.Tensor:  # fmt: skip
    """keys/values [NKV, slots, D] float32, queries [R, NH, D] float32 (the decode rows) -> [R, NH * D].

    `work`: buffers to reuse (and the step's rows, worked out for its first layer)."""
    rows, heads, d = queries.shape
    out = torch.empty(rows, heads * d)
    k, v, q = keys.numpy(), values.numpy(), queries.contiguous().numpy()
    tables, lengths = plan.decode_tables, plan.decode_lengths
    work = work or Workspace()
    step = work.rows
    if step is None or step.plan is not plan or step.threads != torch.get_num_threads() or step.checked != (k.shape, q.shape):
        step = work.rows = _prepare(k, v, q, plan, work)
    scores = step.scores
    o = out.numpy().reshape(rows, heads, d)
    if len(step.chunks) == 1:
        attend_rows(k, v, q, tables, lengths, step.chunks[0], plan.page_size, scores, o)
        return out
    chunks = _Chunks(len(step.chunks))

    def drain() -> None:
        while (index := chunks.take()) is not None:
            try:
                attend_rows(k, v, q, tables, lengths, step.chunks[index], plan.page_size, scores, o)
            except BaseException as error:
                chunks.finish(error)
            else:
                chunks.finish()

    helpers = work.helpers(step.parts - 1)
    for _ in range(step.parts - 1):
        helpers.submit(drain)
    drain()
    chunks.done.wait()  # not the helpers: one that wakes after the last chunk is taken has nothing to wait for
    if chunks.error is not None:
        raise chunks.error
    return out


def _prepare(k: np.ndarray, v: np.ndarray, q: np.ndarray, plan: StepPlan, work: Workspace) -> _Rows:
    """Check a plan's operands (every layer's keys and values are views of one store) and cut its rows."""
    rows, heads, _ = q.shape
    longest = int(plan.decode_lengths.max())
    scores = work.take("decode_scores", rows, heads, longest).numpy()  # taken here only: the step's rows own it
    out = np.empty_like(q)
    check_operands(k, v, q, plan.decode_tables, plan.decode_lengths, plan.page_size, scores, out)
    parts = min(torch.get_num_threads(), rows // 2) if rows >= SPLIT_ROWS else 1
    chunks = tuple(np.array_split(plan.decode_order, parts * CHUNKS_PER_THREAD)) if parts > 1 else (plan.decode_order,)
    return _Rows(plan, torch.get_num_threads(), parts, scores, chunks, (k.shape, q.shape))
