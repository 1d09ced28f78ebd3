"""The lane graph of a history page: which column each commit sits in and the lines joining the rows.

A pure function over (sha, parents) pairs, newest first, as `orgruntime.vcs.history` returns them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class _Commit(Protocol):
    sha: str
    parents: tuple[str, ...]


@dataclass(frozen=True)
class LaneRow:
    column: int  # where the commit's dot is
    width: int  # columns in use in this row
    top: tuple[tuple[int, int], ...]  # (column at the row's top edge, column at its middle)
    bottom: tuple[tuple[int, int], ...]  # (column at the row's middle, column at its bottom edge)


def lane_rows(commits: Sequence[_Commit]) -> list[LaneRow]:
    lanes: list[str | None] = []  # the commit each column waits for
    rows = []
    for commit in commits:
        expected = commit.sha in lanes
        column = lanes.index(commit.sha) if expected else _free_column(lanes)
        if column == len(lanes):
            lanes.append(None)
        top = tuple((c, column if sha == commit.sha else c) for c, sha in enumerate(lanes) if sha is not None)
        lanes = [None if sha == commit.sha else sha for sha in lanes]
        joined: list[tuple[int, int]] = []
        assigned: set[int] = set()
        for index, parent in enumerate(commit.parents):
            if parent in lanes:
                joined.append((column, lanes.index(parent)))
                continue
            target = column if index == 0 and lanes[column] is None else _free_column(lanes)
            if target == len(lanes):
                lanes.append(None)
            lanes[target] = parent
            assigned.add(target)
            joined.append((column, target))
        through = [(c, c) for c, sha in enumerate(lanes) if sha is not None and c not in assigned]
        while lanes and lanes[-1] is None:
            lanes.pop()
        width = max([column + 1, *(a + 1 for a, _ in top), *(b + 1 for _, b in joined), *(c + 1 for c, _ in through)])
        rows.append(LaneRow(column, width, top, tuple(joined + through)))
    return rows


def _free_column(lanes: list[str | None]) -> int:
    return lanes.index(None) if None in lanes else len(lanes)
