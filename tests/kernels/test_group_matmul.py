"""The group kernel (kernels/_group_matmul.py) and the workers it splits over (kernels/_kernel_jobs.py, _kernel_threads.py)."""

from __future__ import annotations

import multiprocessing
import threading
import time

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels._group_matmul import GroupWeights, pack
from kernels._kernel_jobs import WORKERS, product, rest


def random_weight(rows: int, cols: int, seed: int, nibbles: bool = False) -> tuple[GroupWeights, np.ndarray]:
    """A [rows, cols] weight of byte (or nibble) codes with float16 scales and offsets, and its float64 values."""
    rng = np.random.default_rng(seed)
    padded = rows + (-rows % 16)
    codes = rng.integers(0, 16 if nibbles else 256, (padded, cols), dtype=np.uint8)
    scale = rng.uniform(-0.02, 0.02, (padded, cols // 32)).astype(np.float16).astype(np.float32)
    offset = rng.uniform(-1, 1, (padded, cols // 32)).astype(np.float16).astype(np.float32)
    values = codes.reshape(padded, -1, 32) * scale[..., None].astype(np.float64) + offset[..., None]
    return GroupWeights(*pack(codes, scale, offset, nibbles)), values.reshape(padded, cols)[:rows]


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 70), groups=st.integers(1, 6), m=st.integers(1, 40), parts=st.integers(1, 3), seed=st.integers(0, 2**16),
       nibbles=st.booleans())  # fmt: skip
def test_each_row_gets_the_same_bits_alone_in_any_batch_and_on_any_threads(rows: int, groups: int, m: int, parts: int, seed: int,
                                                                          nibbles: bool) -> None:  # fmt: skip
    weights, values = random_weight(rows, 32 * groups, seed, nibbles)
    x = torch.from_numpy(np.random.default_rng(seed + 1).standard_normal((m, 32 * groups)).astype(np.float32))
    out = product(weights, x, parts)[:, :rows]  # [M, N]
    truth = x.double().numpy() @ values.T
    assert np.abs(out.numpy() - truth).max() <= 1e-5 * max(1.0, np.abs(truth).max())
    order = np.random.default_rng(seed + 2).permutation(m)
    shuffled = product(weights, x[order].contiguous(), 1)[:, :rows]
    assert torch.equal(shuffled, out[order])
    row = int(order[0])
    assert torch.equal(product(weights, x[row : row + 1].contiguous(), 1)[0, :rows], out[row])


def test_a_nan_in_one_row_stays_in_that_row() -> None:
    weights, _ = random_weight(48, 64, 3)
    x = torch.randn(5, 64)
    clean = product(weights, x.clone(), 2)
    x[2, 7] = float("nan")
    dirty = product(weights, x, 2)
    assert dirty[2].isnan().all()
    assert torch.equal(dirty[[0, 1, 3, 4]], clean[[0, 1, 3, 4]])


def test_operands_of_the_wrong_layout_are_refused() -> None:
    codes, scales = pack(np.zeros((16, 64), np.uint8), np.ones((16, 2), np.float32), np.zeros((16, 2), np.float32))
    with pytest.raises(ValueError, match="layout"):
        GroupWeights(codes[:, :1], scales)
    with pytest.raises(ValueError, match="uint8"):
        GroupWeights(codes.astype(np.int8), scales)
    weights = GroupWeights(codes, scales)
    for x in (torch.zeros(2, 32), torch.zeros(2, 64, dtype=torch.float64), torch.zeros(64, 2).t()):
        with pytest.raises(ValueError, match="C-contiguous float32"):
            product(weights, x, 1)


def test_callers_on_several_threads_and_sleeping_workers_get_their_own_results() -> None:
    weights, values = random_weight(200, 128, 4)
    inputs = [torch.randn(m, 128, generator=torch.Generator().manual_seed(m)) for m in (1, 3, 8, 17)]
    expected = [product(weights, x, 1) for x in inputs]
    failures: list[int] = []

    def caller(index: int) -> None:
        for round_ in range(30):
            x = inputs[(index + round_) % len(inputs)]
            if not torch.equal(product(weights, x, 3), expected[(index + round_) % len(inputs)]):
                failures.append(index)

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    time.sleep(0.05)  # the workers stop spinning and sleep: a post must wake them
    assert torch.equal(product(weights, inputs[3], 3), expected[3])


def test_a_job_posted_right_after_a_rest_waits_for_the_slot() -> None:
    weights, values = random_weight(96, 64, 6)
    x = torch.randn(5, 64, generator=torch.Generator().manual_seed(6))
    expected = product(weights, x, 1)
    for _ in range(50):
        rest()  # posted without waiting: the next product's post must not overwrite it while it is read
        assert torch.equal(product(weights, x, 2), expected)


def _product_in_child(queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    weights, _ = random_weight(64, 64, 5)
    queue.put(product(weights, torch.ones(2, 64), 2).numpy())


def product_in_forked_child() -> tuple[np.ndarray, int | None]:
    """A two-thread product computed in a child forked now: (its result, the child's exit code)."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_product_in_child, args=(queue,))
    child.start()
    got = queue.get(timeout=60)
    child.join(timeout=60)
    return got, child.exitcode


def test_a_forked_child_starts_workers_of_its_own() -> None:
    weights, _ = random_weight(64, 64, 5)
    expected = product(weights, torch.ones(2, 64), 2).numpy()  # the parent's workers exist now
    got, exitcode = product_in_forked_child()
    assert exitcode == 0 and np.array_equal(got, expected)


def test_a_child_forked_while_another_thread_holds_the_workers_still_computes() -> None:
    weights, _ = random_weight(64, 64, 5)
    expected = product(weights, torch.ones(2, 64), 2).numpy()
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with WORKERS.held(1):  # the pool's lock, as a decode step's one call holds it
            holding.set()
            release.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(60)
        got, exitcode = product_in_forked_child()
    finally:
        release.set()
        holder.join(60)
    assert exitcode == 0 and np.array_equal(got, expected)
