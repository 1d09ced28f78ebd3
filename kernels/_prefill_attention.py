"""A prompt's attention on the CPU: torch's SDPA, with a row's numbers the same however many rows come with it.

torch's CPU SDPA takes one path for one or two query rows and another (flash, in blocks) for three or
more, and the two round differently. The last tokens of a prompt whose rest is in the prefix cache
are computed alone; unpadded, they would get other numbers than in the cold run that computed them
with the whole prompt, enough to change a small model's greedy text. A short block is therefore
padded with zero query rows in front (they see every key, so no row is empty) that are dropped after:
every row takes the flash path. There, a row's numbers do not depend on the rows beside it as long
as its internal block (32 rows, more for long calls) holds three or more: the rows of a short tail get
the bits a cold run gave them unless that run left them in a block of one or two (a 33-token prompt's
last row), and a row's numbers also depend on how many keys the call is given (a prompt prefilled in
chunks may differ in the last bits from the same prompt run whole). Computing prompts in fixed
blocks of positions would make them exact, but tripled the time to first token of a short question
after a cached 1,000-token brief (bench/RESULTS.md, Session 6).

Shapes: NH query heads, NKV key/value heads, T query rows, S keys, D head size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

MIN_ROWS = 8  # torch 2.13 changes path below 3 rows; padding to more costs next to nothing


def prefill_attention(queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """queries [1, NH, T, D], keys/values [1, NKV, S, D], mask [T, S] bool (True: seen), None: causal with the
    queries at the last T positions -> [1, NH, T, D]."""
    rows, seen = queries.shape[2], keys.shape[2]
    grouped = queries.shape[1] != keys.shape[1]
    if mask is None and (rows != seen or rows < MIN_ROWS):
        mask = torch.arange(seen)[None, :] <= torch.arange(seen - rows, seen)[:, None]  # [T, S]: query i sees 0 .. S - T + i
    if rows >= MIN_ROWS:
        return F.scaled_dot_product_attention(queries, keys, values, attn_mask=mask, is_causal=mask is None, enable_gqa=grouped)
    pad = MIN_ROWS - rows
    padded = torch.cat([queries.new_zeros(1, queries.shape[1], pad, queries.shape[3]), queries], dim=2)  # [1, NH, MIN_ROWS, D]
    mask = torch.cat([mask.new_ones(pad, seen), mask])  # [MIN_ROWS, S]
    return F.scaled_dot_product_attention(padded, keys, values, attn_mask=mask, enable_gqa=grouped)[:, :, pad:]
