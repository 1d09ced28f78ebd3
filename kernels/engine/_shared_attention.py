"""Decode attention that reads a shared prefix's keys and values once for every sequence sharing it.

Agents of one org start with the same brief, so the decode rows of a step mostly attend over the
same KV pages; attending sequence by sequence reads those pages once per sequence. Here the rows of
a `DecodeGroup` (kernels/engine/_step_plan.py) compute their scores over the shared blocks in one
matmul and their value products over them in another.

Batch invariance: a row's numbers must not depend on what it is batched with. Every row, alone or
in a group, computes its scores and its value products over fixed blocks of ATTENTION_BLOCK
positions (block j: positions [j*B, (j+1)*B), then a last partial block), each block a matmul of
its own, and adds the blocks' products in one reduction over a [n, NKV, J, G, D] tensor. A group's
block matmul has m G rows where the row alone has G: BLAS kernels are chosen by shape, and for some
shapes (M = 1, some small M) the rows of a taller product are summed in another order, so a group
forms only for shapes `grouping_is_exact` has checked on this machine. (The blocked sum differs in
its last bits from one matmul over all positions, the single-sequence forward's; the engine equals
itself alone, which tests/kernels/test_shared_attention.py asserts bit for bit.)

Rows of the same shape (the same group and context length: agents that started together) are
computed side by side, as batched matmuls whose every batch element is the row's own product.

Shapes: B decode rows, G query heads per key/value head, NKV key/value heads, D head size,
S a row's context, Sg a group's shared positions, m a group's rows, n a class's rows, J blocks.
"""

from __future__ import annotations

import functools

import torch

from kernels.engine._step_plan import ATTENTION_BLOCK, StepPlan


