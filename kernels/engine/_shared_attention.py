"""Decode attention that reads a shared prefix's keys and values once for every sequence sharing it.

Agents of one org start with the same brief, so the decode rows of a step mostly attend over the
same KV pages; attending sequence by sequence reads those pages once per sequence. Here the rows of
a `DecodeGroup` (kernels/engine/_step_plan.py) compute their scores over the shared blocks in one
matmul and their value products over them in another.

Batch invariance: a row's numbers must not depend on what it is batched with. Scores are dot
products over D, the same whichever matmul computes them, so each row's softmax sees exactly the
scores it would see alone. The value products are summed over fixed blocks of ATTENTION_BLOCK
positions (block j: positions [j*B, (j+1)*B)), each block a matmul of its own, and the blocks are
added in one reduction over a [NKV, J, G, D] tensor: the same operations, on the same operands,
whether the block was computed for a group or for the row alone. (The sum differs in its last bits
from one matmul over all positions, the single-sequence forward's; the engine equals itself alone.)

Shapes: B decode rows, G query heads per key/value head, NKV key/value heads, D head size,
S a row's context, Sg a group's shared positions, J blocks.
"""

from __future__ import annotations

import torch

from kernels.engine._step_plan import ATTENTION_BLOCK, StepPlan


def shared_decode_attention(keys: torch.Tensor, values: torch.Tensor, queries: torch.Tensor, plan: StepPlan) -> torch.Tensor:
    """keys/values [NKV, slots, D], queries [B, NH, D] (the decode rows) -> [B, NH * D]."""
    rows, heads, d = queries.shape
    kv_heads = keys.shape[0]
    g = heads // kv_heads
    q = queries.view(rows, kv_heads, g, d)
    scale = d**-0.5
    group_scores: dict[int, torch.Tensor] = {}
    for group in plan.decode_groups:
        shared_q = q[list(group.rows)].transpose(0, 1).reshape(kv_heads, len(group.rows) * g, d)  # [NKV, n G, D]
        scores = torch.bmm(shared_q, _slots(keys, group.slots).transpose(1, 2))  # [NKV, n G, Sg]
        for i, row in enumerate(group.rows):
            group_scores[row] = scores[:, i * g : (i + 1) * g]
    rest_keys = rest_values = None
    if plan.decode_rest_gather is not None:
        rest_keys = keys.index_select(1, plan.decode_rest_gather)  # [NKV, sum of rests, D]
        rest_values = values.index_select(1, plan.decode_rest_gather)
    probs, rests = [], []
    for row in range(rows):
        span, direct = plan.decode_rest_spans[row], plan.decode_rest_direct[row]
        k = (keys if direct else rest_keys)[:, span]  # type: ignore[index]  # [NKV, S - shared, D]
        rests.append((values if direct else rest_values)[:, span])  # type: ignore[index]
        scores = torch.bmm(q[row], k.transpose(1, 2))  # [NKV, G, S - shared]
        if row in group_scores:
            scores = torch.cat([group_scores[row], scores], dim=2)  # [NKV, G, S]
        probs.append(torch.softmax(scores.mul_(scale), dim=-1))
    blocks: list[list[torch.Tensor]] = [[] for _ in range(rows)]
    for group in plan.decode_groups:
        n, sg = len(group.rows), group.blocks * ATTENTION_BLOCK
        shared_p = torch.cat([probs[row][:, :, :sg] for row in group.rows], dim=1)  # [NKV, n G, Sg]
        products = _block_products(shared_p, _slots(values, group.slots), group.blocks)  # [NKV, J, n G, D]
        for i, row in enumerate(group.rows):
            blocks[row].append(products[:, :, i * g : (i + 1) * g])
    out = []
    for row in range(rows):
        p = probs[row][:, :, plan.decode_shared[row] :]  # [NKV, G, S - shared]
        v = rests[row]
        whole = p.shape[-1] // ATTENTION_BLOCK * ATTENTION_BLOCK
        if whole:
            blocks[row].append(_block_products(p[:, :, :whole], v[:, :whole], whole // ATTENTION_BLOCK))
        if p.shape[-1] > whole:
            blocks[row].append(torch.bmm(p[:, :, whole:], v[:, whole:])[:, None])  # [NKV, 1, G, D]
        out.append(torch.cat(blocks[row], dim=1).sum(dim=1).view(1, heads * d))  # [NKV, J, G, D] -> [1, NH * D]
    return torch.cat(out)


def _block_products(p: torch.Tensor, v: torch.Tensor, count: int) -> torch.Tensor:
    """p [NKV, M, J B], v [NKV, J B, D] -> [NKV, J, M, D]: block j's p[..., jB:(j+1)B] @ v[jB:(j+1)B]."""
    kv_heads, m, _ = p.shape
    d = v.shape[-1]
    a = p.reshape(kv_heads, m, count, ATTENTION_BLOCK).transpose(1, 2).reshape(kv_heads * count, m, ATTENTION_BLOCK)
    b = v.reshape(kv_heads * count, ATTENTION_BLOCK, d)
    return torch.bmm(a, b).view(kv_heads, count, m, d)


def _slots(store: torch.Tensor, slots: torch.Tensor | slice) -> torch.Tensor:
    """store [NKV, slots, D] -> [NKV, S, D]: a view for a slice; index_select copies rows far faster than indexing."""
    return store[:, slots] if isinstance(slots, slice) else store.index_select(1, slots)
