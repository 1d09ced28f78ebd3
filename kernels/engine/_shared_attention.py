"""Decode attention on the CPU: every decode row over its own KV pages, read through its page table.

Agents of one org start with the same brief, so the decode rows of a step mostly attend over the
same KV pages. The numba kernel (kernels/_cpu_attention.py) reads each row's keys and values
straight from the store, page index by page index, rows in the plan's `decode_order` (rows sharing
their first pages side by side, so a shared page is read once from memory and then from the cache):
no gathers, no tables of blocks. Each row's scores, softmax and value sum run in its own position
order, so its numbers do not depend on what it is batched with, nor on how its pages are scattered
(batch invariance by construction; tests/kernels/test_shared_attention.py asserts it bit for bit).

When the kernels have more than one thread (kernels/_kernel_jobs.py), a step cuts its rows (in plan order,
so rows sharing a brief stay together) into a piece a thread, or, for a single row, its key/value heads:
this thread computes the first piece, the kernels' spinning workers the others (no GIL, no sleeping thread
to wake: a thread pool's helper took up to ~0.6 ms to start here, against ~1.3 ms for 8 rows of a layer).
Each head of each row is still computed whole by one call, and no head's arithmetic involves another's,
so the numbers do not change. What a step's rows need beyond each layer's keys and queries (the operand
checks, the pieces, the scores buffer) is worked out once for its plan, not once a layer: one row's
attention took 0.45 ms a layer, 0.15 of it that work (bench/RESULTS.md, Session 8).

Shapes: R decode rows, NH query heads, NKV key/value heads, G query heads per key/value head, D head size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from kernels._cpu_attention import attend_rows, check_operands
from kernels._kernel_jobs import WORKERS, attention_job, attention_pieces, threads
from kernels.engine._step_plan import StepPlan


@dataclass(frozen=True)
class _Rows:
    """What one plan's decode rows need in every layer."""

    plan: StepPlan
    threads: int  # the kernels' thread count the split was made for
    scores: np.ndarray  # [R, NH, longest] float32 scratch: the workspace's "decode_scores"
    pieces: tuple[tuple[np.ndarray, int, int], ...]  # a thread's rows (in plan order) and key/value heads first..stop
    checked: tuple[tuple[int, ...], tuple[int, ...]]  # the keys' and queries' shapes check_operands passed


class Workspace:
    """Flat buffers kept from layer to layer and step to step.

    A fresh tensor of a few MiB per op and layer costs page faults on every call (the allocator hands
    large blocks back to the system); these grow to the largest step seen and stay. One Workspace
    serves one engine thread."""

    def __init__(self) -> None:
        self._buffers: dict[str, torch.Tensor] = {}
        self.rows: _Rows | None = None  # the last plan's decode rows, as every layer of its step uses them

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
    if step is None or step.plan is not plan or step.threads != threads() or step.checked != (k.shape, q.shape):
        step = work.rows = _prepare(k, v, q, plan, work)
    scores = step.scores
    o = out.numpy().reshape(rows, heads, d)
    (own, first, stop), *others = step.pieces
    if not others:
        attend_rows(k, v, q, tables, lengths, own, plan.page_size, scores, o)
        return out
    scale, g = d**-0.5, heads // k.shape[0]

    def views(low: int, high: int) -> tuple[np.ndarray, ...]:  # key/value heads low..high (whole arrays for all)
        if (low, high) == (0, k.shape[0]):
            return k, v, q, scores, o
        return k[low:high], v[low:high], q[:, low * g : high * g], scores[:, low * g : high * g], o[:, low * g : high * g]

    jobs = []
    for rows_, low, high in others:
        kp, vp, qp, sp, op = views(low, high)
        jobs.append(attention_job(kp, vp, qp, tables, lengths, rows_, plan.page_size, scale, sp, op))
    kp, vp, qp, sp, op = views(first, stop)
    WORKERS.run(jobs, lambda: attend_rows(kp, vp, qp, tables, lengths, own, plan.page_size, sp, op, scale))
    return out


def _prepare(k: np.ndarray, v: np.ndarray, q: np.ndarray, plan: StepPlan, work: Workspace) -> _Rows:
    """Check a plan's operands (every layer's keys and values are views of one store) and cut its rows."""
    rows, heads, _ = q.shape
    longest = int(plan.decode_lengths.max())
    scores = work.take("decode_scores", rows, heads, longest).numpy()  # taken here only: the step's rows own it
    out = np.empty_like(q)
    check_operands(k, v, q, plan.decode_tables, plan.decode_lengths, plan.page_size, scores, out)
    pieces = tuple(attention_pieces(plan.decode_order, k.shape[0], threads()))
    return _Rows(plan, threads(), scores, pieces, (k.shape, q.shape))
