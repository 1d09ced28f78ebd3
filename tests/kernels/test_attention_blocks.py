"""The vector pieces of CPU decode attention (kernels/_attention_blocks.py) on their own, where a wrong
answer could hide inside the attention: a softmax shifted by a wrong maximum still sums to one."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numba import njit

from kernels._attention_blocks import LANES, reduction_plan, row_max, row_sum


@njit(cache=False)
def _row_max(row, count):  # type: ignore[no-untyped-def]
    return row_max(np.int64(row.ctypes.data), count)


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.float32, st.integers(1, 5 * LANES + 3), elements=st.floats(-1e6, 1e6, width=32)))
def test_row_max_is_the_largest_element_wherever_it_sits(row: np.ndarray) -> None:
    assert _row_max(row, len(row)) == row.max()
    assert _row_max(row, 1) == row[0]


@njit(cache=False)
def _row_sum(row, count):  # type: ignore[no-untyped-def]
    return row_sum(np.int64(row.ctypes.data), count)


def lane_order_sum(row: np.ndarray) -> np.float32:
    """row_sum's order in float32: lane sums over whole blocks, the tree l + 8, + 4, + 2, + 1, then the tail."""
    whole = len(row) // LANES * LANES
    lanes = np.zeros(LANES, np.float32)
    for start in range(0, whole, LANES):
        lanes = lanes + row[start : start + LANES]
    width = LANES
    while width > 1:
        width //= 2
        lanes = lanes + np.roll(lanes, -width)
    total = lanes[0]
    for value in row[whole:]:
        total = np.float32(total + value)
    return total


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.float32, st.integers(1, 5 * LANES + 3), elements=st.floats(0, 1, width=32)))
def test_row_sum_adds_in_its_fixed_order(row: np.ndarray) -> None:
    assert _row_sum(row, len(row)) == lane_order_sum(row)
    assert abs(float(_row_sum(row, len(row))) - float(row.astype(np.float64).sum())) <= 1e-5 * len(row)


def test_row_sum_reads_only_count_elements() -> None:
    row = np.full(3 * LANES, 1e9, np.float32)
    row[: LANES + 5] = 1
    assert _row_sum(row, LANES + 5) == LANES + 5


def test_row_max_reads_only_count_elements() -> None:
    row = np.full(3 * LANES, 1e9, np.float32)
    row[: LANES + 5] = np.arange(LANES + 5, dtype=np.float32) - 100
    assert _row_max(row, LANES + 5) == LANES + 4 - 100


def test_the_reduction_tree_sums_each_keys_sixteen_lanes_once() -> None:
    levels, final = reduction_plan()
    vectors = [[(key, {lane}) for lane in range(LANES)] for key in range(LANES)]  # lane -> (key, lanes summed)
    for level in levels:
        merged = []
        for (a, b), (low, high) in zip(zip(vectors[0::2], vectors[1::2]), level):
            both = a + b
            pairs = [(both[i], both[j]) for i, j in zip(low, high)]
            assert all(x[0] == y[0] and not x[1] & y[1] for x, y in pairs)
            merged.append([(x[0], x[1] | y[1]) for x, y in pairs])
        vectors = merged
    assert [vectors[0][final[key]] for key in range(LANES)] == [(key, set(range(LANES))) for key in range(LANES)]
