"""Paged decode attention against the reference: ragged lengths, scattered pages, GQA, split partitions.

Without a GPU these run in Triton's interpreter (see conftest.py), on tiny shapes.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import kernels.triton as kt
from kernels.triton import reference
from kernels.triton._loader import kernel_module, launching
from tests.kernels.triton.support import BF16_IN_DOTS, DEVICE, TOLERANCE, needs_triton, relative_error

pytestmark = needs_triton


def paged_problem(seq_lens: list[int], page_size: int, kv_heads: int, group: int, head_dim: int, dtype: torch.dtype, seed: int):
    """Random q and caches; each sequence's pages are a random, non-contiguous draw from a shared pool."""
    generator = torch.Generator().manual_seed(seed)
    pages_each = [-(-n // page_size) for n in seq_lens]
    max_pages = max(1, *pages_each)
    num_pages = sum(pages_each) + 3  # spare pages nobody owns
    order = torch.randperm(num_pages, generator=generator)
    block_table = torch.zeros(len(seq_lens), max_pages, dtype=torch.int32)
    used = 0
    for b, count in enumerate(pages_each):
        block_table[b, :count] = order[used : used + count]
        used += count
    q = torch.randn(len(seq_lens), kv_heads * group, head_dim, generator=generator).to(dtype)
    k_cache = torch.randn(num_pages, page_size, kv_heads, head_dim, generator=generator).to(dtype)
    v_cache = torch.randn(num_pages, page_size, kv_heads, head_dim, generator=generator).to(dtype)
    lens = torch.tensor(seq_lens, dtype=torch.int32)
    return [t.to(DEVICE) for t in (q, k_cache, v_cache, block_table, lens)]


@settings(max_examples=12)
@given(
    seq_lens=st.lists(st.integers(0, 40), min_size=1, max_size=4),
    page_size=st.sampled_from([1, 4, 16]),
    kv_heads=st.integers(1, 2),
    group=st.sampled_from([1, 3, 4]),
    head_dim=st.sampled_from([16, 24]),
    split=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_matches_reference_over_ragged_batches(seq_lens, page_size, kv_heads, group, head_dim, split, seed) -> None:  # noqa: ANN001
    q, k_cache, v_cache, block_table, lens = paged_problem(seq_lens, page_size, kv_heads, group, head_dim, torch.float32, seed)
    scale = head_dim**-0.5
    with launching():  # split: partitions of 32 tokens merged by the second kernel
        out = kernel_module("_paged_attention").launch_paged_decode_attention(q, k_cache, v_cache, block_table, lens, scale, partition=32 if split else None)
    expected = reference.paged_decode_attention(q, k_cache, v_cache, block_table, lens, scale)
    assert relative_error(out, expected) <= 1e-5
    assert torch.equal(out[lens == 0], torch.zeros_like(out[lens == 0]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, BF16_IN_DOTS], ids=str)
def test_facade_with_grouped_heads_and_page_boundaries(dtype: torch.dtype) -> None:
    # lengths on, just past and just before page boundaries; 8 query heads share 2 key/value heads
    q, k_cache, v_cache, block_table, lens = paged_problem([16, 17, 3, 31], page_size=8, kv_heads=2, group=4, head_dim=64, dtype=dtype, seed=7)
    out = kt.paged_decode_attention(q, k_cache, v_cache, block_table, lens, 0.125)
    assert out.shape == q.shape and out.dtype == dtype
    assert relative_error(out, reference.paged_decode_attention(q, k_cache, v_cache, block_table, lens, 0.125)) <= TOLERANCE[dtype]


def test_pages_past_a_sequences_length_are_never_read() -> None:
    q, k_cache, v_cache, block_table, lens = paged_problem([5, 9], page_size=4, kv_heads=1, group=2, head_dim=16, dtype=torch.float32, seed=3)
    before = kt.paged_decode_attention(q, k_cache, v_cache, block_table, lens, 0.25)
    owned = set(block_table[0, :2].tolist()) | set(block_table[1, :3].tolist())
    spare = next(page for page in range(k_cache.shape[0]) if page not in owned)
    k_cache[spare], v_cache[spare] = float("nan"), float("nan")
    padded = block_table.clone()
    padded[0, 2] = spare  # sequence 0 (5 tokens) ends in its second page: its third entry is padding
    assert torch.equal(kt.paged_decode_attention(q, k_cache, v_cache, padded, lens, 0.25), before)
    padded[0, 2] = 10**6  # padding may hold anything, even a page id out of range
    assert torch.equal(kt.paged_decode_attention(q, k_cache, v_cache, padded, lens, 0.25), before)


def test_a_length_past_the_tables_reach_reads_only_the_table() -> None:
    q, k_cache, v_cache, block_table, lens = paged_problem([8, 3], page_size=4, kv_heads=1, group=1, head_dim=16, dtype=torch.float32, seed=9)
    too_long = torch.tensor([8 + 50, 3], dtype=torch.int32, device=DEVICE)  # the table holds 2 pages of 4 tokens
    out = kt.paged_decode_attention(q, k_cache, v_cache, block_table, too_long, 0.25)
    assert torch.equal(out, kt.paged_decode_attention(q, k_cache, v_cache, block_table, lens, 0.25))


def test_attention_inputs_are_checked() -> None:
    q, k_cache, v_cache, block_table, lens = paged_problem([3], page_size=4, kv_heads=2, group=2, head_dim=16, dtype=torch.float32, seed=0)
    with pytest.raises(kt.KernelInputError, match="cannot share"):
        kt.paged_decode_attention(q[:, :3], k_cache, v_cache, block_table, lens, 1.0)
    with pytest.raises(kt.KernelInputError, match="block_table must be int32"):
        kt.paged_decode_attention(q, k_cache, v_cache, block_table.long(), lens, 1.0)
    with pytest.raises(kt.KernelInputError, match="must match"):
        kt.paged_decode_attention(q, k_cache, v_cache.half(), block_table, lens, 1.0)
