"""The `local/` litellm provider, driven through litellm itself with a tiny model file."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from kernels import LocalModel, SamplingParams, register_litellm_provider  # noqa: E402

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello world"}]


@pytest.fixture(scope="module")
def litellm_local(tiny_gguf: Path):  # noqa: ANN201 - the litellm module
    import litellm

    register_litellm_provider()
    return litellm


def expected(tiny_gguf: Path, **sampling: object) -> tuple[str, int, int]:
    model = LocalModel.load(tiny_gguf)
    result = model.generate(model.encode_chat(MESSAGES), SamplingParams(**sampling))  # type: ignore[arg-type]
    return result.text, result.prompt_tokens, result.completion_tokens


def test_completion_returns_text_and_usage(litellm_local, tiny_gguf: Path) -> None:  # noqa: ANN001
    response = litellm_local.completion(model=f"local/{tiny_gguf}", messages=MESSAGES, max_tokens=7, temperature=0.7, seed=5)
    text, prompt_tokens, completion_tokens = expected(tiny_gguf, max_tokens=7, temperature=0.7, seed=5)
    assert response.choices[0].message.content == text
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (prompt_tokens, completion_tokens)
    assert response.model == f"local/{tiny_gguf}"


def test_streaming_adds_up_and_ends_with_usage(litellm_local, tiny_gguf: Path) -> None:  # noqa: ANN001
    stream = litellm_local.completion(
        model=f"local/{tiny_gguf}", messages=MESSAGES, max_tokens=6, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == expected(tiny_gguf, max_tokens=6)[0]
    assert chunks[-1].usage.completion_tokens == 6


def test_async_calls_leave_the_event_loop_free(litellm_local, tiny_gguf: Path) -> None:  # noqa: ANN001
    async def scenario() -> tuple[str, int, str]:
        ticks = 0
        running = True

        async def ticker() -> None:
            nonlocal ticks
            while running:
                ticks += 1
                await asyncio.sleep(0.001)

        task = asyncio.create_task(ticker())
        response = await litellm_local.acompletion(model=f"local/{tiny_gguf}", messages=MESSAGES, max_tokens=40)
        stream = await litellm_local.acompletion(model=f"local/{tiny_gguf}", messages=MESSAGES, max_tokens=5, stream=True)
        streamed = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        running = False
        await task
        return response.choices[0].message.content, ticks, streamed

    text, ticks, streamed = asyncio.run(scenario())
    assert text == expected(tiny_gguf, max_tokens=40)[0]
    assert streamed == expected(tiny_gguf, max_tokens=5)[0]
    assert ticks > 5


def test_an_abandoned_async_stream_stops_and_frees_the_model(litellm_local, tiny_gguf: Path) -> None:  # noqa: ANN001
    async def scenario() -> str:
        stream = await litellm_local.acompletion(model=f"local/{tiny_gguf}", messages=MESSAGES, max_tokens=200, stream=True)
        async for _ in stream:
            break
        await stream.aclose() if hasattr(stream, "aclose") else None
        response = await asyncio.wait_for(
            litellm_local.acompletion(model=f"local/{tiny_gguf}", messages=MESSAGES, max_tokens=3), timeout=60
        )
        return response.choices[0].message.content

    assert asyncio.run(scenario()) == expected(tiny_gguf, max_tokens=3)[0]


def test_bad_requests_are_clear_errors(litellm_local, tiny_gguf: Path) -> None:  # noqa: ANN001
    with pytest.raises(Exception, match="not in .* or any model folder"):
        litellm_local.completion(model="local/no-such-model", messages=MESSAGES)
    with pytest.raises(Exception, match="temperature"):
        litellm_local.completion(model=f"local/{tiny_gguf}", messages=MESSAGES, temperature=-1)


SCHEMA = {
    "type": "object",
    "properties": {"reply": {"type": ["string", "null"]}, "actions": {"type": "array", "items": {"type": "object", "properties": {
        "name": {"const": "finish"}, "arguments": {"type": "object", "properties": {"done": {"type": "boolean"}}, "required": ["done"]}},
        "required": ["name", "arguments"]}}},
    "required": ["reply", "actions"],
    "additionalProperties": False,
}  # fmt: skip


def test_response_format_makes_the_answer_validate(litellm_local, tiny_gguf: Path) -> None:  # noqa: ANN001
    import json

    import jsonschema

    response_format = {"type": "json_schema", "json_schema": {"name": "agent_answer", "schema": SCHEMA, "strict": False}}
    for seed in range(3):
        response = litellm_local.completion(model=f"local/{tiny_gguf}", messages=MESSAGES, max_tokens=80,
                                            temperature=1.0, seed=seed, response_format=response_format)  # fmt: skip
        jsonschema.validate(json.loads(response.choices[0].message.content), SCHEMA)
    plain = litellm_local.completion(model=f"local/{tiny_gguf}", messages=MESSAGES, max_tokens=30, temperature=1.0, seed=0)
    with pytest.raises(ValueError):
        json.loads(plain.choices[0].message.content)


def test_a_grammar_can_come_through_extra_body(litellm_local, tiny_gguf: Path) -> None:  # noqa: ANN001
    response = litellm_local.completion(model=f"local/{tiny_gguf}", messages=MESSAGES, max_tokens=20,
                                        extra_body={"grammar": 'root ::= "yes" | "no"'})  # fmt: skip
    assert response.choices[0].message.content in ("yes", "no")


def test_concurrent_async_calls_are_batched_together(litellm_local, tiny_gguf: Path) -> None:  # noqa: ANN001
    from kernels._provider import POOL

    model = POOL.get(str(tiny_gguf))
    prompts = [[{"role": "user", "content": f"agent {i} says hello world"}] for i in range(8)]
    alone = [model.generate(model.encode_chat(p), SamplingParams(max_tokens=12, ignore_eos=True)).text for p in prompts]

    async def scenario() -> list[str]:
        calls = [litellm_local.acompletion(model=f"local/{tiny_gguf}", messages=p, max_tokens=12, ignore_eos=True) for p in prompts]
        return [r.choices[0].message.content for r in await asyncio.gather(*calls)]

    before = model.stats().steps
    texts = asyncio.run(scenario())
    assert model.stats().steps - before < 8 * 12 / 2  # one forward served many agents
    assert texts == alone


def test_zero_is_a_value_not_a_missing_option() -> None:
    from kernels import GenerationError
    from kernels._provider import sampling_from_openai

    assert sampling_from_openai({"temperature": None, "top_p": None}) == SamplingParams()
    assert sampling_from_openai({"temperature": 0, "top_k": 0, "min_p": 0}) == SamplingParams()
    for options in ({"top_p": 0}, {"repetition_penalty": 0}, {"max_tokens": 0}):
        with pytest.raises(GenerationError):  # silently widening these to their defaults would be a lie
            sampling_from_openai(options)
    assert sampling_from_openai({"max_completion_tokens": 7}).max_tokens == 7


@pytest.mark.parametrize("seed", [-1, 1 << 64, True, 1.5])
def test_seeds_outside_the_generators_range_are_refused(seed: object) -> None:
    from kernels import GenerationError

    with pytest.raises(GenerationError, match="seed"):
        SamplingParams(seed=seed)  # type: ignore[arg-type]
    assert SamplingParams(seed=(1 << 64) - 1).seed == (1 << 64) - 1
