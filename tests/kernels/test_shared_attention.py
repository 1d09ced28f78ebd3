"""Decode attention over a shared prefix (kernels/engine/_shared_attention.py): rows sharing their
first KV pages are grouped, and each row's output is bit for bit what it gets alone."""

from __future__ import annotations

import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.engine import TorchOps
from kernels.engine._ops import PagedKV
from kernels.engine._scheduler import Batch, Chunk
from kernels.engine._sequence import Sequence
from kernels.engine._shared_attention import decode_layout, grouping_is_exact
from kernels.engine._step_plan import ATTENTION_BLOCK, SHORT_CONTEXT, StepPlan, plan_step

PAGE = 16
KV_HEADS, HEADS, D = 2, 6, 8


def can_group(rows: int) -> bool:
    return grouping_is_exact(HEADS // KV_HEADS, D, rows, torch.get_num_threads())


def plan(chunks: list[Chunk], tables: list[list[int]]) -> StepPlan:
    return plan_step(Batch(tuple(chunks)), tables, PAGE, can_group)


def decode_chunk(length: int) -> Chunk:
    seq = Sequence(range(length), max_tokens=4, max_total_tokens=4096)
    return Chunk(seq, length - 1, 1, True)


def make_tables(rng: random.Random, prefix_pages: int, lengths: list[int], num_pages: int) -> list[list[int]]:
    """Each row: the shared prefix pages (consecutive), then its own pages, scattered over the store."""
    free = list(range(prefix_pages, num_pages))
    rng.shuffle(free)
    tables = []
    for length in lengths:
        own = -(-length // PAGE) - prefix_pages
        tables.append(list(range(prefix_pages)) + [free.pop() for _ in range(own)])
    return tables


def attend(ops: TorchOps, kv: PagedKV, queries: torch.Tensor, plan: StepPlan) -> torch.Tensor:
    return ops.attention(kv, 0, queries, plan)


def random_kv(num_pages: int, seed: int) -> PagedKV:
    torch.manual_seed(seed)
    kv = PagedKV(1, num_pages, PAGE, KV_HEADS, D)
    kv.keys.normal_()
    kv.values.normal_()
    return kv


def test_rows_sharing_a_prefix_form_one_group_over_the_whole_shared_blocks() -> None:
    rng = random.Random(0)
    lengths = [700, 655, 801, 130]
    tables = make_tables(rng, prefix_pages=40, lengths=lengths, num_pages=200)  # 640 shared positions
    step = plan([decode_chunk(n) for n in lengths], tables)
    [group] = step.decode_groups
    assert sorted(group.rows) == [0, 1, 2]  # the 130-long row shares one block: 5 blocks for 3 rows share more
    assert group.blocks == 640 // ATTENTION_BLOCK
    shared = 640 // ATTENTION_BLOCK
    rows = [(0, 0, 700), (1, 0, 655), (2, 0, 801), (3, -1, 130)]
    expected = [(row, group, shared if group == 0 else 0, -(-n // ATTENTION_BLOCK)) for row, group, n in rows]
    assert [(r.row, r.group, r.shared, r.blocks) for r in step.decode_blocked] == expected
    own_blocks = sum(blocks - shared for _, _, shared, blocks in expected)  # the blocks past the group's
    assert step.decode_own is not None and len(step.decode_own.rows) == own_blocks


def test_a_row_with_one_whole_block_joins_the_group_and_limits_it() -> None:
    rng = random.Random(1)
    lengths = [700, 300]
    tables = make_tables(rng, prefix_pages=40, lengths=lengths, num_pages=200)
    step = plan([decode_chunk(n) for n in lengths], tables)
    [group] = step.decode_groups
    assert sorted(group.rows) == [0, 1] and group.blocks == 300 // ATTENTION_BLOCK  # the whole blocks of 300 positions
    blocks = 300 // ATTENTION_BLOCK
    expected = [(0, blocks, -(-700 // ATTENTION_BLOCK)), (1, blocks, -(-300 // ATTENTION_BLOCK))]
    assert [(r.row, r.shared, r.blocks) for r in step.decode_blocked] == expected


@settings(max_examples=25, deadline=None)
@given(
    prefix_pages=st.integers(0, 30),
    tails=st.lists(st.sampled_from([1, 5, 16, 17, 100, 128, 130, 200]), min_size=1, max_size=7),  # equal ones share a class
    seed=st.integers(0, 2**16),
)
def test_each_row_gets_bit_for_bit_what_it_gets_alone_and_matches_plain_attention(prefix_pages: int, tails: list[int], seed: int) -> None:
    rng = random.Random(seed)
    lengths = [prefix_pages * PAGE + tail for tail in tails]
    num_pages = prefix_pages + sum(-(-t // PAGE) + 1 for t in tails) + 4
    tables = make_tables(rng, prefix_pages, lengths, num_pages)
    kv = random_kv(num_pages, seed)
    queries = torch.randn(len(lengths), HEADS, D)
    shared, exact = TorchOps(1e-5), TorchOps(1e-5, share_prefix=False)
    step = plan([decode_chunk(n) for n in lengths], tables)
    together = attend(shared, kv, queries, step)  # [B, NH * D]
    plain = attend(exact, kv, queries, step)
    torch.testing.assert_close(together, plain, rtol=1e-5, atol=1e-6)
    for row, (length, table) in enumerate(zip(lengths, tables, strict=True)):
        alone = attend(shared, kv, queries[row : row + 1], plan([decode_chunk(length)], [table]))
        assert torch.equal(alone[0], together[row])


def test_contexts_shorter_than_short_context_equal_the_single_sequence_attention_exactly() -> None:
    rng = random.Random(2)
    lengths = [SHORT_CONTEXT - 1, ATTENTION_BLOCK, 40, 7]
    tables = make_tables(rng, 0, lengths, 40)
    kv = random_kv(40, 3)
    queries = torch.randn(len(lengths), HEADS, D)
    step = plan([decode_chunk(n) for n in lengths], tables)
    assert step.decode_short == (0, 1, 2, 3) and not step.decode_blocked
    assert torch.equal(attend(TorchOps(1e-5), kv, queries, step), attend(TorchOps(1e-5, share_prefix=False), kv, queries, step))


def test_rows_of_one_block_count_are_computed_side_by_side_and_each_gets_what_it_gets_alone() -> None:
    rng = random.Random(4)
    b = ATTENTION_BLOCK
    lengths = [8 * b + 18, 8 * b + 8, 8 * b + 18, 10 * b + 60, 8 * b + 3]  # all but row 3: 9 blocks
    tables = make_tables(rng, prefix_pages=8 * b // PAGE, lengths=lengths, num_pages=200)
    step = plan([decode_chunk(n) for n in lengths], tables)
    [group] = step.decode_groups
    assert group.rows == (0, 1, 2, 3, 4) and group.blocks == 8
    assert [(r.row, r.first_own) for r in step.decode_blocked] == [(0, 0), (1, 1), (2, 2), (3, 3), (4, 6)]
    assert step.decode_own is not None and step.decode_own.rows.tolist() == [0, 1, 2, 3, 3, 3, 4]
    layout = decode_layout(step, KV_HEADS, HEADS // KV_HEADS)
    assert [(c.rows, c.blocks) for c in layout.classes] == [((0, 1, 2, 4), 9), ((3,), 11)]
    kv = random_kv(200, 5)
    queries = torch.randn(5, HEADS, D)
    together = attend(TorchOps(1e-5), kv, queries, step)
    for row, (length, table) in enumerate(zip(lengths, tables, strict=True)):
        alone = attend(TorchOps(1e-5), kv, queries[row : row + 1], plan([decode_chunk(length)], [table]))
        assert torch.equal(alone[0], together[row])


def test_slots_past_a_rows_length_may_hold_anything_and_change_nothing() -> None:
    """A last block is padded to a whole block from the row's last page (or the store's other pages):
    unwritten slots there, NaN or infinite here, are masked out and their values never reach the output."""
    rng = random.Random(6)
    lengths = [300, 300, 290, 130, 129]
    num_pages = 120
    tables = make_tables(rng, prefix_pages=8, lengths=lengths, num_pages=num_pages)
    kv = random_kv(num_pages, 7)
    written = torch.zeros(num_pages * PAGE, dtype=torch.bool)
    for length, table in zip(lengths, tables, strict=True):
        for position in range(length):
            written[table[position // PAGE] * PAGE + position % PAGE] = True
    kv.keys[:, :, ~written] = float("nan")
    kv.values[:, :, ~written] = float("inf")
    queries = torch.randn(len(lengths), HEADS, D)
    step = plan([decode_chunk(n) for n in lengths], tables)
    assert step.decode_own is not None and step.decode_own.pad is not None
    together = attend(TorchOps(1e-5), kv, queries, step)
    assert torch.isfinite(together).all()
    torch.testing.assert_close(together, attend(TorchOps(1e-5, share_prefix=False), kv, queries, step), rtol=1e-5, atol=1e-6)
    for row, (length, table) in enumerate(zip(lengths, tables, strict=True)):
        alone = attend(TorchOps(1e-5), kv, queries[row : row + 1], plan([decode_chunk(length)], [table]))
        assert torch.equal(alone[0], together[row])


@pytest.mark.parametrize("page_size", [48, 256])
def test_pages_that_do_not_tile_a_block_are_gathered_slot_by_slot(page_size: int) -> None:
    rng = random.Random(8)
    lengths = [700, 450, 131]
    num_pages = sum(-(-n // page_size) for n in lengths) + 3
    free = list(range(num_pages))
    rng.shuffle(free)
    tables = [[free.pop() for _ in range(-(-n // page_size))] for n in lengths]
    torch.manual_seed(9)
    kv = PagedKV(1, num_pages, page_size, KV_HEADS, D)
    kv.keys.normal_()
    kv.values.normal_()
    queries = torch.randn(len(lengths), HEADS, D)
    step = plan_step(Batch(tuple(decode_chunk(n) for n in lengths)), tables, page_size, can_group)
    assert step.decode_own is not None and step.decode_own.pages is None
    together = attend(TorchOps(1e-5), kv, queries, step)
    torch.testing.assert_close(together, attend(TorchOps(1e-5, share_prefix=False), kv, queries, step), rtol=1e-5, atol=1e-6)
    for row, (length, table) in enumerate(zip(lengths, tables, strict=True)):
        alone = attend(TorchOps(1e-5), kv, queries[row : row + 1], plan_step(Batch((decode_chunk(length),)), [table], page_size, can_group))
        assert torch.equal(alone[0], together[row])
