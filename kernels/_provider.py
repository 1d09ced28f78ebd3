"""The litellm provider `local/<model>`: chat completions from the built-in engine.

`register_litellm_provider()` adds it to litellm; the application calls it once. Requests accept
`max_tokens`, `temperature`, `top_p`, `stop`, `seed`, `response_format` (json_schema or
json_object: the answer then parses and validates) (and `top_k`, `min_p`, `repetition_penalty`,
`ignore_eos` and an EBNF `grammar`, also through `extra_body`); responses carry usage counts and cost nothing.
Every request joins the model's batching engine, so concurrent agents are batched together; async
calls wait on a worker thread, so the caller's event loop never blocks; a cancelled stream stops
generating and frees its KV pages.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

from kernels._errors import GenerationError, KernelsError
from kernels._local_model import GenerationResult, LocalModel, TextDelta
from kernels._registry import resolve_model
from kernels._sampling import SamplingParams

PROVIDER = "local"
_DONE = object()


class ModelPool:
    """Loaded models by file, loaded once and shared by every request."""

    def __init__(self) -> None:
        self._models: dict[Path, LocalModel] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> LocalModel:
        path = resolve_model(name).resolve()
        with self._lock:
            if path not in self._models:
                self._models[path] = LocalModel.load(path)
            return self._models[path]


POOL = ModelPool()


def sampling_from_openai(options: Mapping[str, Any]) -> SamplingParams:
    extra = options.get("extra_body") or {}
    options = {**extra, **options} if isinstance(extra, Mapping) else options
    stop = options.get("stop") or ()
    stop = (stop,) if isinstance(stop, str) else tuple(stop)
    max_tokens = _given(options, "max_tokens", _given(options, "max_completion_tokens", 256))
    return SamplingParams(
        max_tokens=int(max_tokens),
        temperature=float(_given(options, "temperature", 0.0)),
        top_p=float(_given(options, "top_p", 1.0)),
        top_k=int(_given(options, "top_k", 0)),
        min_p=float(_given(options, "min_p", 0.0)),
        repetition_penalty=float(_given(options, "repetition_penalty", 1.0)),
        seed=options.get("seed"),
        stop=stop,
        ignore_eos=bool(options.get("ignore_eos", False)),
        response_format=_plain(options.get("response_format")),
        grammar=options.get("grammar"),
    )


def _given(options: Mapping[str, Any], name: str, default: Any) -> Any:
    """The option's value; the default only when it is absent or null (0 is a value, not a default)."""
    value = options.get(name)
    return default if value is None else value


def _plain(response_format: Any) -> Any:
    """A response_format as plain data (litellm may hand over a pydantic model)."""
    if response_format is not None and hasattr(response_format, "model_dump"):
        return response_format.model_dump(by_alias=True, exclude_none=True)
    return response_format


def plain_messages(messages: list[Any]) -> list[dict[str, Any]]:
    """OpenAI messages with list-of-parts content flattened to text, for chat templates."""
    result = []
    for message in messages:
        message = dict(message)
        content = message.get("content")
        if isinstance(content, list):
            message["content"] = "".join(part.get("text", "") for part in content if isinstance(part, Mapping))
        elif content is None:
            message["content"] = ""
        result.append(message)
    return result


def _chunk(text: str, result: GenerationResult | None) -> dict[str, Any]:
    usage = None
    if result is not None:
        usage = {
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
            "total_tokens": result.prompt_tokens + result.completion_tokens,
        }
    return {
        "text": text,
        "tool_use": None,
        "is_finished": result is not None,
        "finish_reason": result.finish_reason if result is not None else "",
        "usage": usage,
        "index": 0,
    }


