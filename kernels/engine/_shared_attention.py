"""Decode attention that reads a shared prefix's keys and values once for every sequence sharing it.

Agents of one org start with the same brief, so the decode rows of a step mostly attend over the
same KV pages; attending sequence by sequence reads those pages once per sequence. Here the rows of
a `DecodeGroup` (kernels/engine/_step_plan.py) compute their scores over the shared blocks in one
matmul per block and their value products over them in another, straight from the KV store (a
group's blocks are views of it when its pages are consecutive).

Batch invariance: a row's numbers must not depend on what it is batched with. Every row of at least
SHORT_CONTEXT positions (a `BlockedRow`), alone or in a group, computes its scores and value
products over fixed blocks of ATTENTION_BLOCK positions (block j: positions [j*B, (j+1)*B); the last
one padded to B positions from the row's last page, masked out of the softmax, the page's unwritten
slots zeroed in the store so their values are finite), each block a matmul of its own; its softmax
runs over its J*B positions and its products are added in one reduction over a [NKV, J, G*D] slice.
A group's block matmul has m G rows where the row alone has G: BLAS kernels are chosen by shape, and
for some shapes (M = 1, some small M) the rows of a taller product are summed in another order, so a
group forms only for shapes `grouping_is_exact` has checked on this machine. (The blocked sum
differs in its last bits from one matmul over all positions, the single-sequence forward's; the
engine equals itself alone, which tests/kernels/test_shared_attention.py asserts bit for bit.) Rows
shorter than SHORT_CONTEXT attend exactly as the single-sequence forward does.

The blocks of all rows live in three tables a layer fills in place (`_Layout`, built once per step;
the buffers, a `Workspace`, kept across steps): scores and probabilities as rows of B, products as
rows of G*D. The block matmuls write into them; one index_select per block count (a `_Class`) reads
them, so a layer's op count grows with the groups and the distinct block counts, not with the rows.
A group's blocks are views of the store when its pages are consecutive; the other blocks of all rows
are gathered page by page in one copy (T blocks, [NKV, T B, D]).

Shapes: R decode rows, G query heads per key/value head, NKV key/value heads, D head size,
B = ATTENTION_BLOCK, T own blocks (of all rows, past their groups'), m a group's rows, Jg a group's
blocks, n a class's rows, J their blocks.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch

from kernels.engine._step_plan import ATTENTION_BLOCK, BlockedRow, StepPlan


class Workspace:
    """Flat buffers the attention writes its tables into, kept from layer to layer and step to step.

    A fresh tensor of a few MiB per op and layer costs page faults on every call (the allocator hands
    large blocks back to the system); these grow to the largest step seen and stay."""

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


def shared_decode_attention(keys: torch.Tensor, values: torch.Tensor, queries: torch.Tensor, plan: StepPlan,
                            layout: _Layout | None = None, work: Workspace | None = None) -> torch.Tensor:  # fmt: skip
    """keys/values [NKV, slots, D], queries [R, NH, D] (the decode rows) -> [R, NH * D].

    `layout`: `decode_layout(plan, NKV, G)`, built once per step (here when None); `work`: buffers to reuse."""
    rows, heads, d = queries.shape
    kv_heads = keys.shape[0]
    g = heads // kv_heads
    out = torch.empty(rows, heads * d)
    scale = d**-0.5
    work = work or Workspace()
    for row in plan.decode_short:  # the single-sequence forward's ops
        k, v = work.gather("short_k", keys, plan.decode_each[row]), work.gather("short_v", values, plan.decode_each[row])  # [NKV, S, D]
        scores = torch.bmm(queries[row].view(kv_heads, g, d), k.transpose(1, 2)).mul_(scale)  # [NKV, G, S]
        out[row] = torch.bmm(torch.softmax(scores, dim=-1), v).view(heads * d)
    if not plan.decode_blocked:
        return out
    layout = layout or decode_layout(plan, kv_heads, g)
    q = (queries * scale).view(rows, kv_heads, g, d).transpose(0, 1)  # [NKV, R, G, D]
    own = plan.decode_own
    b, t = ATTENTION_BLOCK, layout.own_blocks
    scores = work.take("scores", layout.score_rows, b)  # rows of B: own blocks' [NKV, T, G], then each group's [NKV, Jg, m, G]
    products = work.take("products", layout.product_rows, g * d)  # rows of G*D: own blocks' [NKV, T], then each group's [NKV, Jg, m]
    if t:
        assert own is not None
        if own.unwritten is not None:  # they may hold anything; their probabilities are 0, their values must be finite
            values.index_fill_(1, own.unwritten, 0.0)
        own_k = work.gather("own_k", keys, own.slots, own.pages)  # [NKV, T B, D]
        own_v = work.gather("own_v", values, own.slots, own.pages)
        own_q = q.index_select(1, own.rows)  # [NKV, T, G, D]
        own_scores = scores[: kv_heads * t * g].view(kv_heads, t, g, b)
        torch.bmm(own_q.view(kv_heads * t, g, d), own_k.view(kv_heads * t, b, d).transpose(1, 2), out=own_scores.view(kv_heads * t, g, b))
        if own.pad is not None:
            own_scores.masked_fill_(own.pad[:, None], float("-inf"))  # [T, 1, B]: past the rows' lengths
    group_v = []
    for i, (group, start) in enumerate(zip(plan.decode_groups, layout.group_scores, strict=True)):
        m, jg = len(group.rows), group.blocks
        group_q = q.index_select(1, layout.group_rows[i])  # [NKV, m, G, D]
        k = work.gather(f"group_k{i}", keys, group.slots, group.pages).view(kv_heads, jg, b, d)
        group_v.append(work.gather(f"group_v{i}", values, group.slots, group.pages).view(kv_heads, jg, b, d))
        part = scores[start : start + kv_heads * jg * m * g].view(kv_heads, jg, m * g, b)
        for h in range(kv_heads):
            block_scores(group_q[h].view(m * g, d), k[h], out=part[h])  # views of the store when a slice
    gathered = work.take("gathered", layout.prob_rows, b)
    p = work.take("probs", layout.prob_rows, b)  # rows of B, class after class
    for c in layout.classes:
        n, j, rows_of_c = len(c.rows), c.blocks, slice(c.first_prob, c.first_prob + len(c.score_index))
        x = torch.index_select(scores, 0, c.score_index, out=gathered[rows_of_c]).view(n, kv_heads * g, j * b)  # [n, NKV G, J B]
        torch.ops.aten._softmax.out(x, -1, False, out=p[rows_of_c].view(n, kv_heads * g, j * b))
    if t:
        own_p = torch.index_select(p, 0, layout.own_probs, out=work.take("own_p", kv_heads * t * g, b))
        torch.bmm(own_p.view(kv_heads * t, g, b), own_v.view(kv_heads * t, b, d), out=products[: kv_heads * t].view(kv_heads * t, g, d))
    for i, (group, v, start, index) in enumerate(zip(plan.decode_groups, group_v, layout.group_products, layout.group_probs, strict=True)):
        m, jg = len(group.rows), group.blocks
        group_p = torch.index_select(p, 0, index, out=work.take(f"group_p{i}", len(index), b)).view(kv_heads, jg, m * g, b)
        part = products[start : start + kv_heads * jg * m].view(kv_heads, jg, m * g, d)
        for h in range(kv_heads):
            block_products(group_p[h], v[h], out=part[h])
    for c in layout.classes:
        n, j = len(c.rows), c.blocks
        picked = torch.index_select(products, 0, c.product_index, out=work.take("picked", len(c.product_index), g * d))
        summed = torch.sum(picked.view(n * kv_heads, j, g * d), dim=1, out=work.take("summed", n * kv_heads, g * d))  # [n NKV, G D]
        out.index_copy_(0, c.row_index, summed.view(n, heads * d))
    return out


def block_scores(q: torch.Tensor, k: torch.Tensor, out: torch.Tensor) -> None:
    """q [M, D], k [J, B, D] -> out [J, M, B]: block j's scores, a matmul of its own."""
    torch.bmm(q.expand(k.shape[0], *q.shape), k.transpose(1, 2), out=out)


