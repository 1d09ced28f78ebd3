"""The one module of orgruntime that imports litellm: streaming chat calls with retries, usage and cost.

litellm is imported lazily (it is slow to import) and always with the local model-cost map, so that
it never reaches the network on its own.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from functools import cache
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from orgruntime.llm import _scripted
from orgruntime.llm._errors import (
    LLMError,
    LLMMalformedResponse,
    LLMRateLimited,
    LLMRequestRejected,
    LLMServerError,
    LLMTimeout,
    NetworkModelCallBlocked,
)
from orgruntime.llm._json_actions import ActionParseError, parse_answer, response_format
from orgruntime.llm._messages import render_messages
from orgruntime.llm._retry import RetryPolicy, retry_delay
from orgruntime.llm._types import ChatRequest, ChatResult, ToolCall

BLOCK_NETWORK_ENV = "ORGIDE_BLOCK_NETWORK_MODELS"
FREE_PROVIDERS = ("scripted", "local")
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
REJECTED_STATUSES = {400, 401, 402, 403, 404, 413, 422}
ROUTER_COOLDOWN_S = 30.0

DeltaSink = Callable[[str, int], None]


@cache
def _lib() -> ModuleType:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    gc.freeze()  # litellm's import leaves a large heap that never dies: keep the collector off it
    litellm.suppress_debug_info = True
    litellm.telemetry = False
    litellm.custom_provider_map = [
        *[entry for entry in litellm.custom_provider_map if entry.get("provider") != _scripted.PROVIDER],
        {"provider": _scripted.PROVIDER, "custom_handler": _scripted_handler(litellm)},
    ]
    return litellm


def _scripted_handler(litellm: ModuleType) -> Any:
    class ScriptedLLM(litellm.CustomLLM):
        async def astreaming(self, model: str, messages: list, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            agent_id = ((kwargs.get("litellm_params") or {}).get("metadata") or {}).get("orgide_agent", "")
            async for chunk in _scripted.stream_script(model, messages, kwargs.get("optional_params") or {}, agent_id):
                yield chunk

    return ScriptedLLM()


def prepare() -> None:
    """Import and configure litellm now (it takes seconds), e.g. before a timed run starts."""
    _lib()


def provider_of(model: str) -> str:
    return model.split("/", 1)[0] if "/" in model else ""


def supports_native_tools(model: str) -> bool:
    provider = provider_of(model)
    if provider == _scripted.PROVIDER:
        return _scripted.script_uses_native_tools(model.split("/", 1)[1])
    if provider == "local":
        return False
    try:
        return bool(_lib().supports_function_calling(model=model))
    except Exception:  # litellm raises for models it does not know: ask for JSON instead
        return False


def check_network_guard(model: str, api_base: str | None) -> None:
    if os.environ.get(BLOCK_NETWORK_ENV) != "1" or provider_of(model) in FREE_PROVIDERS:
        return
    host = urlsplit(api_base).hostname if api_base else None
    if host not in LOOPBACK_HOSTS:
        raise NetworkModelCallBlocked(f"a call to the network model {model!r} was blocked ({BLOCK_NETWORK_ENV}=1)")


@cache
def _router(model: str, api_bases: tuple[str, ...], api_key: str | None) -> Any:
    """litellm's Router over the servers of one model: each call goes to one of them; a server that fails is
    left alone for a while (cooldown), so a retry goes to another. One Router per server set, kept for its health state."""
    litellm = _lib()
    credentials = {"api_key": api_key} if api_key else {}
    deployments = [{"model_name": model, "litellm_params": {"model": model, "api_base": base, **credentials}} for base in api_bases]
    return litellm.Router(
        model_list=deployments,
        routing_strategy="simple-shuffle",
        num_retries=len(api_bases) - 1,  # within one attempt, every other server is tried once
        retry_after=0,
        allowed_fails=0,
        cooldown_time=ROUTER_COOLDOWN_S,
    )


def _check_provider(model: str) -> None:
    litellm = _lib()
    provider = provider_of(model)
    known = set(litellm.provider_list) | {entry.get("provider") for entry in litellm.custom_provider_map}
    if provider and provider not in known:  # a bare model name is left to litellm to place
        hint = " (local/ models need the built-in engine, which is not registered in this process)" if provider == "local" else ""
        raise LLMRequestRejected(f"no model provider {provider!r} is registered for {model!r}{hint}; use an id like openai/gpt-4o-mini or scripted/PATH")


async def stream_chat(request: ChatRequest, on_delta: DeltaSink, policy: RetryPolicy = RetryPolicy()) -> ChatResult:
    """One answer from the model, streamed into `on_delta(text, attempt)`, retried within `policy`.

    Cancelling the calling task closes the stream. Every failure is an LLMError.
    """
    _check_provider(request.model)
    for server in request.servers or (None,):
        check_network_guard(request.model, server)
    native = supports_native_tools(request.model)
    started = time.monotonic()
    attempt = 1
    while True:
        try:
            text, calls, usage = await _attempt(request, native, policy, lambda piece: on_delta(piece, attempt))
            break
        except LLMError as error:
            if not error.retryable:
                raise
            delay = retry_delay(policy, attempt, getattr(error, "retry_after", None))
            if delay is None:
                raise
        await asyncio.sleep(delay)
        attempt += 1
    return _result(request, native, text, calls, usage, time.monotonic() - started, attempt)


def _result(request: ChatRequest, native: bool, text: str, calls: tuple[ToolCall, ...], usage: Mapping[str, int], latency: float, attempts: int) -> ChatResult:
    prompt_tokens = int(usage.get("prompt_tokens") or 0)
    completion_tokens = int(usage.get("completion_tokens") or 0)
    common = dict(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost_usd=_cost(request.model, prompt_tokens, completion_tokens),
        latency_s=latency,
        attempts=attempts,
        native_tools=native,
        raw=text,
    )
    if native:
        return ChatResult(text=text, tool_calls=calls, **common)
    try:
        reply, actions = parse_answer(text, request.tools, call_id_prefix=f"json_{request.agent_id}_")
    except ActionParseError as error:
        return ChatResult(text=text, parse_error=str(error), **common)
    return ChatResult(text=reply, tool_calls=actions, **common)


def _cost(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    if provider_of(model) in FREE_PROVIDERS:
        return 0.0
    try:
        prompt_cost, completion_cost = _lib().cost_per_token(model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
    except Exception:  # a model without a known price costs what we cannot know: count it as 0
        return 0.0
    return float(prompt_cost) + float(completion_cost)


async def _attempt(request: ChatRequest, native: bool, policy: RetryPolicy, on_delta: Callable[[str], None]) -> tuple[str, tuple[ToolCall, ...], dict[str, int]]:
    litellm = _lib()
    messages = render_messages(request, native_tools=native)
    params: dict[str, Any] = {
        "model": request.model,
        "messages": messages,
        "stream": True,
        "stream_options": {"include_usage": True},
        "timeout": policy.request_timeout_s,
        "max_retries": 0,
        "num_retries": 0,
        "metadata": {"orgide_agent": request.agent_id},
    }
    if request.api_base:
        params["api_base"] = request.api_base
    if request.api_key and not request.api_bases:
        params["api_key"] = request.api_key
    if request.temperature is not None:
        params["temperature"] = request.temperature
    if request.max_tokens is not None:
        params["max_tokens"] = request.max_tokens
    if native and request.tools:
        params["tools"] = [tool.as_openai_tool() for tool in request.tools]
    elif not native:
        params["response_format"] = response_format(request.tools)
    stream = None
    try:
        complete = _router(request.model, request.api_bases, request.api_key).acompletion if request.api_bases else litellm.acompletion
        stream = await asyncio.wait_for(complete(**params), policy.first_token_timeout_s)
        return await _read_stream(stream, policy, on_delta)
    except LLMError:
        raise
    except asyncio.TimeoutError:
        raise LLMTimeout(f"no answer from {request.model} within the time allowed") from None
    except Exception as error:  # every litellm / provider failure becomes one of our errors
        raise _translate(error, request.model) from error
    finally:
        if stream is not None:
            await _close(stream)


async def _read_stream(stream: Any, policy: RetryPolicy, on_delta: Callable[[str], None]) -> tuple[str, tuple[ToolCall, ...], dict[str, int]]:
    text_parts: list[str] = []
    calls: dict[int, dict[str, str]] = {}
    usage: dict[str, int] = {}
    finished = False
    iterator = stream.__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(iterator.__anext__(), policy.idle_timeout_s)
        except StopAsyncIteration:
            break
        except asyncio.TimeoutError:
            raise LLMTimeout(f"the stream made no progress for {policy.idle_timeout_s:g} s") from None
        chunk_usage = getattr(chunk, "usage", None)
        if chunk_usage:
            usage = {"prompt_tokens": chunk_usage.prompt_tokens or 0, "completion_tokens": chunk_usage.completion_tokens or 0}
        for choice in getattr(chunk, "choices", None) or ():
            finished = finished or bool(choice.finish_reason)
            delta = choice.delta
            if delta is None:
                continue
            if delta.content:
                text_parts.append(delta.content)
                on_delta(delta.content)
            for call in delta.tool_calls or ():
                slot = calls.setdefault(call.index or 0, {"id": "", "name": "", "arguments": ""})
                slot["id"] = call.id or slot["id"]
                if call.function is not None:
                    slot["name"] += call.function.name or ""
                    slot["arguments"] += call.function.arguments or ""
    text = "".join(text_parts)
    if not finished:
        raise LLMServerError("the answer stream ended before the answer was finished")
    if not text.strip() and not calls:
        raise LLMMalformedResponse("the model gave an empty answer")
    return text, tuple(_tool_call(index, slot) for index, slot in sorted(calls.items())), usage


def _tool_call(index: int, slot: Mapping[str, str]) -> ToolCall:
    try:
        arguments = json.loads(slot["arguments"] or "{}")
    except json.JSONDecodeError:
        arguments = None
    if not isinstance(arguments, dict):
        arguments = None
    return ToolCall(id=slot["id"] or f"call_{index}", name=slot["name"], arguments=arguments, raw_arguments=slot["arguments"])


async def _close(stream: Any) -> None:
    closer = getattr(stream, "aclose", None)
    if closer is None:
        return
    try:
        await asyncio.shield(closer())
    except Exception:  # closing a broken stream may fail again; the connection is gone either way
        pass


def _translate(error: BaseException, model: str) -> LLMError:
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, LLMError):
            return cause
        cause = cause.__cause__ or cause.__context__
    status = getattr(error, "status_code", None)
    message = f"{model}: {type(error).__name__}: {_short(str(error))}"
    litellm = _lib()
    if "missing credentials" in str(error).lower() or "api_key" in str(error).lower() and "must be set" in str(error).lower():
        return LLMRequestRejected(message, status_code=401)
    if isinstance(error, litellm.Timeout):
        return LLMTimeout(message)
    if isinstance(error, litellm.RateLimitError) or status == 429:
        return LLMRateLimited(message, retry_after=_retry_after(error))
    if isinstance(error, (litellm.APIResponseValidationError, json.JSONDecodeError)):
        return LLMMalformedResponse(message)
    if isinstance(error, litellm.APIConnectionError):
        return LLMServerError(message)
    if status in REJECTED_STATUSES:
        return LLMRequestRejected(message, status_code=status)
    if isinstance(status, int) and status >= 500:
        return LLMServerError(message)
    return LLMMalformedResponse(message)


def _retry_after(error: BaseException) -> str | None:
    for headers in (getattr(getattr(error, "response", None), "headers", None), getattr(error, "litellm_response_headers", None)):
        if headers is not None:
            try:
                value = headers.get("retry-after")
            except AttributeError:
                continue
            if value is not None:
                return str(value)
    return None


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
