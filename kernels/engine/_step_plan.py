"""What one batched forward needs to know about a batch, as tensors: built once per step.

Rows are the batch's tokens side by side (N of them). Single-token chunks come first (the decode
group, B rows, one attention call together); each longer chunk is a prefill with its own call.
A KV slot is `page * page_size + offset`.

Decode rows whose sequences share their first KV pages (an org brief every agent starts with) form
`DecodeGroup`s over whole blocks of ATTENTION_BLOCK positions, so attention can read those keys and
values once for the whole group (kernels/engine/_shared_attention.py). A row of at least
SHORT_CONTEXT positions is a `BlockedRow`: its context in blocks, the group's first, then blocks of its own, the last one
padded to a whole block; the own blocks of all rows are gathered side by side (`OwnBlocks`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from kernels.engine._scheduler import Batch


ATTENTION_BLOCK = 64  # positions; decode attention sums its value products block by block
SHORT_CONTEXT = 128  # decode rows shorter than this attend as the single-sequence forward does


@dataclass(frozen=True)
class DecodeGroup:
    rows: tuple[int, ...]  # decode rows whose first `blocks` blocks of positions lie in the same pages
    blocks: int
    slots: torch.Tensor | slice  # [blocks * ATTENTION_BLOCK] their KV slots
    pages: torch.Tensor | None  # [blocks * ATTENTION_BLOCK / page size] the same slots as whole pages (None: a slice)


@dataclass(frozen=True)
class BlockedRow:
    """A decode row of at least SHORT_CONTEXT positions: `blocks` blocks, the first `shared` read with its group."""

    row: int
    length: int  # S
    group: int  # index into `decode_groups`, -1 for none
    member: int  # its index in the group's rows
    shared: int  # blocks read with the group
    first_own: int  # index of its first own block among `OwnBlocks`'

    @property
    def blocks(self) -> int:
        return -(-self.length // ATTENTION_BLOCK)


@dataclass(frozen=True)
class OwnBlocks:
    """The blocks of the blocked rows past their group's, row after row: T blocks of ATTENTION_BLOCK slots."""

    slots: torch.Tensor  # [T B] long; a last block's positions past the row's length lie in its last page
    pages: torch.Tensor | None  # [T B / page size] the same as whole pages, when a block is whole pages
    pad: torch.Tensor | None  # [T, B] bool, the positions past their row's length (None: none)
    unwritten: torch.Tensor | None  # [n] long, the slots of the rows' last pages past their lengths (None: none)
    rows: torch.Tensor  # [T] long, the decode row of each block


@dataclass(frozen=True)
class PrefillPlan:
    rows: slice  # its query rows
    key_slots: torch.Tensor | slice  # [S] KV slots of positions 0 .. start + count (a slice when contiguous)
    mask: torch.Tensor | None  # [T, S] bool, query i sees keys 0 .. start + i (None: plain causal from 0)


@dataclass(frozen=True)
class StepPlan:
    token_ids: list[int]  # [N]
    positions: torch.Tensor  # [N] long
    write_slots: torch.Tensor  # [N] long, where each row's key and value go
    decode_rows: int  # B: rows [0, B) are single-token chunks
    decode_each: tuple[torch.Tensor | slice, ...]  # per decode row, the KV slots of its sequence [S_b]
    # the slots of the decode rows whose pages are not consecutive, side by side [sum S_b], gathered in
    # one call per layer; decode_spans[row] is that row's part of them (a row with consecutive pages:
    # its slice of the store itself)
    decode_gather: torch.Tensor | None
    decode_spans: tuple[slice, ...]
    decode_groups: tuple[DecodeGroup, ...]
    decode_blocked: tuple[BlockedRow, ...]  # the decode rows of at least SHORT_CONTEXT positions
    decode_own: OwnBlocks | None  # their blocks past the groups' (None: no blocked row)
    decode_short: tuple[int, ...]  # the decode rows shorter than SHORT_CONTEXT (attended as the single-sequence forward does)
    decode_slots: torch.Tensor | slice | None  # [B, Smax] long (padded), or a slice when B == 1 and contiguous
    decode_mask: torch.Tensor | None  # [B, 1, 1, Smax] bool, None when no row is padded
    prefills: tuple[PrefillPlan, ...]
    sample_rows: torch.Tensor  # [n] long: the last row of each chunk that samples, in batch order
    page_tables: tuple[tuple[int, ...], ...]  # per chunk, for backends that read the page table directly
    context_lengths: tuple[int, ...]  # per chunk: start + count