def block_products(p: torch.Tensor, v: torch.Tensor, out: torch.Tensor) -> None:
    """p [J, M, B], v [J, B, D] -> out [J, M, D]: block j's p[j] @ v[j]."""
    torch.bmm(p, v, out=out)


@dataclass(frozen=True)
class _Class:
    """Blocked rows with the same number of blocks: one softmax and one reduction for all of them."""

    rows: tuple[int, ...]
    row_index: torch.Tensor  # [n] long, their decode rows
    blocks: int  # J
    score_index: torch.Tensor  # [n NKV G J] long, rows of the score table in (row, NKV, G, J) order
    product_index: torch.Tensor  # [n NKV J] long, rows of the product table in (row, NKV, J) order
    first_prob: int  # its first row in the probability table


@dataclass(frozen=True)
class _Layout:
    own_blocks: int  # T
    score_rows: int
    product_rows: int
    prob_rows: int
    group_rows: tuple[torch.Tensor, ...]  # per group [m] long, its decode rows
    group_scores: tuple[int, ...]  # per group, its first row in the score table
    group_products: tuple[int, ...]
    group_probs: tuple[torch.Tensor, ...]  # per group [NKV Jg m G] long, rows of the probability table
    own_probs: torch.Tensor  # [NKV T G] long
    classes: tuple[_Class, ...]


