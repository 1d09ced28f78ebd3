"""OpenAI response shapes: chat completions and text completions, whole or as stream chunks."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from kernels._local_model import GenerationResult

Kind = Literal["chat", "text"]
DONE = b"data: [DONE]\n\n"


def usage(result: GenerationResult) -> dict[str, int]:
    return {
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "total_tokens": result.prompt_tokens + result.completion_tokens,
    }


def sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, ensure_ascii=False).encode("utf-8") + b"\n\n"


@dataclass(frozen=True)
class ResponseShape:
    """The envelope every response and chunk of one request shares."""

    kind: Kind
    model: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created: int = field(default_factory=lambda: int(time.time()))

    def _envelope(self, chunk: bool) -> dict[str, Any]:
        if self.kind == "chat":
            return {"id": f"chatcmpl-{self.id}", "object": "chat.completion.chunk" if chunk else "chat.completion",
                    "created": self.created, "model": self.model, "system_fingerprint": None}  # fmt: skip
        return {"id": f"cmpl-{self.id}", "object": "text_completion", "created": self.created, "model": self.model,
                "system_fingerprint": None}  # fmt: skip

    def whole(self, result: GenerationResult) -> dict[str, Any]:
        if self.kind == "chat":
            choice = {"index": 0, "message": {"role": "assistant", "content": result.text}, "logprobs": None,
                      "finish_reason": result.finish_reason}  # fmt: skip
        else:
            choice = {"index": 0, "text": result.text, "logprobs": None, "finish_reason": result.finish_reason}
        return {**self._envelope(chunk=False), "choices": [choice], "usage": usage(result)}

    def first_chunk(self) -> dict[str, Any] | None:
        """Chat streams open with the assistant's role; text streams have no opening chunk."""
        if self.kind != "chat":
            return None
        return self._chunk({"role": "assistant", "content": ""}, None)

    def text_chunk(self, text: str) -> dict[str, Any]:
        return self._chunk({"content": text} if self.kind == "chat" else text, None)

    def final_chunk(self, finish_reason: str) -> dict[str, Any]:
        return self._chunk({} if self.kind == "chat" else "", finish_reason)

    def usage_chunk(self, result: GenerationResult) -> dict[str, Any]:
        return {**self._envelope(chunk=True), "choices": [], "usage": usage(result)}

    def _chunk(self, content: dict[str, Any] | str, finish_reason: str | None) -> dict[str, Any]:
        if isinstance(content, dict):
            choice = {"index": 0, "delta": content, "logprobs": None, "finish_reason": finish_reason}
        else:
            choice = {"index": 0, "text": content, "logprobs": None, "finish_reason": finish_reason}
        return {**self._envelope(chunk=True), "choices": [choice]}
