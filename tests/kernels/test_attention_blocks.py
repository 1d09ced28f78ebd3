"""The vector pieces of CPU decode attention (kernels/_attention_blocks.py) on their own, where a wrong
answer could hide inside the attention: a softmax shifted by a wrong maximum still sums to one."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numba import njit

from kernels._attention_blocks import LANES, reduction_plan, row_max


@njit(cache=False)
def _row_max(row, count):  # type: ignore[no-untyped-def]
    return row_max(np.int64(row.ctypes.data), count)


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.float32, st.integers(1, 5 * LANES + 3), elements=st.floats(-1e6, 1e6, width=32)))
def test_row_max_is_the_largest_element_wherever_it_sits(row: np.ndarray) -> None:
    assert _row_max(row, len(row)) == row.max()
    assert _row_max(row, 1) == row[0]


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
