"""Three-way merge of text, line by line (diff3): edits on both sides combine unless they overlap."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

OURS_MARKER, BASE_MARKER, SEPARATOR, THEIRS_MARKER = "<<<<<<< ours", "||||||| base", "=======", ">>>>>>> theirs"


@dataclass(frozen=True)
class TextMerge:
    """`ours`/`theirs`: the merged text with every overlapping hunk taken from that side (equal when clean)."""

    ours: str
    theirs: str
    marked: str  # git-style conflict markers around each overlapping hunk (diff3 style, with the base)
    conflicts: int

    @property
    def clean(self) -> bool:
        return self.conflicts == 0


def merge_text(base: str, ours: str, theirs: str, *, labels: tuple[str, str] = ("ours", "theirs")) -> TextMerge:
    if ours == theirs or theirs == base:
        return TextMerge(ours, ours, ours, 0)
    if ours == base:
        return TextMerge(theirs, theirs, theirs, 0)
    base_lines, our_lines, their_lines = base.split("\n"), ours.split("\n"), theirs.split("\n")
    take_ours: list[str] = []
    take_theirs: list[str] = []
    marked: list[str] = []
    conflicts = 0
    for region in _regions(base_lines, our_lines, their_lines):
        if region[0] == "conflict":
            _, base_part, our_part, their_part = region
            conflicts += 1
            take_ours += our_part
            take_theirs += their_part
            marked += [f"<<<<<<< {labels[0]}", *our_part, BASE_MARKER, *base_part, SEPARATOR, *their_part,
                       f">>>>>>> {labels[1]}"]
        else:
            take_ours += region[1]
            take_theirs += region[1]
            marked += region[1]
    return TextMerge("\n".join(take_ours), "\n".join(take_theirs), "\n".join(marked), conflicts)


def _matching_blocks(base: Sequence[str], side: Sequence[str]) -> list[tuple[int, int, int]]:
    return [tuple(block) for block in SequenceMatcher(None, base, side, autojunk=False).get_matching_blocks()]


def _sync_regions(base: Sequence[str], ours: Sequence[str], theirs: Sequence[str]) -> list[tuple[int, ...]]:
    """Base ranges that both sides kept unchanged, with where they sit in each side."""
    ours_blocks, theirs_blocks = _matching_blocks(base, ours), _matching_blocks(base, theirs)
    regions = []
    i = j = 0
    while i < len(ours_blocks) and j < len(theirs_blocks):
        ours_base, ours_at, ours_len = ours_blocks[i]
        theirs_base, theirs_at, theirs_len = theirs_blocks[j]
        start, end = max(ours_base, theirs_base), min(ours_base + ours_len, theirs_base + theirs_len)
        if start < end:
            our_start, their_start = ours_at + start - ours_base, theirs_at + start - theirs_base
            regions.append((start, end, our_start, our_start + end - start, their_start, their_start + end - start))
        if ours_base + ours_len < theirs_base + theirs_len:
            i += 1
        else:
            j += 1
    regions.append((len(base), len(base), len(ours), len(ours), len(theirs), len(theirs)))
    return regions


def _regions(base: Sequence[str], ours: Sequence[str], theirs: Sequence[str]) -> Iterator[tuple]:
    """('lines', lines) for settled stretches, ('conflict', base, ours, theirs) for overlapping edits."""
    at_base = at_ours = at_theirs = 0
    for base_start, base_end, ours_start, ours_end, theirs_start, theirs_end in _sync_regions(base, ours, theirs):
        base_part = list(base[at_base:base_start])
        our_part = list(ours[at_ours:ours_start])
        their_part = list(theirs[at_theirs:theirs_start])
        if our_part == their_part:
            yield ("lines", our_part)
        elif our_part == base_part:
            yield ("lines", their_part)
        elif their_part == base_part:
            yield ("lines", our_part)
        else:
            yield ("conflict", base_part, our_part, their_part)
        yield ("lines", list(base[base_start:base_end]))
        at_base, at_ours, at_theirs = base_end, ours_end, theirs_end