def _make_provider_class() -> type:
    from litellm import CustomLLM
    from litellm.llms.custom_llm import CustomLLMError
    from litellm.types.utils import Choices, Message, Usage

    class LocalProvider(CustomLLM):
        def __init__(self, pool: ModelPool) -> None:
            super().__init__()
            self.pool = pool

        def _prepare(self, model: str, messages: list[Any], optional_params: dict) -> tuple[LocalModel, list[int], SamplingParams]:
            try:
                local = self.pool.get(model)
                params = sampling_from_openai(optional_params)
                return local, local.encode_chat(plain_messages(messages)), params
            except KernelsError as error:
                raise CustomLLMError(status_code=400, message=str(error)) from None

        def _respond(self, model: str, model_response: Any, result: GenerationResult) -> Any:
            model_response.choices = [Choices(index=0, finish_reason=result.finish_reason,
                                              message=Message(role="assistant", content=result.text))]  # fmt: skip
            model_response.model = f"{PROVIDER}/{model}"
            model_response.created = int(time.time())
            model_response.usage = Usage(
                prompt_tokens=result.prompt_tokens,
                completion_tokens=result.completion_tokens,
                total_tokens=result.prompt_tokens + result.completion_tokens,
            )
            return model_response

        def _generate(self, local: LocalModel, ids: list[int], params: SamplingParams) -> GenerationResult:
            try:
                return local.generate(ids, params)
            except GenerationError as error:
                raise CustomLLMError(status_code=400, message=str(error)) from None

        def completion(self, model: str, messages: list, api_base: str, custom_prompt_dict: dict, model_response: Any,
                       print_verbose: Any, encoding: Any, api_key: Any, logging_obj: Any, optional_params: dict,
                       *args: Any, **kwargs: Any) -> Any:  # fmt: skip
            local, ids, params = self._prepare(model, messages, optional_params)
            return self._respond(model, model_response, self._generate(local, ids, params))

        async def acompletion(self, model: str, messages: list, api_base: str, custom_prompt_dict: dict, model_response: Any,
                              print_verbose: Any, encoding: Any, api_key: Any, logging_obj: Any, optional_params: dict,
                              *args: Any, **kwargs: Any) -> Any:  # fmt: skip
            local, ids, params = await asyncio.to_thread(self._prepare, model, messages, optional_params)
            result = await asyncio.to_thread(self._generate, local, ids, params)
            return self._respond(model, model_response, result)

        def streaming(self, model: str, messages: list, api_base: str, custom_prompt_dict: dict, model_response: Any,
                      print_verbose: Any, encoding: Any, api_key: Any, logging_obj: Any, optional_params: dict,
                      *args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:  # fmt: skip
            local, ids, params = self._prepare(model, messages, optional_params)
            yield from _stream_chunks(local, ids, params, threading.Event())

        async def astreaming(self, model: str, messages: list, api_base: str, custom_prompt_dict: dict, model_response: Any,
                             print_verbose: Any, encoding: Any, api_key: Any, logging_obj: Any, optional_params: dict,
                             *args: Any, **kwargs: Any) -> AsyncIterator[dict[str, Any]]:  # fmt: skip
            local, ids, params = await asyncio.to_thread(self._prepare, model, messages, optional_params)
            loop = asyncio.get_running_loop()
            queue: asyncio.Queue[Any] = asyncio.Queue()
            cancelled = threading.Event()

            def produce() -> None:
                try:
                    for chunk in _stream_chunks(local, ids, params, cancelled):
                        loop.call_soon_threadsafe(queue.put_nowait, chunk)
                except BaseException as error:  # handed to the consumer, raised there
                    loop.call_soon_threadsafe(queue.put_nowait, error)
                loop.call_soon_threadsafe(queue.put_nowait, _DONE)

            worker = threading.Thread(target=produce, name="orgide-local-inference", daemon=True)
            worker.start()
            try:
                while (item := await queue.get()) is not _DONE:
                    if isinstance(item, BaseException):
                        raise item
                    yield item
            finally:
                cancelled.set()

    return LocalProvider


def _stream_chunks(local: LocalModel, ids: list[int], params: SamplingParams, cancelled: threading.Event) -> Iterator[dict[str, Any]]:
    from litellm.llms.custom_llm import CustomLLMError

    try:
        stream = local.stream(ids, params)
        try:
            for event in stream:
                if cancelled.is_set():
                    return
                if isinstance(event, TextDelta):
                    yield _chunk(event.text, None)
                else:
                    yield _chunk("", event)
        finally:
            stream.close()
    except GenerationError as error:
        raise CustomLLMError(status_code=400, message=str(error)) from None


def register_litellm_provider(pool: ModelPool | None = None) -> None:
    """Make `local/<model>` answer through litellm (idempotent)."""
    import litellm

    handler = _make_provider_class()(pool or POOL)
    others = [entry for entry in litellm.custom_provider_map if entry.get("provider") != PROVIDER]
    litellm.custom_provider_map = [*others, {"provider": PROVIDER, "custom_handler": handler}]
    from litellm.utils import custom_llm_setup

    custom_llm_setup()
