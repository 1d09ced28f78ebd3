"""One request's tokens as the scheduler sees them: what is prompt, what is generated, what has KV.

Torch-free: the scheduler and the page manager work on these alone.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterable

_ids = itertools.count()


class Status(enum.Enum):
    WAITING = "waiting"  # queued, holds no pages (new, or preempted)
    RUNNING = "running"  # holds pages; prefilling or decoding
    FINISHED = "finished"


class Sequence:
    """The token list of a request. Tokens `[0, num_computed)` have their keys and values in KV pages."""

    def __init__(self, prompt_ids: Iterable[int], *, max_tokens: int, max_total_tokens: int,
                 stop_token_ids: Iterable[int] = ()) -> None:  # fmt: skip
        self.id = next(_ids)
        self.token_ids: list[int] = list(prompt_ids)
        self.num_prompt_tokens = len(self.token_ids)
        self.max_tokens = max_tokens  # generated tokens at most
        self.max_total_tokens = max_total_tokens  # prompt + generated at most (the context length)
        self.stop_token_ids = frozenset(stop_token_ids)
        self.status = Status.WAITING
        self.num_computed = 0
        self.num_cached = 0  # prompt tokens found in the prefix cache when (last) admitted
        self.arrival = self.id  # admission order; a preempted sequence keeps its place
        self.waited_rounds = 0  # scheduling rounds passed over while waiting (fairness)
        self.preemptions = 0
        self.num_run = 0  # tokens run through the model for this sequence (recomputations included)
        self.finish_reason: str | None = None  # "stop", "length" or "cancelled"
        self.new_token = False  # the last postprocess appended a token

    @property
    def num_tokens(self) -> int:
        return len(self.token_ids)

    @property
    def num_generated(self) -> int:
        return len(self.token_ids) - self.num_prompt_tokens

    @property
    def generated_ids(self) -> list[int]:
        return self.token_ids[self.num_prompt_tokens :]

    @property
    def remaining(self) -> int:
        """Tokens still to run through the model before the next token can be sampled."""
        return self.num_tokens - self.num_computed

    @property
    def is_finished(self) -> bool:
        return self.status is Status.FINISHED

    def __repr__(self) -> str:
        return f"Sequence(id={self.id}, {self.status.value}, tokens={self.num_tokens}, computed={self.num_computed})"
