"""The server through the clients agents use: the `openai` package and litellm's OpenAI-compatible path.

The default model, SmolLM2-135M-Instruct, is served too when it is cached (`orgide models pull`).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from kernels import LocalModel, SamplingParams
from kernels.server import BackgroundServer, ServerSettings
from tests.default_model import MODEL_PATH, needs_default_model

TOKEN = "openai-client-token"
CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello world"}]


@pytest.fixture(scope="module")
def model(tiny_gguf: Path) -> Iterator[LocalModel]:
    loaded = LocalModel.load(tiny_gguf)
    yield loaded
    loaded.close()


@pytest.fixture(scope="module")
def server(model: LocalModel) -> Iterator[BackgroundServer]:
    with BackgroundServer(model, ServerSettings(token=TOKEN)) as running:
        yield running


def client(server: BackgroundServer, key: str = TOKEN) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=key, max_retries=0, timeout=120)


def test_openai_client_chat_whole_and_streamed(server: BackgroundServer, model: LocalModel) -> None:
    expected = model.generate(model.encode_chat(CHAT), SamplingParams(max_tokens=8, temperature=0.9, seed=2))
    answer = client(server).chat.completions.create(model="tiny", messages=CHAT, max_tokens=8, temperature=0.9, seed=2)  # type: ignore[arg-type]
    assert answer.choices[0].message.content == expected.text and answer.choices[0].finish_reason == expected.finish_reason
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (expected.prompt_tokens, expected.completion_tokens)
    chunks = list(client(server).chat.completions.create(model="tiny", messages=CHAT, max_tokens=8, temperature=0.9, seed=2,  # type: ignore[arg-type]
                                                         stream=True, stream_options={"include_usage": True}))  # fmt: skip
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == expected.text
    assert chunks[-1].usage.completion_tokens == expected.completion_tokens
    assert [m.id for m in client(server).models.list()] == ["tiny"]


def test_openai_client_text_completion_and_errors(server: BackgroundServer) -> None:
    answer = client(server).completions.create(model="tiny", prompt="hello", max_tokens=4, extra_body={"ignore_eos": True})
    assert answer.usage.completion_tokens == 4
    with pytest.raises(openai.AuthenticationError):
        client(server, key="wrong").models.list()
    with pytest.raises(openai.NotFoundError, match="gpt-4o") as missing:
        client(server).chat.completions.create(model="gpt-4o", messages=CHAT)  # type: ignore[arg-type]
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as too_long:
        client(server).chat.completions.create(model="tiny", messages=CHAT, max_tokens=10**6)  # type: ignore[arg-type]
    assert too_long.value.code == "context_length_exceeded" and too_long.value.param == "max_tokens"


def test_litellm_openai_compatible_path_streams_from_the_server(server: BackgroundServer, model: LocalModel) -> None:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    expected = model.generate(model.encode_chat(CHAT), SamplingParams(max_tokens=6))

    async def ask() -> str:
        stream = await litellm.acompletion(model="openai/tiny", api_base=server.base_url, api_key=TOKEN, messages=CHAT,
                                           max_tokens=6, temperature=0, stream=True)  # fmt: skip
        return "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])

    assert asyncio.run(ask()) == expected.text


@pytest.mark.slow
@needs_default_model
def test_the_default_model_answers_four_concurrent_clients() -> None:
    smollm2 = LocalModel.load(MODEL_PATH)
    questions = ["What is the capital of France?", "What is the capital of Italy?", "What is 2 + 2?", "Name a colour."]
    try:
        with BackgroundServer(smollm2, ServerSettings(token=TOKEN), model_name="smollm2-135m-instruct") as server:
            async def ask(question: str) -> str:
                async_client = openai.AsyncOpenAI(base_url=server.base_url, api_key=TOKEN, max_retries=0, timeout=300)
                stream = await async_client.chat.completions.create(
                    model="smollm2-135m-instruct", messages=[{"role": "user", "content": question}], max_tokens=24, stream=True
                )
                return "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])

            async def ask_all() -> list[str]:
                return await asyncio.gather(*(ask(q) for q in questions))

            answers = asyncio.run(ask_all())
        alone = [smollm2.generate(smollm2.encode_chat([{"role": "user", "content": q}]), SamplingParams(max_tokens=24)).text
                 for q in questions]  # fmt: skip
    finally:
        smollm2.close()
    assert answers == alone
    assert "Paris" in answers[0] and "4" in answers[2], answers
