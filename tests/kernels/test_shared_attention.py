"""Decode attention on the CPU (kernels/engine/_shared_attention.py, the numba kernel of
kernels/_cpu_attention.py): each row over its own pages, close to float64 attention, and bit
for bit the same alone or in any batch, whatever its pages, its batch's order or the thread split."""

from __future__ import annotations

import dataclasses

import random
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.engine import TorchOps
from kernels._cpu_attention import attend_contiguous, attend_rows, check_operands
from kernels.engine._ops import PagedKV
from kernels.engine._scheduler import Batch, Chunk
from kernels.engine._sequence import Sequence
from kernels._kernel_jobs import set_threads
from kernels.engine._shared_attention import Workspace, shared_decode_attention
from kernels.engine._step_plan import StepPlan, plan_step

PAGE = 16
KV_HEADS, HEADS, D = 2, 6, 8


def decode_chunk(length: int) -> Chunk:
    """A sequence's step decoding its token at position length - 1 (one it generated)."""
    seq = Sequence(range(length - 1), max_tokens=4, max_total_tokens=4096)
    seq.token_ids.append(length - 1)
    return Chunk(seq, length - 1, 1, True)


def plan(lengths: list[int], tables: list[list[int]], page_size: int = PAGE) -> StepPlan:
    return plan_step(Batch(tuple(decode_chunk(n) for n in lengths)), tables, page_size)


