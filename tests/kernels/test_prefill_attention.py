"""Prompt attention: a row gets the same bits whether its prompt runs whole or only a tail of it runs."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels._prefill_attention import BLOCK, prefill_attention


def operands(length: int, heads: int, kv_heads: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(1, heads, length, 16, generator=g)  # [1, NH, S, D]
    k, v = torch.randn(1, kv_heads, length, 16, generator=g), torch.randn(1, kv_heads, length, 16, generator=g)
    return q, k, v


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3 * BLOCK + 5), st.integers(1, 2 * BLOCK), st.sampled_from([(4, 2), (6, 3), (2, 2)]), st.integers(0, 2**16))
def test_a_tail_of_rows_gets_the_bits_the_whole_prompt_gives_them(length: int, rows: int, heads: tuple[int, int], seed: int) -> None:
    """The last `rows` positions run alone (the rest cached) give the whole prompt's bits, however few or many."""
    rows = min(rows, length)
    q, k, v = operands(length, *heads, seed)
    whole = prefill_attention(q, k, v)  # [1, NH, S, D]
    assert torch.equal(prefill_attention(q[:, :, length - rows :], k, v), whole[:, :, length - rows :])


def test_the_awkward_lengths_give_the_whole_prompts_bits() -> None:
    """One row left over past a block (33 = 32 + 1 rows), one or two rows alone: each a different SDPA path unpadded."""
    for length in (1, 2, 3, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK + 1, 300):
        q, k, v = operands(length, 9, 3, length)
        whole = prefill_attention(q, k, v)
        for rows in {1, 2, 3, BLOCK + 1, length}:
            if rows <= length:
                assert torch.equal(prefill_attention(q[:, :, length - rows :], k, v), whole[:, :, length - rows :]), (length, rows)


def test_it_is_causal_attention() -> None:
    length = 2 * BLOCK + 7
    q, k, v = operands(length, 4, 2, 2)
    expected = F.scaled_dot_product_attention(q.double(), k.double(), v.double(), is_causal=True, enable_gqa=True)
    torch.testing.assert_close(prefill_attention(q, k, v).double(), expected, rtol=1e-5, atol=1e-6)
    for rows in (1, 2, BLOCK + 3):
        torch.testing.assert_close(prefill_attention(q[:, :, -rows:], k, v).double(), expected[:, :, -rows:], rtol=1e-5, atol=1e-6)
