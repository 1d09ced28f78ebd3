"""Request bodies of /v1/chat/completions and /v1/completions, checked and turned into engine input.

Every problem becomes an `APIError` naming the parameter. Sampling options map through the
`local/` provider's `sampling_from_openai`, so the server and the provider read them alike.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from kernels._errors import GenerationError
from kernels._local_model import LocalModel
from kernels._provider import plain_messages, sampling_from_openai
from kernels._sampling import SamplingParams
from kernels.server._errors import APIError, bad_request

ENGINE_FIELDS = frozenset(f.name for f in fields(SamplingParams))
MAX_STOP_STRINGS = 16
RESPONSE_FORMAT_TYPES = ("text", "json_object", "json_schema")
# Accepted only at their neutral value: the engine does not implement them.
NEUTRAL = {"n": 1, "best_of": 1, "logprobs": None, "top_logprobs": None, "echo": False, "suffix": None,
           "presence_penalty": 0, "frequency_penalty": 0, "logit_bias": None, "tools": None, "functions": None}  # fmt: skip


@dataclass(frozen=True)
class Generation:
    """One request as the engine takes it."""

    prompt_ids: list[int]
    params: SamplingParams
    stream: bool
    include_usage: bool


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def parse_json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw, parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError) as error:
        raise bad_request(f"the request body is not valid JSON: {error}", code="invalid_json") from None
    except RecursionError:
        raise bad_request("the request body nests too deeply", code="invalid_json") from None
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object", code="invalid_json")
    return body


def _number(body: Mapping[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_request(f"{name} must be a number, not {json.dumps(value)}", param=name)
    return float(value)


def _integer(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"{name} must be an integer, not {json.dumps(value)}", param=name)
    return value


def _boolean(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise bad_request(f"{name} must be true or false, not {json.dumps(value)}", param=name)
    return value


def _stop(body: Mapping[str, Any]) -> tuple[str, ...]:
    stop = body.get("stop")
    if stop is None:
        return ()
    stops = [stop] if isinstance(stop, str) else stop
    if not isinstance(stops, list) or len(stops) > MAX_STOP_STRINGS or any(not isinstance(s, str) or not s for s in stops):
        raise bad_request(f"stop must be a non-empty string or a list of at most {MAX_STOP_STRINGS} of them", param="stop")
    return tuple(stops)


def _refuse_unsupported(body: Mapping[str, Any]) -> None:
    for name, neutral in NEUTRAL.items():
        value = body.get(name)
        if not (value is None or value == neutral or (neutral is None and value in (False, [], {}))):
            raise APIError(400, f"{name}={json.dumps(value)} is not supported by the local engine",
                           param=name, code="unsupported_parameter")  # fmt: skip


def _include_usage(body: Mapping[str, Any]) -> bool:
    options = body.get("stream_options")
    if options is None:
        return False
    if not isinstance(options, dict):
        raise bad_request("stream_options must be an object", param="stream_options")
    return _boolean(options, "include_usage")


def _constraints(body: Mapping[str, Any]) -> dict[str, Any]:
    """response_format and grammar, passed to the engine when it can enforce them; refused otherwise."""
    wanted: dict[str, Any] = {}
    response_format = body.get("response_format")
    if response_format is not None:
        if not isinstance(response_format, dict) or response_format.get("type") not in RESPONSE_FORMAT_TYPES:
            raise bad_request(f"response_format must be an object whose type is one of {', '.join(RESPONSE_FORMAT_TYPES)}",
                              param="response_format")  # fmt: skip
        if response_format["type"] == "json_schema" and not isinstance(response_format.get("json_schema"), dict):
            raise bad_request("a json_schema response_format needs a json_schema object", param="response_format")
        if response_format["type"] != "text":
            wanted["response_format"] = response_format
    grammar = body.get("grammar")
    if grammar is not None:
        if not isinstance(grammar, str) or not grammar.strip():
            raise bad_request("grammar must be a non-empty string", param="grammar")
        wanted["grammar"] = grammar
    for name in wanted:
        if name not in ENGINE_FIELDS:
            raise APIError(400, f"{name} is not supported yet: this engine has no constrained decoding",
                           param=name, code="unsupported_parameter")  # fmt: skip
    return wanted


def sampling_params(body: Mapping[str, Any], prompt_tokens: int, context: int) -> SamplingParams:
    if prompt_tokens >= context:
        raise APIError(400, f"the prompt has {prompt_tokens} tokens; this model's context holds {context}",
                       param="messages", code="context_length_exceeded")  # fmt: skip
    max_tokens = _integer(body, "max_completion_tokens")
    max_tokens = _integer(body, "max_tokens") if max_tokens is None else max_tokens
    room = context - prompt_tokens
    if max_tokens is None:
        max_tokens = room
    elif max_tokens < 1:
        raise bad_request(f"max_tokens must be at least 1, not {max_tokens}", param="max_tokens")
    elif max_tokens > room:
        raise APIError(400, f"the prompt has {prompt_tokens} tokens and max_tokens asks for {max_tokens} more; "
                            f"this model's context holds {context}", param="max_tokens", code="context_length_exceeded")  # fmt: skip
    options: dict[str, Any] = {"max_tokens": max_tokens, "stop": _stop(body)}
    for name in ("temperature", "top_p", "min_p", "repetition_penalty"):
        if (value := _number(body, name)) is not None:
            options[name] = value
    for name in ("top_k", "seed"):
        if (value := _integer(body, name)) is not None:
            options[name] = value
    if not -(2**63) <= options.get("seed", 0) < 2**63:
        raise bad_request("seed must fit in 64 bits (-2**63 <= seed < 2**63)", param="seed")
    if options.get("top_k") == -1:  # vLLM's spelling of "off"
        options["top_k"] = 0
    extra: dict[str, Any] = _constraints(body)
    if _boolean(body, "ignore_eos"):
        extra["ignore_eos"] = True
    stop_token_ids = body.get("stop_token_ids")
    if stop_token_ids is not None:
        if not isinstance(stop_token_ids, list) or any(isinstance(i, bool) or not isinstance(i, int) for i in stop_token_ids):
            raise bad_request("stop_token_ids must be a list of integers", param="stop_token_ids")
        extra["stop_token_ids"] = tuple(stop_token_ids)
    try:
        params = sampling_from_openai(options)
        # the mapping reads 0 as "unset" (`top_p or 1.0`); what the client sent explicitly stands as sent
        wanted = {**{name: value for name, value in options.items() if name != "stop"}, **extra}
        return replace(params, **{name: value for name, value in wanted.items() if getattr(params, name) != value})
    except GenerationError as error:
        raise bad_request(str(error)) from None


def _check_ids(ids: list[int], vocabulary: int, param: str) -> list[int]:
    if not ids:
        raise bad_request("the prompt is empty", param=param)
    if any(not 0 <= i < vocabulary for i in ids):
        raise bad_request(f"the prompt holds token ids outside the vocabulary (0..{vocabulary - 1})", param=param)
    return ids


def chat_generation(body: Mapping[str, Any], model: LocalModel) -> Generation:
    _refuse_unsupported(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request("messages must be a non-empty list", param="messages")
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(message, dict) or not isinstance(message.get("role"), str) or not (
            content is None or isinstance(content, str) or isinstance(content, list)
        ):
            raise bad_request("each message must be an object with a string role and text content", param="messages")
    try:
        ids = model.encode_chat(plain_messages(messages))
    except (GenerationError, TypeError, AttributeError) as error:
        raise bad_request(f"the messages do not fit the chat template: {error}", param="messages") from None
    ids = _check_ids(ids, model.tokenizer.vocab_size, "messages")
    return _generation(body, ids, model)


def completion_generation(body: Mapping[str, Any], model: LocalModel) -> Generation:
    _refuse_unsupported(body)
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str | list):
        prompt = prompt[0]  # a batch of one
    if isinstance(prompt, str):
        ids = model.tokenizer.encode(prompt)
    elif isinstance(prompt, list) and all(isinstance(i, int) and not isinstance(i, bool) for i in prompt):
        ids = list(prompt)
    else:
        raise bad_request("prompt must be a string or a list of token ids (one prompt per request)", param="prompt")
    ids = _check_ids(ids, model.tokenizer.vocab_size, "prompt")
    return _generation(body, ids, model)


def _generation(body: Mapping[str, Any], ids: list[int], model: LocalModel) -> Generation:
    params = sampling_params(body, len(ids), model.context_length)
    return Generation(ids, params, stream=_boolean(body, "stream"), include_usage=_include_usage(body))