def make_tables(rng: random.Random, prefix_pages: int, lengths: list[int], num_pages: int) -> list[list[int]]:
    """Each row: the shared prefix pages (consecutive), then its own pages, scattered over the store."""
    free = list(range(prefix_pages, num_pages))
    rng.shuffle(free)
    return [list(range(prefix_pages)) + [free.pop() for _ in range(-(-n // PAGE) - prefix_pages)] for n in lengths]


def random_kv(num_pages: int, seed: int, head_dim: int = D, page_size: int = PAGE, kv_heads: int = KV_HEADS) -> PagedKV:
    torch.manual_seed(seed)
    kv = PagedKV(1, num_pages, page_size, kv_heads, head_dim)
    kv.keys.normal_()
    kv.values.normal_()
    return kv


def attend(kv: PagedKV, queries: torch.Tensor, step: StepPlan) -> torch.Tensor:
    return shared_decode_attention(kv.keys[0], kv.values[0], queries, step, Workspace())


def float64_attention(kv: PagedKV, query: torch.Tensor, table: list[int], length: int) -> torch.Tensor:
    """query [NH, D] -> [NH * D]: SDPA in float64 over the row's slots."""
    page_size = kv.page_size
    slots = (torch.tensor(table)[:, None] * page_size + torch.arange(page_size)).flatten()[:length]
    k, v = kv.keys[0][:, slots].double(), kv.values[0][:, slots].double()  # [NKV, S, D]
    q = query.double().view(1, HEADS, 1, -1)
    return F.scaled_dot_product_attention(q, k[None], v[None], enable_gqa=True).flatten()


@pytest.mark.parametrize("head_dim", [8, 32, 64, 128])  # plain loops, 16-lane blocks, blocks unrolled for 64 and 128
def test_rows_of_one_to_three_pages_match_float64_attention(head_dim: int) -> None:
    lengths = [1, 2, PAGE - 1, PAGE, PAGE + 1, 2 * PAGE - 1, 2 * PAGE, 2 * PAGE + 1, 3 * PAGE - 1, 3 * PAGE, 3 * PAGE + 1, 700]
    rng = random.Random(head_dim)
    tables = make_tables(rng, 0, lengths, 80)
    kv = random_kv(80, 1, head_dim)
    queries = torch.randn(len(lengths), HEADS, head_dim) * 2
    together = attend(kv, queries, plan(lengths, tables))
    for row, (length, table) in enumerate(zip(lengths, tables, strict=True)):
        expected = float64_attention(kv, queries[row], table, length)
        assert (together[row].double() - expected).abs().max() < 1e-5


@pytest.mark.parametrize("head_dim", [12, 16, 64])
@pytest.mark.parametrize(("kv_heads", "group"), [(4, 1), (2, 2), (1, 3), (2, 4), (1, 5), (2, 7)])
def test_any_number_of_query_heads_per_key_value_head_matches_float64_attention(kv_heads: int, group: int, head_dim: int) -> None:
    """The kernel takes query heads three at a time within a key/value head's group: groups that are not
    a multiple of three (and no GQA at all) attend each head to its own group's keys."""
    gen = torch.Generator().manual_seed(group)
    keys, values = torch.randn(kv_heads, 50, head_dim, generator=gen), torch.randn(kv_heads, 50, head_dim, generator=gen)
    queries = torch.randn(kv_heads * group, head_dim, generator=gen) * 2
    for length in (1, 17, 50):
        got = attend_contiguous(keys.numpy(), values.numpy(), queries.numpy(), length)  # [NH, D]
        k, v = keys[None, :, :length].double(), values[None, :, :length].double()
        expected = F.scaled_dot_product_attention(queries.double()[None, :, None], k, v, enable_gqa=True)[0, :, 0]
        assert (torch.from_numpy(got).double() - expected).abs().max() < 1e-5


@settings(max_examples=40, deadline=None)
@given(
    prefix_pages=st.integers(0, 12),
    tails=st.lists(st.integers(1, 3 * PAGE + 1), min_size=1, max_size=7),
    seed=st.integers(0, 2**16),
    head_dim=st.sampled_from([D, 32, 64, 128]),
)
def test_each_row_gets_bit_for_bit_what_it_gets_alone_in_any_order(prefix_pages: int, tails: list[int], seed: int, head_dim: int) -> None:
    rng = random.Random(seed)
    lengths = [prefix_pages * PAGE + tail for tail in tails]
    num_pages = prefix_pages + sum(-(-t // PAGE) + 1 for t in tails) + 4
    tables = make_tables(rng, prefix_pages, lengths, num_pages)
    kv = random_kv(num_pages, seed, head_dim)
    queries = torch.randn(len(lengths), HEADS, head_dim)
    together = attend(kv, queries, plan(lengths, tables))
    order = list(range(len(lengths)))
    rng.shuffle(order)
    shuffled = attend(kv, queries[order], plan([lengths[i] for i in order], [tables[i] for i in order]))
    assert torch.equal(shuffled, together[order])
    for row, (length, table) in enumerate(zip(lengths, tables, strict=True)):
        alone = attend(kv, queries[row : row + 1], plan([length], [table]))
        assert torch.equal(alone[0], together[row])


@pytest.mark.parametrize("head_dim", [D, 32, 64])
def test_a_row_gets_the_same_bits_from_scattered_pages_as_from_consecutive_ones(head_dim: int) -> None:
    length = 5 * PAGE + 3
    kv = random_kv(40, 2, head_dim)
    scattered = [31, 4, 17, 9, 22, 0]
    consecutive = list(range(10, 16))
    for source, target in zip(scattered, consecutive, strict=True):
        kv.copy_prefix(source, target, PAGE)
    queries = torch.randn(2, HEADS, head_dim)
    step = plan([length, length], [scattered, consecutive])
    out = attend(kv, queries[[0, 0]], step)
    assert torch.equal(out[0], out[1])
    assert torch.equal(attend(kv, queries[:1], plan([length], [consecutive]))[0], out[0])


@pytest.mark.parametrize("head_dim", [D, 32, 64])
def test_unwritten_slots_may_hold_nan_or_inf_and_are_never_read(head_dim: int) -> None:
    rng = random.Random(6)
    lengths = [300, 300, 290, 130, 129, 1, 17]
    num_pages = 120
    tables = make_tables(rng, prefix_pages=8, lengths=lengths, num_pages=num_pages)
    kv = random_kv(num_pages, 7, head_dim)
    written = torch.zeros(num_pages * PAGE, dtype=torch.bool)
    for length, table in zip(lengths, tables, strict=True):
        for position in range(length):
            written[table[position // PAGE] * PAGE + position % PAGE] = True
    kv.keys[:, :, ~written] = float("nan")
    kv.values[:, :, ~written] = float("inf")
    queries = torch.randn(len(lengths), HEADS, head_dim)
    together = attend(kv, queries, plan(lengths, tables))
    assert torch.isfinite(together).all()
    for row, (length, table) in enumerate(zip(lengths, tables, strict=True)):
        assert (together[row].double() - float64_attention(kv, queries[row], table, length)).abs().max() < 1e-5


@pytest.mark.parametrize("length", [3 * PAGE + 5, 4 * PAGE])
@pytest.mark.parametrize("d", [4, 16])  # its scale, 1/2 or 1/4, carried by the queries changes no bits
def test_a_contiguous_cache_gives_the_bits_the_same_row_gets_from_pages(length: int, d: int) -> None:
    kv = random_kv(20, 11, head_dim=d)
    pages = [7, 2, 13, 5]
    contiguous = torch.cat([kv.keys[0][:, p * PAGE : (p + 1) * PAGE] for p in pages], dim=1)  # [NKV, 4 PAGE, D]
    values = torch.cat([kv.values[0][:, p * PAGE : (p + 1) * PAGE] for p in pages], dim=1)
    query = torch.randn(HEADS, d)
    paged = attend(kv, query[None], plan([length], [pages]))[0]
    alone = attend_contiguous(contiguous.numpy(), values.numpy(), query.numpy(), length)
    assert torch.equal(torch.from_numpy(alone).flatten(), paged)
    prescaled = attend_contiguous(contiguous.numpy(), values.numpy(), (query / d**0.5).numpy(), length, scale=1.0)
    assert torch.equal(torch.from_numpy(prescaled).flatten(), paged)


@pytest.mark.parametrize("head_dim", [D, 32, 64])
def test_rows_attended_in_any_order_or_on_threads_side_by_side_get_the_same_bits(head_dim: int) -> None:
    rng = random.Random(8)
    lengths = [900, 40, 1000, 2 * PAGE, 700, 5, 1030, 333]
    tables = make_tables(rng, 0, lengths, 400)
    kv = random_kv(400, 9, head_dim)
    queries = torch.randn(len(lengths), HEADS, head_dim)
    step = plan(lengths, tables)
    one = attend(kv, queries, step)
    assert torch.equal(attend(kv, queries, dataclasses.replace(step, decode_order=np.arange(len(lengths))[::-1].copy())), one)
    k, v, q = kv.keys[0].numpy(), kv.values[0].numpy(), queries.numpy()
    scores, out = np.empty((len(lengths), HEADS, max(lengths)), np.float32), np.empty((len(lengths), HEADS, head_dim), np.float32)
    with ThreadPoolExecutor(2) as pool:  # the kernel releases the GIL
        runs = [pool.submit(attend_rows, k, v, q, step.decode_tables, step.decode_lengths, part, PAGE, scores, out)
                for part in (step.decode_order[::2].copy(), step.decode_order[1::2].copy())]  # fmt: skip
        [run.result() for run in runs]
    assert torch.equal(torch.from_numpy(out).view(len(lengths), -1), one)


@pytest.mark.parametrize("head_dim", [D, 64])
@pytest.mark.parametrize("kv_heads", [KV_HEADS, 3])
def test_a_step_split_over_threads_gives_every_row_the_bits_of_one_thread(head_dim: int, kv_heads: int) -> None:
    rng = random.Random(12)
    lengths = [700, 700, 690, 30, 701, 5, 16, 900, 333]
    tables = make_tables(rng, 40, [max(n, 40 * PAGE + 1) for n in lengths], 300)
    kv = random_kv(300, 13, head_dim, kv_heads=kv_heads)
    queries = torch.randn(len(lengths), kv_heads * HEADS // KV_HEADS, head_dim)
    step = plan(lengths, tables)
    previous = set_threads(1)
    try:
        one = attend(kv, queries, step)
        for count in (2, 3):
            set_threads(count)
            work = Workspace()
            assert torch.equal(shared_decode_attention(kv.keys[0], kv.values[0], queries, step, work), one)
            assert work.rows is not None and len(work.rows.pieces) == count
            for rows in (1, 2):  # one row: split by its key/value heads; two: a row a thread
                alone = shared_decode_attention(kv.keys[0], kv.values[0], queries[:rows], plan(lengths[:rows], tables[:rows]), work)
                assert torch.equal(alone, one[:rows])
                assert work.rows is not None and len(work.rows.pieces) == min(count, kv_heads if rows == 1 else rows)
    finally:
        set_threads(previous)


def test_rows_sharing_first_pages_are_ordered_side_by_side() -> None:
    brief, other = list(range(40)), list(range(100, 140))
    tables = [brief + [200], other + [201], brief + [202], other + [203], brief[:3]]
    lengths = [41 * PAGE, 41 * PAGE, 41 * PAGE, 41 * PAGE, 3 * PAGE]
    step = plan(lengths, tables)
    assert step.decode_order.tolist() == [4, 0, 2, 1, 3]
    assert step.decode_tables.shape == (5, 41) and step.decode_tables[4].tolist() == [0, 1, 2] + [2] * 38
    assert step.decode_lengths.tolist() == lengths and step.page_size == PAGE


def test_torch_ops_decode_attention_agrees_with_the_exact_sequence_by_sequence_path() -> None:
    rng = random.Random(3)
    lengths = [700, 655, 801, 130, 3]
    tables = make_tables(rng, prefix_pages=8, lengths=lengths, num_pages=200)
    kv = random_kv(200, 4)
    queries = torch.randn(len(lengths), HEADS, D)
    step = plan(lengths, tables)
    shared = TorchOps(1e-5).attention(kv, 0, queries, step)
    exact = TorchOps(1e-5, share_prefix=False).attention(kv, 0, queries, step)
    torch.testing.assert_close(shared, exact, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("head_dim", [D, 32, 64])
@pytest.mark.parametrize("page_size", [1, 20, 48, 256])
def test_page_sizes_other_than_sixteen(page_size: int, head_dim: int) -> None:
    lengths = [700, 450, 131, 1]
    num_pages = sum(-(-n // page_size) for n in lengths) + 3
    free = list(range(num_pages))
    random.Random(page_size).shuffle(free)
    tables = [[free.pop() for _ in range(-(-n // page_size))] for n in lengths]
    kv = random_kv(num_pages, 9, head_dim, page_size=page_size)
    queries = torch.randn(len(lengths), HEADS, head_dim)
    together = attend(kv, queries, plan(lengths, tables, page_size))
    for row, (length, table) in enumerate(zip(lengths, tables, strict=True)):
        assert (together[row].double() - float64_attention(kv, queries[row], table, length)).abs().max() < 1e-5


def test_operands_that_do_not_fit_the_kernel_are_refused() -> None:
    keys = np.zeros((KV_HEADS, 4 * PAGE, D), np.float32)
    queries = np.zeros((1, HEADS, D), np.float32)
    tables, lengths = np.array([[0, 1]], np.int64), np.array([20], np.int64)
    scores, out = np.zeros((1, HEADS, 20), np.float32), np.zeros((1, HEADS, D), np.float32)
    check_operands(keys, keys, queries, tables, lengths, PAGE, scores, out)
    bad = [
        (keys.astype(np.float64), keys, queries, tables, lengths, scores, out),  # not float32
        (keys, keys, queries[:, :, ::2].copy(), tables, lengths, scores, out),  # head size differs
        (keys, keys, queries, tables[:, :1], lengths, scores, out),  # the table is too short for 20 positions
        (keys, keys, queries, np.array([[0, 9]], np.int64), lengths, scores, out),  # a page outside the store
        (keys, keys, queries, tables, np.array([0], np.int64), scores, out),  # an empty row
        (keys, keys, queries, tables.astype(np.int32), lengths, scores, out),
        (np.asfortranarray(keys), keys, queries, tables, lengths, scores, out),
    ]
    for operands in bad:
        k, v, q, t, n, s, o = operands
        with pytest.raises(ValueError):
            check_operands(k, v, q, t, n, PAGE, s, o)
    attend_rows(keys, keys, queries, tables, lengths, np.array([0], np.int64), PAGE, scores, out)
    assert np.all(out == 0)
