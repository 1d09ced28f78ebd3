"""Decode attention on the CPU: every decode row over its own KV pages, read through its page table.

Agents of one org start with the same brief, so the decode rows of a step mostly attend over the
same KV pages. The numba kernel (kernels/_cpu_attention.py) reads each row's keys and values
straight from the store, page index by page index, rows in the plan's `decode_order` (rows sharing
their first pages side by side, so a shared page is read once from memory and then from the cache):
no gathers, no tables of blocks. Each row's scores, softmax and value sum run in its own position
order, so its numbers do not depend on what it is batched with, nor on how its pages are scattered
(batch invariance by construction; tests/kernels/test_shared_attention.py asserts it bit for bit).

From SPLIT_ROWS decode rows on, a step that has more than one torch thread splits its rows (in plan order,
so rows sharing a brief stay together) into one part a thread: the kernel releases the GIL, and each
row is still computed whole by one call, so its numbers do not change. With the 16-lane kernels the
attention is arithmetic-bound there: 8 rows at context 1,050 took 0.90 -> 0.63 ms a layer on two
threads, 16 rows 1.45-1.90 -> 1.14-1.21 ms (bench/RESULTS.md, Session 7). Light steps run on one thread.

Shapes: R decode rows, NH query heads, NKV key/value heads, G query heads per key/value head, D head size.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from kernels._cpu_attention import attend_rows, check_operands
from kernels.engine._step_plan import StepPlan

SPLIT_ROWS = 4  # decode rows from which the attention is split over the step's threads


class Workspace:
    """Flat buffers kept from layer to layer and step to step.

    A fresh tensor of a few MiB per op and layer costs page faults on every call (the allocator hands
    large blocks back to the system); these grow to the largest step seen and stay. One Workspace
    serves one engine thread."""

    def __init__(self) -> None:
        self._buffers: dict[str, torch.Tensor] = {}
        self._helpers: tuple[ThreadPoolExecutor, int] | None = None

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

    `work`: buffers to reuse."""
    rows, heads, d = queries.shape
    order = plan.decode_order
    out = torch.empty(rows, heads * d)
    k, v, q = keys.numpy(), values.numpy(), queries.contiguous().numpy()
    tables, lengths = plan.decode_tables, plan.decode_lengths
    work = work or Workspace()
    scores = work.take("scores", rows, heads, int(lengths.max())).numpy()
    o = out.numpy().reshape(rows, heads, d)
    check_operands(k, v, q, tables, lengths, plan.page_size, scores, o)
    parts = min(torch.get_num_threads(), rows // 2) if rows >= SPLIT_ROWS else 1
    if parts < 2:
        attend_rows(k, v, q, tables, lengths, order, plan.page_size, scores, o)
        return out
    mine, *theirs = np.array_split(order, parts)
    helpers = work.helpers(parts - 1)
    running = [helpers.submit(attend_rows, k, v, q, tables, lengths, part, plan.page_size, scores, o) for part in theirs]
    attend_rows(k, v, q, tables, lengths, mine, plan.page_size, scores, o)
    for run in running:
        run.result()
    return out
