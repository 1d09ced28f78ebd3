"""Decode attention on the CPU: every decode row over its own KV pages, read through its page table.

Agents of one org start with the same brief, so the decode rows of a step mostly attend over the
same KV pages. The numba kernel (kernels/engine/_cpu_attention.py) reads each row's keys and values
straight from the store, page index by page index, rows in the plan's `decode_order` (rows sharing
their first pages side by side, so a shared page is read once from memory and then from the cache):
no gathers, no tables of blocks. Each row's scores, softmax and value sum run in its own position
order, so its numbers do not depend on what it is batched with, nor on how its pages are scattered
(batch invariance by construction; tests/kernels/test_shared_attention.py asserts it bit for bit).

The kernel runs on the calling thread (a split of the rows over two threads, measured on this
2-core machine, gave no steadier wall time and more CPU time: bench/RESULTS.md, Session 5 (H8)).

Shapes: R decode rows, NH query heads, NKV key/value heads, G query heads per key/value head, D head size.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from kernels.engine._cpu_attention import attend_rows, check_operands
from kernels.engine._step_plan import StepPlan


class Workspace:
    """Flat buffers kept from layer to layer and step to step.

    A fresh tensor of a few MiB per op and layer costs page faults on every call (the allocator hands
    large blocks back to the system); these grow to the largest step seen and stay. One Workspace
    serves one engine thread."""

    def __init__(self) -> None:
        self._buffers: dict[str, torch.Tensor] = {}

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


def decode_layout(plan: StepPlan, kv_heads: int = 0, g: int = 0) -> np.ndarray:
    """[R] int64: the decode rows in the order the kernel attends them (`plan.decode_order`); nothing else to build.

    `kv_heads`, `g`: unused (the kernel reads them off its operands); accepted until callers drop them."""
    del kv_heads, g
    return plan.decode_order


def shared_decode_attention(keys: torch.Tensor, values: torch.Tensor, queries: torch.Tensor, plan: StepPlan,
                            layout: np.ndarray | None = None, work: Workspace | None = None) -> torch.Tensor:  # fmt: skip
    """keys/values [NKV, slots, D] float32, queries [R, NH, D] float32 (the decode rows) -> [R, NH * D].

    `layout`: `decode_layout(plan)` (here when None); `work`: buffers to reuse."""
    rows, heads, d = queries.shape
    order = plan.decode_order if layout is None else layout
    out = torch.empty(rows, heads * d)
    k, v, q = keys.numpy(), values.numpy(), queries.contiguous().numpy()
    tables, lengths = plan.decode_tables, plan.decode_lengths
    scores = (work or Workspace()).take("scores", rows, heads, int(lengths.max())).numpy()
    o = out.numpy().reshape(rows, heads, d)
    check_operands(k, v, q, tables, lengths, plan.page_size, scores, o)
    attend_rows(k, v, q, tables, lengths, order, plan.page_size, scores, o)
    return out


@functools.cache
def grouping_is_exact(query_heads_per_kv: int, head_dim: int, rows: int, threads: int) -> bool:
    """Whether this machine's block matmuls give each of `rows` rows stacked in one matmul the bits it gets alone.

    No longer consulted by `plan_step` (decode attention is exact per row by construction); kept while
    the runner and bench/bench_decode_attention.py still import it."""
    del threads  # part of the cache key: kernels may be chosen by the thread count too
    g, d, b, j = query_heads_per_kv, head_dim, 64, 2
    gen = torch.Generator().manual_seed(0)
    k, v = torch.randn(j, b, d, generator=gen), torch.randn(j, b, d, generator=gen)
    q, p = torch.randn(rows * g, d, generator=gen), torch.randn(j, rows * g, b, generator=gen)
    scores, products = torch.bmm(q.expand(j, *q.shape), k.transpose(1, 2)), torch.bmm(p, v)
    for i in range(rows):
        own = slice(i * g, (i + 1) * g)
        alone_scores = torch.bmm(q[own].expand(j, g, d).contiguous(), k.transpose(1, 2))
        if not torch.equal(alone_scores, scores[:, own]) or not torch.equal(torch.bmm(p[:, own].contiguous(), v), products[:, own]):
            return False
    return True
