"""The batching engine on a tiny random model: batched equals alone, the prefix cache, preemption,
cancellation and many threads at once."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kernels import GenerationResult, LocalModel, SamplingParams, TextDelta
from kernels.engine import EngineConfig

WORDS = ["hello", "world", "the", "and", "is", "you", "a", "ing", "cat", "sea", "tree", "blue", "run", "sky"]


def prompts(count: int, length: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(length)) for _ in range(count)]


@pytest.fixture
def tiny_model(tiny_gguf: Path) -> Iterator[LocalModel]:
    model = LocalModel.load(tiny_gguf)
    yield model
    model.close()


def sequential_greedy(model: LocalModel, ids: list[int], count: int) -> list[int]:
    """The part-1 path: one sequence through LlamaModel.forward and its contiguous KV cache."""
    cache = model.model.new_cache(len(ids) + count + 1)
    logits = model.model.forward(ids, cache)
    out = []
    for _ in range(count):
        out.append(int(logits[-1].argmax()))
        logits = model.model.forward([out[-1]], cache)
    return out


def together(model: LocalModel, texts: list, params: list[SamplingParams]) -> list[GenerationResult]:
    """Submitted back to back from one thread, so they share the engine's steps however busy the machine
    is (threads submitting one by one could each find the others already done), each read to its result."""
    encoded = [model.tokenizer.encode(t) if isinstance(t, str) else list(t) for t in texts]
    requests = [model.engine.submit(ids, p) for ids, p in zip(encoded, params, strict=True)]
    results = []
    for request in requests:
        while not isinstance(event := request.events.get(timeout=300), GenerationResult):
            if isinstance(event, BaseException):
                raise event
        results.append(event)
    return results


def test_eight_prompts_batched_give_the_same_tokens_as_each_alone(tiny_model: LocalModel) -> None:
    texts = prompts(8, 12, seed=1)
    greedy = [SamplingParams(max_tokens=10, ignore_eos=True)] * 8
    alone = [tiny_model.generate(t, p) for t, p in zip(texts, greedy, strict=True)]
    steps = tiny_model.stats().steps
    batched = together(tiny_model, texts, greedy)
    assert [r.token_ids for r in batched] == [r.token_ids for r in alone]
    assert tiny_model.stats().steps - steps < 8 * 10 / 2  # they really ran together
    for text, result in zip(texts, alone, strict=True):
        assert list(result.token_ids) == sequential_greedy(tiny_model, tiny_model.tokenizer.encode(text), 10)


def test_seeded_sampling_picks_the_same_tokens_batched_or_alone(tiny_model: LocalModel) -> None:
    texts = prompts(6, 9, seed=2)
    params = [SamplingParams(max_tokens=12, temperature=1.2, top_p=0.95, seed=i, ignore_eos=True) for i in range(6)]
    params[1] = SamplingParams(max_tokens=12, repetition_penalty=1.3, ignore_eos=True)
    alone = [tiny_model.generate(t, p) for t, p in zip(texts, params, strict=True)]
    batched = together(tiny_model, texts, params)
    assert [r.token_ids for r in batched] == [r.token_ids for r in alone]
    assert len({r.token_ids for r in alone}) > 1


def test_a_request_sharing_a_long_prefix_prefills_only_its_suffix(tiny_gguf: Path, tiny_model: LocalModel) -> None:
    prefix = tiny_model.tokenizer.encode(prompts(1, 150, seed=3)[0])[:150]
    first, second = prefix + [40, 41, 42], prefix + [43, 44, 45, 46, 47]
    params = SamplingParams(max_tokens=6, ignore_eos=True)
    tiny_model.generate(first, params)
    before = tiny_model.stats()
    warm = tiny_model.generate(second, params)
    after = tiny_model.stats()
    assert warm.cached_tokens == 150
    assert after.cached_tokens - before.cached_tokens == 150
    assert after.prefill_tokens - before.prefill_tokens == 5  # the suffix; then 5 decode steps
    cold_model = LocalModel.load(tiny_gguf)
    try:
        cold = cold_model.generate(second, params)
        assert cold.cached_tokens == 0 and cold.token_ids == warm.token_ids
    finally:
        cold_model.close()


def test_preemption_under_a_tiny_kv_budget_still_gives_the_right_output(tiny_gguf: Path, tiny_model: LocalModel) -> None:
    texts = prompts(6, 20, seed=4)
    params = [SamplingParams(max_tokens=24, temperature=0.9, seed=i, ignore_eos=True) for i in range(6)]
    expected = [tiny_model.generate(t, p).token_ids for t, p in zip(texts, params, strict=True)]
    small = LocalModel.load(tiny_gguf, engine=EngineConfig(page_size=4, kv_tokens=96, max_batch_tokens=32))
    try:
        results = together(small, texts, params)
        assert [r.token_ids for r in results] == expected
        assert small.stats().preemptions > 0
        assert small.stats().pages_used == 0
    finally:
        small.close()


def test_closing_a_stream_early_cancels_it_and_frees_its_pages(tiny_model: LocalModel) -> None:
    stream = tiny_model.stream(prompts(1, 30, seed=5)[0], SamplingParams(max_tokens=200, ignore_eos=True))
    first = next(stream)
    assert isinstance(first, TextDelta)
    assert tiny_model.stats().pages_used > 0
    stream.close()
    result = tiny_model.generate("hello", SamplingParams(max_tokens=3, ignore_eos=True))  # the engine goes on
    assert result.completion_tokens == 3
    stats = tiny_model.stats()
    assert stats.pages_used == 0 and stats.running == 0 and stats.waiting == 0


def test_many_threads_stream_at_once_and_each_gets_its_own_text(tiny_model: LocalModel) -> None:
    texts = prompts(12, 6, seed=6)
    params = SamplingParams(max_tokens=8, temperature=0.7, seed=11, ignore_eos=True)
    expected = {t: tiny_model.generate(t, params) for t in texts}
    outcomes: dict[str, tuple[str, GenerationResult]] = {}
    lock = threading.Lock()

    def consume(text: str) -> None:
        events = list(tiny_model.stream(text, params))
        result = events[-1]
        assert isinstance(result, GenerationResult)
        with lock:
            outcomes[text] = ("".join(e.text for e in events[:-1] if isinstance(e, TextDelta)), result)

    threads = [threading.Thread(target=consume, args=(t,)) for t in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for text in texts:
        streamed, result = outcomes[text]
        assert streamed == result.text == expected[text].text
        assert result.token_ids == expected[text].token_ids


def test_a_stop_string_ends_the_sequence_and_frees_its_pages(tiny_model: LocalModel) -> None:
    text = prompts(1, 8, seed=7)[0]
    free = tiny_model.generate(text, SamplingParams(max_tokens=10, ignore_eos=True))
    if not free.text.strip():
        pytest.skip("the tiny model produced no visible text")
    stop = free.text.strip()[:2]
    cut = tiny_model.generate(text, SamplingParams(max_tokens=10, stop=(stop,), ignore_eos=True))
    assert cut.finish_reason == "stop" and stop not in cut.text
    assert tiny_model.stats().pages_used == 0


def test_the_padded_decode_attention_agrees_with_the_batch_invariant_one(tiny_gguf: Path, tiny_model: LocalModel) -> None:
    from kernels.engine import TorchOps

    texts = prompts(6, 10, seed=8)
    params = [SamplingParams(max_tokens=10, ignore_eos=True)] * 6
    padded = LocalModel.load(tiny_gguf)
    padded.engine.runner.ops = TorchOps(padded.model.config.norm_eps, batch_invariant=False)
    try:
        assert [r.token_ids for r in together(padded, texts, params)] == [r.token_ids for r in together(tiny_model, texts, params)]
    finally:
        padded.close()


def test_prompts_sharing_a_long_prefix_batched_give_the_same_tokens_as_each_alone(tiny_model: LocalModel) -> None:
    """Their decode rows attend over the shared pages together (kernels/engine/_shared_attention.py)."""
    prefix = tiny_model.tokenizer.encode(prompts(1, 300, seed=9)[0])[:200]  # whole attention blocks shared
    texts = [prefix + tiny_model.tokenizer.encode(tail) for tail in prompts(8, 6, seed=10)]
    params = [SamplingParams(max_tokens=12, ignore_eos=True)] * 8
    alone = [tiny_model.generate(t, p) for t, p in zip(texts, params, strict=True)]
    steps = tiny_model.stats().steps
    batched = together(tiny_model, texts, params)
    assert [r.token_ids for r in batched] == [r.token_ids for r in alone]
    assert tiny_model.stats().steps - steps < 8 * 12 / 2
    assert all(r.cached_tokens >= 192 for r in batched[1:])  # 12 whole pages of the prefix
