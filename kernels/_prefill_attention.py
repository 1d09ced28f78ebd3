"""A prompt's attention on the CPU: torch's SDPA in fixed blocks of positions, so that a row's numbers
do not depend on which rows are computed with it.

torch's CPU SDPA rounds a row differently depending on the call around it: one or two query rows take
another path than three or more, and a block of a single row inside a longer call (33 rows: 32 + 1)
another again. The last tokens of a prompt whose rest is in the prefix cache are computed alone; in
one call they would get other numbers than in the cold run that computed them with the whole prompt,
enough to change a small model's greedy text.

So the positions are cut into blocks of BLOCK at multiples of BLOCK, and each block is one SDPA call
of BLOCK query rows (rows outside the chunk are zero queries, dropped after) over the keys up to the
block's end (or the chunk's end). A row's call is then the same whether its prompt runs whole, or
only a tail of it runs: the same bits (tests/kernels/test_prefill_attention.py). A row's numbers still
depend on the keys its call is given: a chunk ending inside a block gives that block's rows fewer keys
than a run that ends later.

Shapes: NH query heads, NKV key/value heads, T query rows, S keys (positions 0 .. S - 1; the queries
are the last T of them), D head size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

BLOCK = 64  # 32 cost a 1,000-token prompt twice the single call's time; 256 cost a short tail 256 rows' work


def prefill_attention(queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """queries [1, NH, T, D] at positions S - T .. S - 1, keys/values [1, NKV, S, D] -> causal attention [1, NH, T, D]."""
    heads, rows, d = queries.shape[1], queries.shape[2], queries.shape[3]
    seen = keys.shape[2]
    start = seen - rows
    grouped = heads != keys.shape[1]
    out = queries.new_empty(1, heads, rows, d)
    padded = queries.new_empty(1, heads, BLOCK, d)
    for low in range(start - start % BLOCK, seen, BLOCK):
        high, first = min(low + BLOCK, seen), max(low, start)  # the block's keys end; its first row in the chunk
        padded.zero_()
        padded[:, :, first - low : high - low] = queries[:, :, first - start : high - start]
        mask = torch.arange(high)[None, :] <= torch.arange(low, low + BLOCK)[:, None]  # [BLOCK, high]: causal; padding sees all
        attended = F.scaled_dot_product_attention(padded, keys[:, :, :high], values[:, :, :high], attn_mask=mask, enable_gqa=grouped)
        out[:, :, first - start : high - start] = attended[:, :, first - low : high - low]
    return out