def slots_of(table: list[int], length: int, page_size: int) -> torch.Tensor | slice:
    """KV slots of positions [0, length): a slice when the pages happen to be consecutive."""
    pages = -(-length // page_size)
    first = table[0]
    if table[:pages] == list(range(first, first + pages)):
        return slice(first * page_size, first * page_size + length)
    base = torch.tensor(table[:pages], dtype=torch.long)[:, None] * page_size + torch.arange(page_size)  # [pages, P]
    return base.flatten()[:length]


def plan_step(batch: Batch, tables: list[list[int]], page_size: int, can_group: Callable[[int], bool] | None = None) -> StepPlan:
    """`can_group(m)`: whether m decode rows may form a group (None: never; see _shared_attention)."""
    token_ids: list[int] = []
    positions: list[int] = []
    write_slots: list[int] = []
    decode_tables: list[tuple[list[int], int]] = []
    prefills: list[PrefillPlan] = []
    sample_rows: list[int] = []
    for chunk, table in zip(batch.chunks, tables, strict=True):
        row = len(token_ids)
        end = chunk.start + chunk.count
        token_ids += chunk.seq.token_ids[chunk.start : end]
        positions += range(chunk.start, end)
        write_slots += [table[p // page_size] * page_size + p % page_size for p in range(chunk.start, end)]
        if chunk.count == 1:
            decode_tables.append((table, end))
        else:
            mask = None
            if chunk.start:
                mask = torch.arange(end)[None, :] <= torch.arange(chunk.start, end)[:, None]  # [T, S]
            prefills.append(PrefillPlan(slice(row, row + chunk.count), slots_of(table, end, page_size), mask))
        if chunk.samples:
            sample_rows.append(row + chunk.count - 1)
    decode_slots, decode_mask = _decode_slots(decode_tables, page_size)
    decode_each = tuple(decode_slots if len(decode_tables) == 1 else slots_of(t, n, page_size) for t, n in decode_tables)
    decode_gather, decode_spans = _gather_spans(decode_each)
    groups = _decode_groups(decode_tables, page_size, can_group or (lambda m: False))
    blocked, own = _blocked_rows(decode_tables, groups, page_size)
    return StepPlan(
        token_ids=token_ids,
        positions=torch.tensor(positions, dtype=torch.long),
        write_slots=torch.tensor(write_slots, dtype=torch.long),
        decode_rows=len(decode_tables),
        decode_each=decode_each,
        decode_gather=decode_gather,
        decode_spans=decode_spans,
        decode_groups=groups,
        decode_blocked=blocked,
        decode_own=own,
        decode_short=tuple(row for row, (_, length) in enumerate(decode_tables) if length < SHORT_CONTEXT),
        decode_slots=decode_slots,
        decode_mask=decode_mask,
        prefills=tuple(prefills),
        sample_rows=torch.tensor(sample_rows, dtype=torch.long),
        page_tables=tuple(tuple(t) for t in tables),
        context_lengths=tuple(c.start + c.count for c in batch.chunks),
    )


def _decode_slots(decode: list[tuple[list[int], int]], page_size: int) -> tuple[torch.Tensor | slice | None, torch.Tensor | None]:
    if not decode:
        return None, None
    if len(decode) == 1:
        table, length = decode[0]
        return slots_of(table, length, page_size), None
    lengths = [length for _, length in decode]
    longest = max(lengths)
    pages = -(-longest // page_size)
    # padding repeats each row's first page: written slots (masked out), never unwritten memory
    padded = torch.tensor([t[: -(-n // page_size)] + [t[0]] * (pages - -(-n // page_size)) for t, n in decode], dtype=torch.long)
    slots = (padded[:, :, None] * page_size + torch.arange(page_size)).flatten(1)[:, :longest]  # [B, Smax]
    if min(lengths) == longest:
        return slots, None
    mask = torch.arange(longest)[None, :] < torch.tensor(lengths)[:, None]  # [B, Smax]
    return slots, mask[:, None, None, :]


def _gather_spans(each: tuple[torch.Tensor | slice, ...]) -> tuple[torch.Tensor | None, tuple[slice, ...]]:
    spans, parts, offset = [], [], 0
    for slots in each:
        if isinstance(slots, slice):
            spans.append(slots)
            continue
        spans.append(slice(offset, offset + len(slots)))
        parts.append(slots)
        offset += len(slots)
    return (torch.cat(parts) if parts else None), tuple(spans)


def _decode_groups(decode: list[tuple[list[int], int]], page_size: int, can_group: Callable[[int], bool]) -> tuple[DecodeGroup, ...]:
    """Rows whose first block lies in the same pages, each group over the whole blocks two or more of them share."""
    groups: list[DecodeGroup] = []
    per_block = ATTENTION_BLOCK // page_size
    by_first: dict[tuple[int, ...], list[int]] = {}
    if ATTENTION_BLOCK % page_size == 0:
        for row, (table, length) in enumerate(decode):
            if length >= SHORT_CONTEXT:
                by_first.setdefault(tuple(table[:per_block]), []).append(row)
    for rows in by_first.values():
        reference = decode[rows[0]][0]
        common = {row: _common_blocks(reference, *decode[row], per_block) for row in rows}  # [row] -> whole blocks
        # the number of blocks that shares the most positions, over the two or more rows that have that many
        candidates = [j for j in set(common.values()) if sum(c >= j for c in common.values()) >= 2]
        if not candidates:
            continue
        blocks = max(candidates, key=lambda j: (j * sum(c >= j for c in common.values()), j))
        members = tuple(row for row in rows if common[row] >= blocks)
        if not can_group(len(members)):
            continue
        slots = slots_of(reference, blocks * ATTENTION_BLOCK, page_size)
        pages = None if isinstance(slots, slice) else torch.tensor(reference[: blocks * per_block], dtype=torch.long)
        groups.append(DecodeGroup(members, blocks, slots, pages))
    return tuple(groups)


def _blocked_rows(decode: list[tuple[list[int], int]], groups: tuple[DecodeGroup, ...],
                  page_size: int) -> tuple[tuple[BlockedRow, ...], OwnBlocks | None]:  # fmt: skip
    membership = {row: (index, group.rows.index(row), group.blocks) for index, group in enumerate(groups) for row in group.rows}
    rows, unwritten, block_rows, block_starts, block_lengths, pieces = [], [], [], [], [], []
    for row, (table, length) in enumerate(decode):
        if length < SHORT_CONTEXT:
            continue
        group, member, shared = membership.get(row, (-1, 0, 0))
        blocked = BlockedRow(row, length, group, member, shared, len(block_rows))
        rows.append(blocked)
        last_page = (length - 1) // page_size  # the pages past it: the last page again (padding)
        first, end = shared * ATTENTION_BLOCK, blocked.blocks * ATTENTION_BLOCK  # its own positions, padded: [first, end)
        pieces += [(table[min(p, last_page)], start, stop) for p, start, stop in _pages_of(first, end, page_size)]
        if length % page_size:
            unwritten += range(table[last_page] * page_size + length % page_size, (table[last_page] + 1) * page_size)
        block_rows += [row] * (blocked.blocks - shared)
        block_starts += range(first, end, ATTENTION_BLOCK)
        block_lengths += [length] * (blocked.blocks - shared)
    if not rows:
        return (), None
    page_list = torch.tensor([page for page, _, _ in pieces], dtype=torch.long)
    if ATTENTION_BLOCK % page_size == 0:  # whole pages
        pages: torch.Tensor | None = page_list
        slots = (page_list[:, None] * page_size + torch.arange(page_size)).flatten()
    else:
        pages = None
        slots = torch.cat([torch.arange(page * page_size + start, page * page_size + stop) for page, start, stop in pieces])
    positions = torch.tensor(block_starts)[:, None] + torch.arange(ATTENTION_BLOCK)  # [T, B]
    pad = positions >= torch.tensor(block_lengths)[:, None]
    own = OwnBlocks(slots, pages, pad if pad.any() else None, torch.tensor(unwritten, dtype=torch.long) if unwritten else None,
                    torch.tensor(block_rows, dtype=torch.long))  # fmt: skip
    return tuple(rows), own


def _pages_of(first: int, end: int, page_size: int) -> list[tuple[int, int, int]]:
    """Positions [first, end) as (page index, first offset, end offset) pieces, page after page."""
    pieces, position = [], first
    while position < end:
        stop = min(end, (position // page_size + 1) * page_size)
        pieces.append((position // page_size, position % page_size, position % page_size + stop - position))
        position = stop
    return pieces


def _common_blocks(reference: list[int], table: list[int], length: int, per_block: int) -> int:
    """Whole blocks of positions at the start of `table` (within `length`) in the same pages as `reference`'s."""
    limit = min(length // ATTENTION_BLOCK * per_block, len(reference))
    pages = 0
    while pages < limit and table[pages] == reference[pages]:
        pages += 1
    return pages // per_block
