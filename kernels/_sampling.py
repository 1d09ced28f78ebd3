"""Choosing the next token: greedy, temperature, top-k, top-p, min-p, repetition penalty, seed."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from kernels._errors import GenerationError


@dataclass(frozen=True)
class SamplingParams:
    """What a request asks of generation. `temperature == 0` means greedy.

    `response_format` is OpenAI's (`{"type": "json_schema", "json_schema": {"schema": {...}}}`,
    `{"type": "json_object"}` or `{"type": "text"}`); `grammar` is an EBNF grammar (xgrammar's
    dialect, root rule `root`). Either constrains the output to parse.
    """

    max_tokens: int = 256
    temperature: float = 0.0
    top_k: int = 0  # 0: off
    top_p: float = 1.0
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    stop_token_ids: tuple[int, ...] = ()
    ignore_eos: bool = False
    response_format: Mapping[str, Any] | None = None
    grammar: str | None = None

    def __post_init__(self) -> None:
        problems = []
        if not isinstance(self.max_tokens, int) or self.max_tokens < 1:
            problems.append(f"max_tokens must be a positive integer, not {self.max_tokens!r}")
        if not 0.0 <= self.temperature <= 100.0:
            problems.append(f"temperature must be within 0..100, not {self.temperature!r}")
        if self.top_k < 0:
            problems.append(f"top_k must be 0 (off) or positive, not {self.top_k!r}")
        if not 0.0 < self.top_p <= 1.0:
            problems.append(f"top_p must be within (0, 1], not {self.top_p!r}")
        if not 0.0 <= self.min_p < 1.0:
            problems.append(f"min_p must be within [0, 1), not {self.min_p!r}")
        if not self.repetition_penalty > 0.0:
            problems.append(f"repetition_penalty must be positive, not {self.repetition_penalty!r}")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 1 << 64):
            problems.append(f"seed must be an integer within [0, 2**64), not {self.seed!r}")
        if any(not isinstance(s, str) or not s for s in self.stop):
            problems.append("stop strings must be non-empty strings")
        problems += _constraint_problems(self.response_format, self.grammar)
        if problems:
            raise GenerationError("; ".join(problems))

    @property
    def constrained(self) -> bool:
        kind = self.response_format.get("type") if self.response_format is not None else "text"
        return self.grammar is not None or kind != "text"


RESPONSE_FORMAT_TYPES = ("text", "json_object", "json_schema")


def _constraint_problems(response_format: object, grammar: object) -> list[str]:
    if grammar is not None and (not isinstance(grammar, str) or not grammar.strip()):
        return ["grammar must be a non-empty string"]
    if response_format is None:
        return []
    if not isinstance(response_format, Mapping) or response_format.get("type") not in RESPONSE_FORMAT_TYPES:
        return [f"response_format must be an object whose type is one of {', '.join(RESPONSE_FORMAT_TYPES)}"]
    if grammar is not None and response_format.get("type") != "text":
        return ["give either a grammar or a response_format, not both"]
    if response_format["type"] == "json_schema":
        spec = response_format.get("json_schema")
        if not isinstance(spec, Mapping) or not isinstance(spec.get("schema", {}), Mapping):
            return ["response_format json_schema needs a json_schema object with a schema object"]
    return []


class Sampler:
    """Picks tokens for one sequence; the same seed gives the same choices."""

    def __init__(self, params: SamplingParams) -> None:
        self.params = params
        self.generator = torch.Generator().manual_seed(params.seed if params.seed is not None else secrets.randbits(63))

    def __call__(self, logits: torch.Tensor, previous: Sequence[int] = ()) -> int:  # logits [V]
        p = self.params
        logits = logits.float()
        if p.repetition_penalty != 1.0 and previous:
            seen = torch.tensor(sorted(set(previous)), dtype=torch.long)
            values = logits[seen]
            logits = logits.clone()
            logits[seen] = torch.where(values > 0, values / p.repetition_penalty, values * p.repetition_penalty)
        if p.temperature == 0.0:
            return int(torch.argmax(logits))
        logits = logits / p.temperature
        if p.top_k > 0 and p.top_k < logits.numel():
            kth = torch.topk(logits, p.top_k).values[-1]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        probs = torch.softmax(logits, dim=-1)
        if p.top_p < 1.0:
            sorted_probs, order = torch.sort(probs, descending=True)
            before = torch.cumsum(sorted_probs, dim=-1) - sorted_probs  # mass of the strictly likelier tokens
            sorted_probs = sorted_probs.masked_fill(before >= p.top_p, 0.0)
            probs = torch.zeros_like(probs).scatter_(0, order, sorted_probs)
        if p.min_p > 0.0:
            probs = probs.masked_fill(probs < p.min_p * probs.max(), 0.0)
        return int(torch.multinomial(probs, 1, generator=self.generator))
