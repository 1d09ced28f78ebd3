"""Constrained decoding with xgrammar on the tiny random model: whatever the model would say, the
text parses and validates, and closes in time even when the model would go on forever."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from kernels import GenerationError, LocalModel, SamplingParams

ACTION_SCHEMA = {  # the shape orgruntime's JSON-mode actions take (orgruntime/llm/_json_actions.py)
    "type": "object",
    "properties": {
        "reply": {"type": ["string", "null"]},
        "actions": {"type": "array", "items": {"anyOf": [
            {"type": "object", "properties": {"name": {"const": "send_message"}, "arguments": {
                "type": "object", "properties": {"to": {"type": "string"}, "text": {"type": "string"}},
                "required": ["to", "text"]}}, "required": ["name", "arguments"], "additionalProperties": False},
            {"type": "object", "properties": {"name": {"const": "finish"}, "arguments": {
                "type": "object", "properties": {"done": {"type": "boolean"}, "score": {"type": "integer"}},
                "required": ["done"]}}, "required": ["name", "arguments"], "additionalProperties": False},
        ]}},
    },
    "required": ["reply", "actions"],
    "additionalProperties": False,
}  # fmt: skip
RESPONSE_FORMAT = {"type": "json_schema", "json_schema": {"name": "agent_answer", "schema": ACTION_SCHEMA, "strict": False}}


@pytest.fixture(scope="module")
def tiny_model(tiny_gguf: Path) -> Iterator[LocalModel]:
    model = LocalModel.load(tiny_gguf)
    yield model
    model.close()


@pytest.mark.parametrize("max_tokens", [40, 90, 300])
def test_schema_constrained_output_always_parses_and_validates(tiny_model: LocalModel, max_tokens: int) -> None:
    for seed in range(4):
        params = SamplingParams(max_tokens=max_tokens, temperature=1.0, seed=seed, response_format=RESPONSE_FORMAT)
        result = tiny_model.generate("hello world the sea", params)
        jsonschema.validate(json.loads(result.text), ACTION_SCHEMA)
        assert result.finish_reason == "stop" and result.completion_tokens <= max_tokens


def test_fifty_batched_generations_against_the_action_schema_all_validate(tiny_model: LocalModel) -> None:
    from concurrent.futures import ThreadPoolExecutor

    params = [SamplingParams(max_tokens=120, temperature=1.0, top_p=0.95, seed=seed, response_format=RESPONSE_FORMAT) for seed in range(50)]
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda p: tiny_model.generate("hello world the sea", p), params))
    for result in results:
        jsonschema.validate(json.loads(result.text), ACTION_SCHEMA)
    assert tiny_model.stats().pages_used == 0


def test_unconstrained_the_tiny_model_does_not_produce_json(tiny_model: LocalModel) -> None:
    result = tiny_model.generate("hello world the sea", SamplingParams(max_tokens=40, temperature=1.0, seed=0))
    with pytest.raises(ValueError):
        json.loads(result.text)


def test_constrained_requests_batch_with_free_ones_and_keep_their_own_grammar(tiny_model: LocalModel) -> None:
    from concurrent.futures import ThreadPoolExecutor

    params = [
        SamplingParams(max_tokens=80, temperature=0.8, seed=i, response_format=RESPONSE_FORMAT if i % 2 else None)
        for i in range(6)
    ]
    alone = [tiny_model.generate("the cat and you", p) for p in params]
    with ThreadPoolExecutor(6) as pool:
        together = list(pool.map(lambda p: tiny_model.generate("the cat and you", p), params))
    assert [r.token_ids for r in together] == [r.token_ids for r in alone]
    for p, result in zip(params, together, strict=True):
        if p.response_format:
            jsonschema.validate(json.loads(result.text), ACTION_SCHEMA)


def test_json_object_mode_gives_a_json_object(tiny_model: LocalModel) -> None:
    result = tiny_model.generate("hello", SamplingParams(max_tokens=60, temperature=1.0, seed=3, response_format={"type": "json_object"}))
    assert isinstance(json.loads(result.text), dict | list)


def test_an_ebnf_grammar_constrains_the_text(tiny_model: LocalModel) -> None:
    grammar = 'root ::= ("yes" | "no") ", because " [a-z]+ "."'
    for seed in range(3):
        result = tiny_model.generate("hello", SamplingParams(max_tokens=30, temperature=1.0, seed=seed, grammar=grammar))
        assert re.fullmatch(r"(yes|no), because [a-z]+\.", result.text), result.text


def test_a_bad_schema_or_grammar_is_a_clear_error(tiny_model: LocalModel) -> None:
    with pytest.raises(GenerationError, match="cannot be compiled"):
        tiny_model.generate("hi", SamplingParams(grammar="root ::= (unclosed"))
    with pytest.raises(GenerationError, match="response_format"):
        SamplingParams(response_format={"type": "xml"})
    with pytest.raises(GenerationError, match="not both"):
        SamplingParams(response_format={"type": "json_object"}, grammar='root ::= "a"')


def test_closing_checks_are_timed_for_the_overhead_figure(tiny_model: LocalModel) -> None:
    grammars = tiny_model.engine.grammars
    before = grammars.closing_seconds
    params = SamplingParams(max_tokens=40, temperature=1.0, seed=5, response_format=RESPONSE_FORMAT)
    jsonschema.validate(json.loads(tiny_model.generate("the sea", params).text), ACTION_SCHEMA)
    assert grammars.closing_seconds > before  # every step within CLOSING_WINDOW of the budget checks


def test_a_budget_too_small_for_any_valid_text_is_refused_before_generating(tiny_model: LocalModel) -> None:
    prefilled = tiny_model.stats().prefill_tokens
    with pytest.raises(GenerationError, match=r"3 tokens are too few .* \(the shortest takes about \d+\): raise max_tokens"):
        tiny_model.generate("hello", SamplingParams(max_tokens=3, response_format=RESPONSE_FORMAT))
    assert tiny_model.stats().prefill_tokens == prefilled and tiny_model.stats().pages_used == 0  # nothing ran
    grammar = SamplingParams(max_tokens=2, grammar='root ::= "yes, certainly" | "no, never"')
    with pytest.raises(GenerationError, match="2 tokens are too few"):
        tiny_model.generate("hello", grammar)
    result = tiny_model.generate("hello", SamplingParams(max_tokens=30, response_format=RESPONSE_FORMAT))
    jsonschema.validate(json.loads(result.text), ACTION_SCHEMA)
