"""A loaded model with its tokenizer and chat template, generating one sequence at a time.

Part 2 of the engine (scheduler, page manager, batched runner) will sit behind the same
`stream` / `generate` calls; until then a lock serialises requests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kernels._chat_template import render_chat
from kernels._detokenizer import StreamingDetokenizer
from kernels._errors import GenerationError
from kernels._gguf_file import GGUFFile
from kernels._model import LlamaModel
from kernels._sampling import Sampler, SamplingParams
from kernels._stop_strings import StopStringFilter
from kernels._tokenizer import GGUFTokenizer
from kernels._weights import LinearMode

PREFILL_CHUNK = 256


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class GenerationResult:
    text: str
    token_ids: tuple[int, ...]
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" (a stop token or string) or "length"
    prefill_seconds: float
    decode_seconds: float


class LocalModel:
    """`LocalModel.load(path)`; then `stream(...)` yields TextDelta events and ends with a result."""

    def __init__(self, path: Path, file: GGUFFile, tokenizer: GGUFTokenizer, model: LlamaModel, load_seconds: float) -> None:
        self.path = path
        self.name = path.stem
        self.file = file
        self.tokenizer = tokenizer
        self.model = model
        self.load_seconds = load_seconds
        self.chat_template: str | None = file.metadata.get("tokenizer.chat_template")
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: str | Path, *, mode: LinearMode = "fused", max_context: int | None = 4096) -> LocalModel:
        started = time.perf_counter()
        path = Path(path)
        file = GGUFFile(path)
        try:
            tokenizer = GGUFTokenizer(file.metadata, path)
            model = LlamaModel.load(file, tokenizer.vocab_size, mode, max_context)
        except BaseException:
            file.close()
            raise
        file.release_pages()  # the packed weights are copies; only embedding rows are read from now on
        return cls(path, file, tokenizer, model, time.perf_counter() - started)

    @property
    def context_length(self) -> int:
        return self.model.max_positions

    def chat_prompt(self, messages: Sequence[Mapping[str, Any]]) -> str:
        return render_chat(
            self.chat_template, messages, bos_token=self.tokenizer.bos_token, eos_token=self.tokenizer.eos_token
        )

    def encode_chat(self, messages: Sequence[Mapping[str, Any]]) -> list[int]:
        return self.tokenizer.encode(self.chat_prompt(messages), add_bos=False)

    def generate(self, prompt: str | Sequence[int], params: SamplingParams = SamplingParams()) -> GenerationResult:
        for event in self.stream(prompt, params):
            if isinstance(event, GenerationResult):
                return event
        raise AssertionError("stream ended without a result")  # pragma: no cover

    def stream(self, prompt: str | Sequence[int], params: SamplingParams = SamplingParams()) -> Iterator[TextDelta | GenerationResult]:
        """Text deltas as they are decided, then the result. A str prompt is encoded as raw text."""
        ids = self.tokenizer.encode(prompt) if isinstance(prompt, str) else list(prompt)
        if not ids:
            raise GenerationError("the prompt is empty")
        if len(ids) >= self.context_length:
            raise GenerationError(f"the prompt has {len(ids)} tokens; the context holds {self.context_length}")
        if any(not 0 <= i < self.tokenizer.vocab_size for i in ids):
            raise GenerationError("the prompt holds token ids outside the vocabulary")
        with self._lock:
            yield from self._run(ids, params)

    def _run(self, ids: list[int], params: SamplingParams) -> Iterator[TextDelta | GenerationResult]:
        stop_ids = set(params.stop_token_ids) | (set() if params.ignore_eos else set(self.tokenizer.stop_ids))
        cache = self.model.new_cache(self.context_length)
        sampler = Sampler(params)
        detokenizer = StreamingDetokenizer(self.tokenizer)
        stops = StopStringFilter(params.stop)
        started = time.perf_counter()
        for begin in range(0, len(ids), PREFILL_CHUNK):
            logits = self.model.forward(ids[begin : begin + PREFILL_CHUNK], cache)
        prefilled = time.perf_counter()
        generated: list[int] = []
        text: list[str] = []
        finish = "length"
        while len(generated) < params.max_tokens:
            token = sampler(logits[-1], ids + generated if params.repetition_penalty != 1.0 else ())
            if token in stop_ids:
                finish = "stop"
                break
            generated.append(token)
            piece = stops.feed(detokenizer.push(token))
            if piece:
                text.append(piece)
                yield TextDelta(piece)
            if stops.stopped:
                finish = "stop"
                break
            if len(generated) == params.max_tokens or cache.length >= cache.max_tokens:
                break
            logits = self.model.forward([token], cache)
        tail = stops.feed(detokenizer.flush()) + stops.flush() if not stops.stopped else ""
        if tail:
            text.append(tail)
            yield TextDelta(tail)
        yield GenerationResult(
            text="".join(text),
            token_ids=tuple(generated),
            prompt_tokens=len(ids),
            completion_tokens=len(generated),
            finish_reason=finish,
            prefill_seconds=prefilled - started,
            decode_seconds=time.perf_counter() - prefilled,
        )

    def close(self) -> None:
        self.file.close()
