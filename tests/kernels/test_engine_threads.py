"""Light CPU steps (a few tokens) run on one thread, heavier ones on all: same numbers either way."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from kernels import LocalModel, SamplingParams
from kernels.engine import Engine, EngineConfig
from kernels.engine._engine import LIGHT_STEP_BYTES
from tests.default_model import MODEL_PATH, needs_default_model

PROMPTS = ["the quick brown fox jumps over the lazy dog " * 3, "one two three four five six", "a b c d e f g h i j k"]


@pytest.fixture
def two_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def generate_all(path: Path, light_step_tokens: int) -> tuple[list[list[int]], int, int]:
    """Each prompt alone, greedy and sampled with a seed: (token ids, light steps, all steps)."""
    model = LocalModel.load(path, engine=EngineConfig(light_step_tokens=light_step_tokens))
    try:
        outputs = []
        for prompt in PROMPTS:
            for params in (SamplingParams(max_tokens=12, ignore_eos=True), SamplingParams(max_tokens=12, ignore_eos=True, temperature=1.0, seed=7)):
                outputs.append(model.generate(prompt, params).token_ids)
        return outputs, model.engine.light_steps, model.stats().steps
    finally:
        model.close()


def test_decode_steps_run_on_one_thread_prefill_on_all(tiny_gguf: Path, two_threads: None) -> None:
    model = LocalModel.load(tiny_gguf, engine=EngineConfig(light_step_tokens=4))
    try:
        assert model.engine.threads == 2
        model.generate(PROMPTS[0], SamplingParams(max_tokens=6, ignore_eos=True))
        stats = model.stats()
        assert model.engine.light_steps == stats.steps - 1  # the prompt's step is heavy; 5 decode steps are light
        seen: list[int] = []
        reader = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
        reader.start()
        reader.join()
        assert seen == [2]  # the idle engine left torch's setting as it found it for threads started later
    finally:
        model.close()


def test_by_default_light_steps_shrink_as_the_model_grows(tiny_gguf: Path) -> None:
    model = LocalModel.load(tiny_gguf)
    try:
        assert model.engine.light_step_tokens == LIGHT_STEP_BYTES // tiny_gguf.stat().st_size  # a tiny model: every step
        big = Engine(model.model, model.tokenizer, model.grammars, EngineConfig(), weight_bytes=LIGHT_STEP_BYTES + 1)
        assert big.light_step_tokens == 0  # from ~400 MiB of weights a single token is worth all threads
        big.close()
        assert Engine(model.model, model.tokenizer, model.grammars, EngineConfig(light_step_tokens=3), weight_bytes=1).light_step_tokens == 3
    finally:
        model.close()


def test_one_thread_steps_give_the_tokens_of_all_threads(tiny_gguf: Path, two_threads: None) -> None:
    light, light_steps, steps = generate_all(tiny_gguf, light_step_tokens=4)
    heavy, no_light_steps, _ = generate_all(tiny_gguf, light_step_tokens=0)
    assert light_steps > steps // 2 and no_light_steps == 0
    assert light == heavy


@pytest.mark.slow
@needs_default_model
def test_the_real_model_computes_the_same_on_one_thread_and_two(two_threads: None) -> None:
    """At the real model's shapes ops do split across threads: the engine's tokens, and the forward's
    logits bit for bit (for a prompt and a decode token), do not depend on the thread count."""
    light, light_steps, _ = generate_all(MODEL_PATH, light_step_tokens=4)
    heavy, _, _ = generate_all(MODEL_PATH, light_step_tokens=0)
    assert light_steps and light == heavy
    model = LocalModel.load(MODEL_PATH)
    try:
        assert model.engine.light_step_tokens == 4  # by default, for SmolLM2-135M's 98 MiB
        ids = model.tokenizer.encode("Org brief: the engineer writes the code and the reviewer checks it. " * 8)
        logits = {}
        for threads in (1, 2):
            torch.set_num_threads(threads)
            cache = model.model.new_cache(len(ids) + 2)
            logits[threads] = (model.model.forward(ids, cache, all_logits=True), model.model.forward([ids[3]], cache))
        assert torch.equal(logits[1][0], logits[2][0])
        assert torch.equal(logits[1][1], logits[2][1])
    finally:
        model.close()