def shared_decode_attention(keys: torch.Tensor, values: torch.Tensor, queries: torch.Tensor, plan: StepPlan) -> torch.Tensor:
    """keys/values [NKV, slots, D], queries [B, NH, D] (the decode rows) -> [B, NH * D]."""
    rows, heads, d = queries.shape
    kv_heads = keys.shape[0]
    g = heads // kv_heads
    q = queries.view(rows, kv_heads, g, d)
    scale = d**-0.5
    group_scores = []  # per group [NKV, m, G, Sg]
    for group in plan.decode_groups:
        m = len(group.rows)
        shared_q = q[list(group.rows)].transpose(0, 1).reshape(kv_heads, m * g, d)  # [NKV, m G, D]
        group_scores.append(_block_scores(shared_q, _slots(keys, group.slots), group.blocks).view(kv_heads, m, g, -1))
    probs, rest_values = [], []
    for c in plan.decode_classes:  # rows of one shape side by side: n of them, `rest` positions each past the group's
        n, rest = len(c.rows), c.length - c.shared
        k = _by_row(keys, c.rest_slots, n, rest)  # [n NKV, rest, D]
        rest_values.append(_by_row(values, c.rest_slots, n, rest))
        class_q = q[list(c.rows)].view(n * kv_heads, g, d)
        whole = rest // ATTENTION_BLOCK * ATTENTION_BLOCK
        scores = torch.bmm(class_q, k[:, whole:].transpose(1, 2))  # [n NKV, G, rest - whole]: the last, partial block
        if whole:
            scores = torch.cat([_block_scores(class_q, k[:, :whole], whole // ATTENTION_BLOCK), scores], dim=2)
        scores = scores.view(n, kv_heads, g, rest)
        if c.group >= 0:
            shared = group_scores[c.group][:, c.offset : c.offset + n].transpose(0, 1)  # [n, NKV, G, Sg]
            scores = torch.cat([shared, scores], dim=3)  # [n, NKV, G, S]
        probs.append(torch.softmax(scores.mul_(scale), dim=-1))
    pieces: list[list[torch.Tensor]] = [[] for _ in plan.decode_classes]  # per class [n, NKV, j, G, D] each
    for index, group in enumerate(plan.decode_groups):
        members = sorted((i for i, c in enumerate(plan.decode_classes) if c.group == index), key=lambda i: plan.decode_classes[i].offset)
        sg = group.blocks * ATTENTION_BLOCK
        shared_p = torch.cat([probs[i][..., :sg] for i in members]).transpose(0, 1)  # [NKV, m, G, Sg]
        products = _block_products(shared_p.reshape(kv_heads, -1, sg), _slots(values, group.slots), group.blocks)  # [NKV, J, m G, D]
        products = products.view(kv_heads, group.blocks, -1, g, d).permute(2, 0, 1, 3, 4)  # [m, NKV, J, G, D]
        for i in members:
            c = plan.decode_classes[i]
            pieces[i].append(products[c.offset : c.offset + len(c.rows)])
    out = torch.empty(rows, heads * d)
    for i, c in enumerate(plan.decode_classes):
        n, rest = len(c.rows), c.length - c.shared
        p = probs[i][..., c.shared :].reshape(n * kv_heads, g, rest)  # [n NKV, G, rest]
        v = rest_values[i]  # [n NKV, rest, D]
        whole = rest // ATTENTION_BLOCK * ATTENTION_BLOCK
        if whole:
            pieces[i].append(_block_products(p[..., :whole], v[:, :whole], whole // ATTENTION_BLOCK).view(n, kv_heads, -1, g, d))
        if rest > whole:
            pieces[i].append(torch.bmm(p[..., whole:], v[:, whole:]).view(n, kv_heads, 1, g, d))
        out[list(c.rows)] = torch.cat(pieces[i], dim=2).sum(dim=2).view(n, heads * d)  # [n, NKV, J, G, D] -> [n, NH * D]
    return out


def _by_row(store: torch.Tensor, slots: torch.Tensor | slice, rows: int, count: int) -> torch.Tensor:
    """store [NKV, slots, D], the slots of `rows` rows side by side -> [rows NKV, count, D]."""
    kv_heads, _, d = store.shape
    picked = _slots(store, slots)  # [NKV, rows count, D]
    if rows == 1:
        return picked
    return picked.view(kv_heads, rows, count, d).transpose(0, 1).reshape(rows * kv_heads, count, d)


def _block_scores(q: torch.Tensor, k: torch.Tensor, count: int) -> torch.Tensor:
    """q [H, M, D], k [H, J B, D] -> [H, M, J B]: the scores of block j in a matmul of its own."""
    heads, m, d = q.shape
    blocks_q = q[:, None].expand(heads, count, m, d).reshape(heads * count, m, d)
    blocks_k = k.reshape(heads * count, ATTENTION_BLOCK, d)
    scores = torch.bmm(blocks_q, blocks_k.transpose(1, 2))  # [H J, M, B]
    return scores.view(heads, count, m, ATTENTION_BLOCK).transpose(1, 2).reshape(heads, m, count * ATTENTION_BLOCK)


def _block_products(p: torch.Tensor, v: torch.Tensor, count: int) -> torch.Tensor:
    """p [H, M, J B], v [H, J B, D] -> [H, J, M, D]: block j's p[..., jB:(j+1)B] @ v[jB:(j+1)B]."""
    heads, m, _ = p.shape
    d = v.shape[-1]
    a = p.reshape(heads, m, count, ATTENTION_BLOCK).transpose(1, 2).reshape(heads * count, m, ATTENTION_BLOCK)
    b = v.reshape(heads * count, ATTENTION_BLOCK, d)
    return torch.bmm(a, b).view(heads, count, m, d)


def _slots(store: torch.Tensor, slots: torch.Tensor | slice) -> torch.Tensor:
    """store [NKV, slots, D] -> [NKV, S, D]: a view for a slice; index_select copies rows far faster than indexing."""
    return store[:, slots] if isinstance(slots, slice) else store.index_select(1, slots)


@functools.cache
def grouping_is_exact(query_heads_per_kv: int, head_dim: int, rows: int, threads: int) -> bool:
    """Whether this machine's matmuls give each of `rows` rows of a group the bits it gets alone.

    A group's block matmuls have m G rows where a row alone has G; BLAS kernels are chosen by shape,
    and some (small M, or M = 1) sum in another order. Checked once per shape on random data (the
    kernel a shape gets does not depend on the values)."""
    del threads  # part of the cache key: kernels may be chosen by the thread count too
    g, d, b = query_heads_per_kv, head_dim, ATTENTION_BLOCK
    gen = torch.Generator().manual_seed(0)
    k, v = torch.randn(2, b, d, generator=gen), torch.randn(2, b, d, generator=gen)
    q, p = torch.randn(2, rows * g, d, generator=gen), torch.randn(2, rows * g, b, generator=gen)  # a group's operands
    scores, products = torch.bmm(q, k.transpose(1, 2)), torch.bmm(p, v)
    for i in range(rows):
        own = slice(i * g, (i + 1) * g)
        if not torch.equal(torch.bmm(q[:, own].contiguous(), k.transpose(1, 2)), scores[:, own]):
            return False
        if not torch.equal(torch.bmm(p[:, own].contiguous(), v), products[:, own]):
            return False
    return True
