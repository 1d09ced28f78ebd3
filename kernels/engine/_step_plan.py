"""What one batched forward needs to know about a batch, as tensors: built once per step.

Rows are the batch's tokens side by side (N of them). Single-token chunks come first (the decode
group, B rows, one attention call together); each longer chunk is a prefill with its own call.
A KV slot is `page * page_size + offset`.

Decode rows whose sequences share their first KV pages (an org brief every agent starts with) form
`DecodeGroup`s over whole blocks of ATTENTION_BLOCK positions, so attention can read those keys and
values once for the whole group (kernels/engine/_shared_attention.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from kernels.engine._scheduler import Batch


ATTENTION_BLOCK = 128  # positions; decode attention sums its value products block by block


@dataclass(frozen=True)
class DecodeGroup:
    rows: tuple[int, ...]  # decode rows whose first `blocks` blocks of positions lie in the same pages
    blocks: int
    slots: torch.Tensor | slice  # [blocks * ATTENTION_BLOCK] their KV slots


@dataclass(frozen=True)
class DecodeClass:
    """Decode rows of one shape, computed side by side: the same group (or none) and context length."""

    rows: tuple[int, ...]
    group: int  # index into `decode_groups`, -1 for none; the class's rows are consecutive there, from `offset`
    offset: int
    shared: int  # positions the group covers
    length: int  # S, each row's context
    rest_slots: torch.Tensor | slice  # [n * (S - shared)] KV slots of positions [shared, S), row after row


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
    decode_classes: tuple[DecodeClass, ...]  # the decode rows by shape, each row in one
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
    groups, classes = _decode_groups(decode_tables, page_size, can_group or (lambda m: False))
    return StepPlan(
        token_ids=token_ids,
        positions=torch.tensor(positions, dtype=torch.long),
        write_slots=torch.tensor(write_slots, dtype=torch.long),
        decode_rows=len(decode_tables),
        decode_each=decode_each,
        decode_gather=decode_gather,
        decode_spans=decode_spans,
        decode_groups=groups,
        decode_classes=classes,
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


def _decode_groups(decode: list[tuple[list[int], int]], page_size: int, can_group: Callable[[int], bool]) -> tuple[tuple[DecodeGroup, ...], tuple[DecodeClass, ...]]:
    """Rows whose first block lies in the same pages, each group over the whole blocks two or more of
    them share; then every row in a class of rows with the same group and length."""
    group_of = [-1] * len(decode)
    groups: list[DecodeGroup] = []
    per_block = ATTENTION_BLOCK // page_size
    by_first: dict[tuple[int, ...], list[int]] = {}
    if ATTENTION_BLOCK % page_size == 0:
        for row, (table, length) in enumerate(decode):
            if length >= ATTENTION_BLOCK:
                by_first.setdefault(tuple(table[:per_block]), []).append(row)
    for rows in by_first.values():
        reference = decode[rows[0]][0]
        common = {row: _common_blocks(reference, *decode[row], per_block) for row in rows}  # [row] -> whole blocks
        # the number of blocks that shares the most positions, over the two or more rows that have that many
        candidates = [j for j in set(common.values()) if sum(c >= j for c in common.values()) >= 2]
        if not candidates:
            continue
        blocks = max(candidates, key=lambda j: (j * sum(c >= j for c in common.values()), j))
        members = sorted((row for row in rows if common[row] >= blocks), key=lambda row: (decode[row][1], row))  # classes together
        if not can_group(len(members)):
            continue
        for row in members:
            group_of[row] = len(groups)
        groups.append(DecodeGroup(tuple(members), blocks, slots_of(reference, blocks * ATTENTION_BLOCK, page_size)))
    by_shape: dict[tuple[int, int], list[int]] = {}
    for row, (_, length) in enumerate(decode):
        by_shape.setdefault((group_of[row], length), []).append(row)
    classes = []
    for (group, length), rows in by_shape.items():
        shared = groups[group].blocks * ATTENTION_BLOCK if group >= 0 else 0
        offset = groups[group].rows.index(rows[0]) if group >= 0 else 0
        parts = [slots_of(decode[row][0][shared // page_size :], length - shared, page_size) if length > shared else slice(0, 0) for row in rows]
        if len(parts) == 1:
            rest: torch.Tensor | slice = parts[0]
        else:
            rest = torch.cat([_as_tensor(part) for part in parts])
        classes.append(DecodeClass(tuple(rows), group, offset, shared, length, rest))
    return tuple(groups), tuple(classes)


def _as_tensor(slots: torch.Tensor | slice) -> torch.Tensor:
    return torch.arange(slots.start, slots.stop) if isinstance(slots, slice) else slots


def _common_blocks(reference: list[int], table: list[int], length: int, per_block: int) -> int:
    """Whole blocks of positions at the start of `table` (within `length`) in the same pages as `reference`'s."""
    limit = min(length // ATTENTION_BLOCK * per_block, len(reference))
    pages = 0
    while pages < limit and table[pages] == reference[pages]:
        pages += 1
    return pages // per_block
