"""The batching engine on the real default model, SmolLM2-135M-Instruct (Q4_1), when it is cached."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import jsonschema
import pytest
import torch

from kernels import LocalModel, SamplingParams
from tests.default_model import MODEL_PATH, needs_default_model
from tests.kernels.test_constrained import ACTION_SCHEMA, RESPONSE_FORMAT
from tests.kernels.test_smollm2 import TEXT

pytestmark = [pytest.mark.slow, needs_default_model]
PROMPTS = [
    "What is the capital of France?",
    "Write a haiku about the sea.",
    "List three uses of a paperclip.",
    "Explain recursion to a child in one sentence.",
    "Translate 'good morning' into Spanish.",
    "Name a famous painter.",
    "Why is the sky blue?",
    "Give me a word that rhymes with cat.",
]


@pytest.fixture(scope="module")
def model() -> Iterator[LocalModel]:
    local = LocalModel.load(MODEL_PATH)
    yield local
    local.close()


def greedy_sequential(model: LocalModel, ids: list[int], count: int) -> list[int]:
    """Part 1's single-sequence path: LlamaModel.forward over a contiguous KV cache."""
    cache = model.model.new_cache(len(ids) + count + 1)
    logits = model.model.forward(ids, cache)
    out: list[int] = []
    for _ in range(count):
        out.append(int(logits[-1].argmax()))
        if out[-1] in model.tokenizer.stop_ids:
            return out[:-1]
        logits = model.model.forward([out[-1]], cache)
    return out


def test_eight_chat_prompts_batched_equal_each_alone_token_for_token(model: LocalModel) -> None:
    ids = [model.encode_chat([{"role": "user", "content": p}]) for p in PROMPTS]
    params = SamplingParams(max_tokens=24)
    steps = model.stats().steps
    with ThreadPoolExecutor(8) as pool:
        batched = list(pool.map(lambda x: model.generate(x, params), ids))
    assert model.stats().steps - steps < 8 * 24 / 2
    for prompt, result in zip(ids, batched, strict=True):
        assert list(result.token_ids) == greedy_sequential(model, prompt, 24)


def test_a_shared_1000_token_prefix_is_computed_once_and_changes_nothing(model: LocalModel) -> None:
    prefix = model.tokenizer.encode(TEXT * 4)[:1000]
    questions = [model.tokenizer.encode(f"\nQuestion {i}: who printed the first books?\nAnswer:") for i in range(3)]
    params = SamplingParams(max_tokens=12)
    before = model.stats()
    first = model.generate(prefix + questions[0], params)
    middle = model.stats()
    second = model.generate(prefix + questions[1], params)
    after = model.stats()
    assert first.cached_tokens < 1000 <= second.cached_tokens
    assert middle.prefill_tokens - before.prefill_tokens >= 1000
    assert after.prefill_tokens - middle.prefill_tokens <= len(questions[1]) - (second.cached_tokens - 1000)
    assert list(second.token_ids) == greedy_sequential(model, prefix + questions[1], 12)


def test_constrained_answers_of_the_real_model_parse_and_validate(model: LocalModel) -> None:
    system = ("You are an agent in a team. Answer with one JSON object with the keys reply and actions. "
              "Actions: send_message(to, text) to ask a teammate, finish(done) when the work is done.")  # fmt: skip
    tasks = ["Ask the engineer to build a login page.", "Tell the reviewer the draft is ready.",
             "The work is complete; close it.", "Say hello to the team."]  # fmt: skip
    requests = [
        (model.encode_chat([{"role": "system", "content": system}, {"role": "user", "content": task}]),
         SamplingParams(max_tokens=80, temperature=0.7, seed=seed, response_format=RESPONSE_FORMAT))
        for seed, task in enumerate(tasks * 2)
    ]  # fmt: skip
    with ThreadPoolExecutor(len(requests)) as pool:
        results = list(pool.map(lambda r: model.generate(*r), requests))
    for result in results:
        jsonschema.validate(json.loads(result.text), ACTION_SCHEMA)
        assert result.completion_tokens <= 80
    assert any(json.loads(r.text)["actions"] for r in results)


def first_step_logits(model: LocalModel, ids: list[int], count: int) -> tuple[torch.Tensor, list[int]]:
    """The logits of the first sampled row of a greedy generation of `ids` (count tokens), and its tokens."""
    runner, seen = model.engine.runner, []
    run = runner.run
    runner.run = lambda batch: seen.append(run(batch)) or seen[-1]  # type: ignore[method-assign]
    try:
        result = model.generate(ids, SamplingParams(max_tokens=count, ignore_eos=True))
    finally:
        del runner.run  # the class's method again
    return seen[0][0], list(result.token_ids)


@pytest.mark.parametrize("uncached", [1, 2, 5])
def test_a_chat_prompt_mostly_in_the_prefix_cache_gets_the_bits_of_a_cold_run(uncached: int) -> None:
    """A prompt's last tokens, computed alone because the rest is cached, get the logits the cold run gives them."""
    cold_model, warm_model = LocalModel.load(MODEL_PATH), LocalModel.load(MODEL_PATH)
    try:
        ids = cold_model.encode_chat([{"role": "user", "content": "What is the capital of Italy?"}])
        cold_logits, cold_tokens = first_step_logits(cold_model, ids, 24)
        warm_model.generate(ids[:-uncached] + [ids[-1] + 1] * uncached, SamplingParams(max_tokens=1))  # caches the rest
        before = warm_model.stats()
        warm_logits, warm_tokens = first_step_logits(warm_model, ids, 24)
        assert warm_model.stats().cached_tokens - before.cached_tokens == len(ids) - uncached
        assert torch.equal(warm_logits, cold_logits)
        assert warm_tokens == cold_tokens
    finally:
        cold_model.close()
        warm_model.close()
