"""Prompt attention: a prompt's last tokens run alone get the bits they get among more rows."""

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


def tail_mask(length: int, rows: int) -> torch.Tensor:  # [T, S]: the last `rows` positions, causal
    return torch.arange(length)[None, :] <= torch.arange(length - rows, length)[:, None]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300), st.integers(1, MIN_ROWS - 1), st.integers(MIN_ROWS, 32), st.sampled_from([(4, 2), (6, 3), (2, 2)]),
       st.integers(0, 2**16))  # fmt: skip
def test_a_short_tail_gets_the_bits_its_rows_get_in_a_longer_one(length: int, rows: int, longer: int, heads: tuple[int, int], seed: int) -> None:
    """The last tokens of a prompt run alone (the rest cached) take the path its rows take among more rows."""
    rows, longer = min(rows, length), min(longer, length)
    q, k, v = operands(length, *heads, seed)
    many = prefill_attention(q[:, :, length - longer :], k, v, tail_mask(length, longer) if longer < length else None)
    few = prefill_attention(q[:, :, length - rows :], k, v, tail_mask(length, rows) if rows < length else None)
    assert torch.equal(few, many[:, :, longer - rows :])


def test_a_one_or_two_token_tail_gets_the_whole_prompts_bits() -> None:
    for length in (3, 9, 40, 64, 100, 300, 600):
        q, k, v = operands(length, 9, 3, length)
        whole = prefill_attention(q, k, v, None)
        for rows in (1, 2):
            assert torch.equal(prefill_attention(q[:, :, -rows:], k, v, tail_mask(length, rows)), whole[:, :, -rows:]), (length, rows)


def test_it_is_causal_attention() -> None:
    q, k, v = operands(MIN_ROWS + 5, 4, 2, 2)
    expected = F.scaled_dot_product_attention(q.double(), k.double(), v.double(), is_causal=True, enable_gqa=True)
    torch.testing.assert_close(prefill_attention(q, k, v, None).double(), expected, rtol=1e-5, atol=1e-6)
    for rows in (1, 2, MIN_ROWS - 1):
        torch.testing.assert_close(prefill_attention(q[:, :, -rows:], k, v, torch.arange(q.shape[2])[None, :] <= torch.arange(q.shape[2] - rows, q.shape[2])[:, None]).double(),
                                   expected[:, :, -rows:], rtol=1e-5, atol=1e-6)  # fmt: skip
