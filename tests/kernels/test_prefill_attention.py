"""Prompt attention: a row gets the same bits in a block of any size, as in the whole causal block."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels._prefill_attention import MIN_ROWS, prefill_attention


def operands(length: int, heads: int, kv_heads: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(1, heads, length, 16, generator=g)  # [1, NH, S, D]
    k, v = torch.randn(1, kv_heads, length, 16, generator=g), torch.randn(1, kv_heads, length, 16, generator=g)
    return q, k, v


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 300), st.integers(1, 20), st.sampled_from([(4, 2), (6, 3), (2, 2)]), st.integers(0, 2**16))
def test_a_block_of_rows_gets_the_bits_the_whole_causal_block_gives_them(length: int, rows: int, heads: tuple[int, int], seed: int) -> None:
    """The last `rows` positions attended as a block (the rest cached) give the whole prompt's bits, however few."""
    rows = min(rows, length)
    q, k, v = operands(length, *heads, seed)
    whole = prefill_attention(q, k, v, None)  # [1, NH, S, D]
    start = length - rows
    mask = torch.arange(length)[None, :] <= torch.arange(start, length)[:, None]  # [T, S]
    block = prefill_attention(q[:, :, start:], k, v, mask)
    assert torch.equal(block, whole[:, :, start:])


def test_it_is_causal_attention() -> None:
    q, k, v = operands(MIN_ROWS + 5, 4, 2, 2)
    expected = F.scaled_dot_product_attention(q.double(), k.double(), v.double(), is_causal=True, enable_gqa=True)
    torch.testing.assert_close(prefill_attention(q, k, v, None).double(), expected, rtol=1e-5, atol=1e-6)
    for rows in (1, 2, MIN_ROWS - 1):
        torch.testing.assert_close(prefill_attention(q[:, :, -rows:], k, v, torch.arange(q.shape[2])[None, :] <= torch.arange(q.shape[2] - rows, q.shape[2])[:, None]).double(),
                                   expected[:, :, -rows:], rtol=1e-5, atol=1e-6)  # fmt: skip
