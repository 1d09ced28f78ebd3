"""Progress of network operations (clone, fetch, push) as git reports it, for a progress bar."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_PERCENT = re.compile(r"^(?:remote:\s*)?(?P<phase>[A-Za-z][A-Za-z ]*?):\s+(?P<percent>\d{1,3})%")


@dataclass(frozen=True)
class GitProgress:
    phase: str  # "Receiving objects", "Resolving deltas", "Writing objects", ... or "" for other lines
    percent: int | None  # 0..100 within the phase, when git gives one
    line: str  # the line as git wrote it


def parse_progress(line: str) -> GitProgress:
    match = _PERCENT.match(line.strip())
    if match is None:
        return GitProgress("", None, line)
    return GitProgress(match.group("phase").strip(), min(100, int(match.group("percent"))), line)


def line_handler(progress: Callable[[GitProgress], None] | None) -> Callable[[str], None] | None:
    return None if progress is None else (lambda line: progress(parse_progress(line)))
