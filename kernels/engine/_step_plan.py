"""What one batched forward needs to know about a batch, as tensors: built once per step.

Rows are the batch's tokens side by side (N of them). Single-token chunks come first (the decode
group, B rows, one attention call together); each longer chunk is a prefill with its own call.
A KV slot is `page * page_size + offset`.

Decode attention on the CPU reads each decode row's keys and values through its page table
(`decode_tables`, `decode_lengths`; kernels/_cpu_attention.py), rows in `decode_order`: rows
sharing their first pages (an org brief every agent starts with) next to each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from kernels.engine._scheduler import Batch


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
    decode_rows: int  # B: rows [0, B) are decode chunks (one generated token each)
    decode_each: tuple[torch.Tensor | slice, ...]  # per decode row, the KV slots of its sequence [S_b]
    # the slots of the decode rows whose pages are not consecutive, side by side [sum S_b], gathered in
    # one call per layer; decode_spans[row] is that row's part of them (a row with consecutive pages:
    # its slice of the store itself)
    decode_gather: torch.Tensor | None
    decode_spans: tuple[slice, ...]
    decode_tables: np.ndarray  # [B, P] int64, each decode row's pages (past its length: its last page again)
    decode_lengths: np.ndarray  # [B] int64, each decode row's positions (its context, the new token's included)
    decode_order: np.ndarray  # [B] int64, the decode rows ordered by page table: rows sharing first pages side by side
    page_size: int
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


def plan_step(batch: Batch, tables: list[list[int]], page_size: int) -> StepPlan:
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
        if chunk.is_decode:
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
    paged, lengths, order = _page_tables(decode_tables, page_size)
    return StepPlan(
        token_ids=token_ids,
        positions=torch.tensor(positions, dtype=torch.long),
        write_slots=torch.tensor(write_slots, dtype=torch.long),
        decode_rows=len(decode_tables),
        decode_each=decode_each,
        decode_gather=decode_gather,
        decode_spans=decode_spans,
        decode_tables=paged,
        decode_lengths=lengths,
        decode_order=order,
        page_size=page_size,
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


def _page_tables(decode: list[tuple[list[int], int]], page_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """[B, P] int64 pages of the decode rows (padded with each row's last page), [B] int64 lengths, and [B]
    int64 the rows in the order of their page tables (rows sharing first pages side by side)."""
    used = [table[: -(-length // page_size)] for table, length in decode]
    tables = np.empty((len(decode), max(map(len, used), default=0)), dtype=np.int64)
    for row, pages in enumerate(used):
        tables[row, : len(pages)] = pages
        tables[row, len(pages) :] = pages[-1]
    order = sorted(range(len(used)), key=used.__getitem__)
    return tables, np.array([length for _, length in decode], dtype=np.int64), np.array(order, dtype=np.int64)
