"""The batched sampler: one token per sampling row, each row with its own parameters and seed.

Greedy rows without a repetition penalty (the common case) take one argmax over all of them; the
others go through their request's `Sampler` (kernels/_sampling.py), so a seeded request picks the
same tokens whatever it is batched with. Grammar masks are applied to the logits before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from kernels._sampling import Sampler


@dataclass(frozen=True)
class RowSampling:
    sampler: Sampler
    previous: Sequence[int]  # the text so far, for the repetition penalty


def sample_batch(logits: torch.Tensor, rows: Sequence[RowSampling]) -> list[int]:
    """logits [n, V] (grammar masks already applied) -> one token per row."""
    plain = [i for i, row in enumerate(rows) if _is_plain_greedy(row.sampler)]
    tokens = [0] * len(rows)
    if plain:
        picked = (logits if len(plain) == len(rows) else logits[plain]).argmax(dim=-1).tolist()  # [len(plain)]
        for i, token in zip(plain, picked, strict=True):
            tokens[i] = token
    chosen = set(plain)
    for i, row in enumerate(rows):
        if i not in chosen:
            tokens[i] = row.sampler(logits[i], row.previous if row.sampler.params.repetition_penalty != 1.0 else ())
    return tokens


def _is_plain_greedy(sampler: Sampler) -> bool:
    return sampler.params.temperature == 0.0 and sampler.params.repetition_penalty == 1.0
