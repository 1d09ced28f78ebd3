"""A loaded model with its tokenizer and chat template, served by one batching engine.

`stream` and `generate` may be called from many threads at once: every request joins the engine's
batch (kernels/engine/), and closing a stream early cancels its sequence and frees its pages.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from kernels._chat_template import render_chat
from kernels._errors import GenerationError
from kernels._gguf_file import GGUFFile
from kernels._model import LlamaModel
from kernels._sampling import SamplingParams
from kernels._tokenizer import METADATA_ARRAYS, GGUFTokenizer
from kernels._weights import LinearMode
from kernels.engine._backend import load_model
from kernels.engine._constraints import GrammarCompiler
from kernels.engine._engine import Engine, EngineConfig, EngineStats
from kernels.engine._request import GenerationResult, TextDelta

CONTROL_TOKEN = 3

__all__ = ["GenerationResult", "LocalModel", "TextDelta"]


class LocalModel:
    """`LocalModel.load(path)`; then `stream(...)` yields TextDelta events and ends with a result."""

    def __init__(self, path: Path, file: GGUFFile, tokenizer: GGUFTokenizer, model: LlamaModel, load_seconds: float,
                 engine_config: EngineConfig = EngineConfig()) -> None:  # fmt: skip
        self.path = path
        self.name = path.stem
        self.file = file
        self.tokenizer = tokenizer
        self.model = model
        self.load_seconds = load_seconds
        self.chat_template: str | None = file.metadata.get("tokenizer.chat_template")
        types = file.metadata.get("tokenizer.ggml.token_type")
        types = [] if types is None else list(types)
        self.grammars = GrammarCompiler(
            tokenizer,
            str(file.metadata.get("tokenizer.ggml.model")),
            model.config.vocab_size,
            [index for index, kind in enumerate(types) if kind == CONTROL_TOKEN],
            bool(file.metadata.get("tokenizer.ggml.add_space_prefix", True)),
        )
        self.engine = Engine(model, tokenizer, self.grammars, engine_config, weight_bytes=file.size)

    @classmethod
    def load(cls, path: str | Path, *, mode: LinearMode = "fused", max_context: int | None = 4096,
             engine: EngineConfig | None = None) -> LocalModel:  # fmt: skip
        started = time.perf_counter()
        path = Path(path)
        engine = engine or EngineConfig()
        file = GGUFFile(path)
        try:
            tokenizer = GGUFTokenizer(file.metadata, path)
            file.forget(METADATA_ARRAYS)  # the tokenizer holds the vocabulary now
            model = load_model(file, tokenizer.vocab_size, engine.device, mode, max_context, engine.dtype)  # CPU or Triton path
        except BaseException:
            file.close()
            raise
        file.release_pages()  # the packed weights are copies; only embedding rows are read from now on
        return cls(path, file, tokenizer, model, time.perf_counter() - started, engine)

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
        request = self.engine.submit(ids, params)
        try:
            while True:
                event = request.events.get()
                if isinstance(event, BaseException):
                    raise event
                yield event
                if isinstance(event, GenerationResult):
                    return
        finally:
            if not request.done:
                self.engine.cancel(request)

    def stats(self) -> EngineStats:
        return self.engine.stats()

    def close(self) -> None:
        self.engine.close()
        self.file.close()
