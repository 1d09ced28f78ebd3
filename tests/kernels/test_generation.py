"""Sampling, stop handling and generation on a tiny random model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels import GenerationError, GenerationResult, LocalModel, SamplingParams, TextDelta
from kernels._sampling import Sampler
from kernels._stop_strings import StopStringFilter


@pytest.fixture(scope="module")
def tiny_model(tiny_gguf: Path) -> LocalModel:
    return LocalModel.load(tiny_gguf)


def test_greedy_picks_the_argmax_and_top_k_1_is_greedy() -> None:
    logits = torch.tensor([0.1, 2.0, 1.9, -3.0])
    assert Sampler(SamplingParams())(logits) == 1
    assert all(Sampler(SamplingParams(temperature=5.0, top_k=1, seed=s))(logits) == 1 for s in range(20))


def test_the_same_seed_gives_the_same_tokens() -> None:
    logits = torch.randn(300, generator=torch.Generator().manual_seed(0))
    first = Sampler(SamplingParams(temperature=1.0, seed=42))
    second = Sampler(SamplingParams(temperature=1.0, seed=42))
    assert [first(logits) for _ in range(30)] == [second(logits) for _ in range(30)]
    assert len({Sampler(SamplingParams(temperature=1.0, seed=seed))(logits) for seed in range(30)}) > 1


def test_top_p_and_min_p_cut_the_tail() -> None:
    logits = torch.tensor([3.0, 2.5, 0.0, -1.0, -1.0])  # probabilities ~ .60 .36 .03 .01 .01
    top_p = Sampler(SamplingParams(temperature=1.0, top_p=0.5, seed=1))
    assert {top_p(logits) for _ in range(100)} == {0}
    nucleus = Sampler(SamplingParams(temperature=1.0, top_p=0.9, seed=1))
    assert {nucleus(logits) for _ in range(200)} == {0, 1}
    min_p = Sampler(SamplingParams(temperature=1.0, min_p=0.2, seed=1))
    assert {min_p(logits) for _ in range(200)} == {0, 1}


def test_repetition_penalty_demotes_seen_tokens() -> None:
    logits = torch.tensor([2.0, 1.9, -0.5, -0.6])
    assert Sampler(SamplingParams(repetition_penalty=1.5))(logits, [0]) == 1
    assert Sampler(SamplingParams(repetition_penalty=1.5))(logits, [2, 3]) == 0
    assert Sampler(SamplingParams(repetition_penalty=2.0))(torch.tensor([-0.5, -0.6]), [0]) == 1


@pytest.mark.parametrize(
    "bad",
    [dict(max_tokens=0), dict(temperature=-1.0), dict(top_p=0.0), dict(top_k=-2), dict(min_p=1.0), dict(repetition_penalty=0.0), dict(stop=("",))],
)
def test_invalid_sampling_parameters_are_refused(bad: dict) -> None:
    with pytest.raises(GenerationError):
        SamplingParams(**bad)


@settings(max_examples=100, deadline=None)
@given(text=st.text(alphabet="ab<|>END", max_size=30), cuts=st.lists(st.integers(0, 30), max_size=6))
def test_stop_strings_cut_at_the_first_stop_however_the_text_arrives(text: str, cuts: list[int]) -> None:
    stops = ("END", "<|a")
    points = sorted({min(c, len(text)) for c in cuts})
    pieces = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    stream = StopStringFilter(stops)
    emitted = "".join(stream.feed(piece) for piece in pieces) + stream.flush()
    hits = [i for i in (text.find(s) for s in stops) if i >= 0]
    assert emitted == (text[: min(hits)] if hits else text)
    assert stream.stopped == bool(hits)


def test_generation_streams_deltas_that_add_up_to_the_result(tiny_model: LocalModel) -> None:
    params = SamplingParams(max_tokens=12, temperature=0.8, seed=3, ignore_eos=True)
    events = list(tiny_model.stream("hello world", params))
    result = events[-1]
    assert isinstance(result, GenerationResult)
    assert "".join(e.text for e in events[:-1] if isinstance(e, TextDelta)) == result.text
    assert result.completion_tokens == 12 and result.finish_reason == "length"
    assert result.prompt_tokens == len(tiny_model.tokenizer.encode("hello world"))
    again = tiny_model.generate("hello world", params)
    assert (again.text, again.token_ids) == (result.text, result.token_ids)


def test_generation_with_the_kv_cache_equals_greedy_recomputation(tiny_model: LocalModel) -> None:
    prompt = tiny_model.tokenizer.encode("the world is")
    result = tiny_model.generate(prompt, SamplingParams(max_tokens=6, ignore_eos=True))
    ids = list(prompt)
    for _ in range(6):  # recompute the whole text each step, no cache reuse
        logits = tiny_model.model.forward(ids, tiny_model.model.new_cache(64))
        ids.append(int(logits[-1].argmax()))
    assert list(result.token_ids) == ids[len(prompt) :]


def test_stop_tokens_and_strings_end_generation(tiny_model: LocalModel) -> None:
    free = tiny_model.generate("hello", SamplingParams(max_tokens=8, ignore_eos=True))
    first = free.token_ids[0]
    stopped = tiny_model.generate("hello", SamplingParams(max_tokens=8, stop_token_ids=(first,)))
    assert stopped.completion_tokens == 0 and stopped.finish_reason == "stop" and stopped.text == ""
    if free.text.strip():
        stop_text = free.text.strip()[0]
        cut = tiny_model.generate("hello", SamplingParams(max_tokens=8, stop=(stop_text,), ignore_eos=True))
        assert cut.finish_reason == "stop" and stop_text not in cut.text and free.text.startswith(cut.text)


def test_bad_prompts_are_refused(tiny_model: LocalModel) -> None:
    with pytest.raises(GenerationError, match="empty"):
        tiny_model.generate([])
    with pytest.raises(GenerationError, match="outside the vocabulary"):
        tiny_model.generate([10**6])
    with pytest.raises(GenerationError, match="context"):
        tiny_model.generate([5] * (tiny_model.context_length + 1))


def test_generation_stops_when_the_context_is_full(tiny_model: LocalModel) -> None:
    prompt = [5] * (tiny_model.context_length - 3)
    result = tiny_model.generate(prompt, SamplingParams(max_tokens=50, ignore_eos=True))
    assert result.finish_reason == "length" and result.completion_tokens <= 4
