"""One caller's request inside the engine: its sequence, sampler, grammar matcher, and the stream
of events it hands back (text deltas as they are decided, then the result)."""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass
from typing import Any

from kernels._detokenizer import StreamingDetokenizer
from kernels._errors import GenerationError
from kernels._sampling import Sampler, SamplingParams
from kernels._stop_strings import StopStringFilter
from kernels._tokenizer import GGUFTokenizer
from kernels.engine._sequence import Sequence


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class GenerationResult:
    text: str
    token_ids: tuple[int, ...]
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" (a stop token or string, or the grammar is complete) or "length"
    prefill_seconds: float  # from the request to its first token (queueing included)
    decode_seconds: float
    cached_tokens: int = 0  # prompt tokens taken from the prefix cache


class Request:
    def __init__(self, seq: Sequence, params: SamplingParams, tokenizer: GGUFTokenizer, matcher: Any | None) -> None:
        self.seq = seq
        self.params = params
        self.sampler = Sampler(params)
        self.matcher = matcher
        self.detokenizer = StreamingDetokenizer(tokenizer)
        self.stops = StopStringFilter(params.stop)
        self.events: queue.SimpleQueue[TextDelta | GenerationResult | BaseException] = queue.SimpleQueue()
        self.text: list[str] = []
        self.submitted = time.perf_counter()
        self.first_token: float | None = None
        self.done = False
        self.closing = False  # a constrained text closing up before its budget runs out

    def accept(self, token: int) -> bool:
        """Take a new token into the text; False when the text must end here (a stop string, a complete grammar)."""
        if self.first_token is None:
            self.first_token = time.perf_counter()
        if self.matcher is not None:
            if not self.matcher.accept_token(token):
                raise GenerationError(f"the grammar rejected token {token}")
            if self.matcher.is_terminated():
                return False
        piece = self.stops.feed(self.detokenizer.push(token))
        if piece:
            self._emit(piece)
        return not self.stops.stopped

    def sampled_without_token(self) -> None:
        if self.first_token is None:
            self.first_token = time.perf_counter()

    def complete(self) -> None:
        if not self.stops.stopped:
            tail = self.stops.feed(self.detokenizer.flush()) + self.stops.flush()
            if tail:
                self._emit(tail)
        seq, now = self.seq, time.perf_counter()
        first = self.first_token or now
        reason = "length" if seq.finish_reason == "length" else "stop"
        self.done = True
        self.events.put(GenerationResult(
            text="".join(self.text),
            token_ids=tuple(seq.generated_ids),
            prompt_tokens=seq.num_prompt_tokens,
            completion_tokens=seq.num_generated,
            finish_reason=reason,
            prefill_seconds=first - self.submitted,
            decode_seconds=now - first,
            cached_tokens=min(seq.num_cached, seq.num_prompt_tokens),
        ))  # fmt: skip

    def fail(self, error: BaseException) -> None:
        self.done = True
        self.events.put(error)

    def _emit(self, piece: str) -> None:
        self.text.append(piece)
        self.events.put(TextDelta(piece))