def decode_layout(plan: StepPlan, kv_heads: int, g: int) -> _Layout:
    """Where every (row, head, block) lives in a layer's score, probability and product tables."""
    t = len(plan.decode_own.rows) if plan.decode_own is not None else 0
    heads = torch.arange(kv_heads)[None, :, None]  # [1, NKV, 1]
    group_scores, group_products, start_s, start_p = [], [], kv_heads * t * g, kv_heads * t
    for group in plan.decode_groups:
        group_scores.append(start_s)
        group_products.append(start_p)
        start_s += kv_heads * group.blocks * len(group.rows) * g
        start_p += kv_heads * group.blocks * len(group.rows)
    by_blocks: dict[int, list[BlockedRow]] = {}
    for r in plan.decode_blocked:
        by_blocks.setdefault(r.blocks, []).append(r)
    classes = []
    prob_of_score = torch.empty(start_s, dtype=torch.long)  # [score rows] the probability row of each score row
    first_prob = 0
    for j, members in by_blocks.items():
        product_index = torch.empty(len(members), kv_heads, j, dtype=torch.long)  # [n, NKV, J]
        alike: dict[tuple[int, int], list[int]] = {}  # rows with the same group and shared blocks, computed together
        for n, r in enumerate(members):
            alike.setdefault((r.group, r.shared), []).append(n)
        for (group_index, shared), picked in alike.items():
            first_own = torch.tensor([members[n].first_own for n in picked])[:, None, None]  # [k, 1, 1]
            product_index[picked, :, shared:] = heads * t + first_own + torch.arange(j - shared)  # own blocks: [NKV, T] rows
            if shared:
                m = len(plan.decode_groups[group_index].rows)
                member = torch.tensor([members[n].member for n in picked])[:, None, None]
                product_index[picked, :, :shared] = group_products[group_index] + heads * shared * m + torch.arange(shared) * m + member
        # a block's G score rows follow its product row: score row = product row * G + query head, both tables in the same order
        score_index = (product_index[:, :, None, :] * g + torch.arange(g)[:, None]).flatten()  # [n NKV G J]
        prob_of_score[score_index] = torch.arange(first_prob, first_prob + len(score_index))
        rows = tuple(r.row for r in members)
        classes.append(_Class(rows, torch.tensor(rows, dtype=torch.long), j, score_index, product_index.flatten(), first_prob))
        first_prob += len(score_index)
    return _Layout(
        own_blocks=t,
        score_rows=start_s,
        product_rows=start_p,
        prob_rows=first_prob,
        group_rows=tuple(torch.tensor(group.rows, dtype=torch.long) for group in plan.decode_groups),
        group_scores=tuple(group_scores),
        group_products=tuple(group_products),
        group_probs=tuple(prob_of_score[start : start + kv_heads * group.blocks * len(group.rows) * g]
                          for group, start in zip(plan.decode_groups, group_scores, strict=True)),  # fmt: skip
        own_probs=prob_of_score[: kv_heads * t * g],
        classes=tuple(classes),
    )


@functools.cache
def grouping_is_exact(query_heads_per_kv: int, head_dim: int, rows: int, threads: int) -> bool:
    """Whether this machine's matmuls give each of `rows` rows of a group the bits it gets alone.

    A group's block matmuls have m G rows where a row alone has G; BLAS kernels are chosen by shape,
    and some (small M, or M = 1) sum in another order. Checked once per shape on random data (the
    kernel a shape gets does not depend on the values), with the very calls attention makes."""
    del threads  # part of the cache key: kernels may be chosen by the thread count too
    g, d, b, j = query_heads_per_kv, head_dim, ATTENTION_BLOCK, 2
    gen = torch.Generator().manual_seed(0)
    k, v = torch.randn(j, b, d, generator=gen), torch.randn(j, b, d, generator=gen)
    q, p = torch.randn(rows * g, d, generator=gen), torch.randn(j, rows * g, b, generator=gen)  # a group's operands
    scores, products = torch.empty(j, rows * g, b), torch.empty(j, rows * g, d)
    block_scores(q, k, out=scores)
    block_products(p, v, out=products)
    for i in range(rows):
        own = slice(i * g, (i + 1) * g)
        alone_scores, alone_products = torch.empty(j, g, b), torch.empty(j, g, d)
        torch.bmm(q[own].expand(j, g, d).contiguous(), k.transpose(1, 2), out=alone_scores)  # the own blocks' calls
        torch.bmm(p[:, own].contiguous(), v, out=alone_products)
        if not torch.equal(alone_scores, scores[:, own]) or not torch.equal(alone_products, products[:, own]):
            return False
    return True
