"""LLM faults against a real HTTP server on 127.0.0.1, through litellm's openai/ provider: every fault ends
in a correct answer or a typed error, never a hang or an empty success, and leaves no connection open."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from orgruntime.llm import (
    ChatRequest,
    LLMMalformedResponse,
    LLMRateLimited,
    LLMRequestRejected,
    LLMServerError,
    LLMTimeout,
    RetryPolicy,
    UserTurn,
    stream_chat,
)
from tests.orgruntime.llm.fake_openai import Answer, Delay, FakeOpenAI, Hang, Reset, Status, sse_body

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

FAST = RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05, max_wait_s=5.0, request_timeout_s=2.0, first_token_timeout_s=2.0, idle_timeout_s=0.4)


def ask(server: FakeOpenAI, policy: RetryPolicy = FAST, deltas: list[str] | None = None):
    request = ChatRequest(model="openai/gpt-4o-mini", system="be brief", turns=(UserTurn("hi"),), api_base=server.base_url, api_key="sk-fake", agent_id="a")
    sink = deltas if deltas is not None else []
    return asyncio.run(asyncio.wait_for(stream_chat(request, lambda text, attempt: sink.append(text), policy), 30))


def test_a_plain_streamed_answer_with_usage_and_cost(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Answer(text="hello there", prompt_tokens=1000, completion_tokens=500))
    deltas: list[str] = []
    result = ask(fake_openai, deltas=deltas)
    assert result.text == "hello there" and "".join(deltas) == "hello there" and len(deltas) > 1
    assert (result.prompt_tokens, result.completion_tokens, result.attempts) == (1000, 500, 1)
    assert result.cost_usd > 0  # gpt-4o-mini has a price in litellm's local cost map
    assert fake_openai.requests[0]["stream"] is True
    assert fake_openai.wait_closed()


@pytest.mark.parametrize("retry_after", ["0", "-5", "soon", "<http-date>"])
def test_429_then_success_for_every_retry_after_form(fake_openai: FakeOpenAI, retry_after: str) -> None:
    if retry_after == "<http-date>":
        retry_after = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=1), usegmt=True)
    fake_openai.script(Status(429, headers=(("retry-after", retry_after),)), Answer(text="after the wait"))
    started = time.monotonic()
    result = ask(fake_openai)
    assert result.text == "after the wait" and result.attempts == 2 and len(fake_openai.requests) == 2
    assert time.monotonic() - started < 4
    assert fake_openai.wait_closed()


def test_429_with_a_huge_retry_after_fails_at_once(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Status(429, headers=(("retry-after", "86400"),)), Answer(text="never"))
    with pytest.raises(LLMRateLimited) as caught:
        ask(fake_openai)
    assert caught.value.retry_after == "86400" and len(fake_openai.requests) == 1
    assert fake_openai.wait_closed()


def test_429_every_time_ends_rate_limited_after_the_allowed_attempts(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Status(429, headers=(("retry-after", "0"),)))
    with pytest.raises(LLMRateLimited):
        ask(fake_openai)
    assert len(fake_openai.requests) == FAST.max_attempts


def test_500_is_retried(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Status(500), Answer(text="recovered"))
    assert ask(fake_openai).text == "recovered"
    fake_openai.script(Status(503))
    with pytest.raises(LLMServerError):
        ask(fake_openai)
    assert len(fake_openai.requests) == FAST.max_attempts and fake_openai.wait_closed()


@pytest.mark.parametrize("status", [400, 401])
def test_400_and_401_are_never_retried(fake_openai: FakeOpenAI, status: int) -> None:
    fake_openai.script(Status(status), Answer(text="never"))
    with pytest.raises(LLMRequestRejected) as caught:
        ask(fake_openai)
    assert caught.value.status_code == status and len(fake_openai.requests) == 1
    assert fake_openai.wait_closed()


def test_an_html_error_page_is_a_typed_failure(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Status(200, body="<html><body>Welcome to the captive portal</body></html>", content_type="text/html"))
    with pytest.raises((LLMMalformedResponse, LLMServerError)):
        ask(fake_openai)
    fake_openai.script(Status(502, body="<html>Bad gateway</html>", content_type="text/html"), Answer(text="fine"))
    assert ask(fake_openai).text == "fine"
    assert fake_openai.wait_closed()


def test_a_read_timeout_is_retried_then_a_typed_failure(fake_openai: FakeOpenAI) -> None:
    policy = RetryPolicy(max_attempts=2, base_delay_s=0.01, request_timeout_s=0.5, first_token_timeout_s=0.5, idle_timeout_s=0.5)
    fake_openai.script(Delay(1.5), Answer(text="second try"))
    assert ask(fake_openai, policy).text == "second try"
    fake_openai.script(Delay(1.5))
    started = time.monotonic()
    with pytest.raises(LLMTimeout):
        ask(fake_openai, policy)
    assert time.monotonic() - started < 5
    assert fake_openai.wait_closed()


def test_a_stream_reset_midway_is_retried(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Reset(after_chunks=3), Answer(text="whole answer"))
    deltas: list[str] = []
    result = ask(fake_openai, deltas=deltas)
    assert result.text == "whole answer" and result.attempts == 2
    fake_openai.script(Reset(after_chunks=3))
    with pytest.raises((LLMServerError, LLMMalformedResponse)):
        ask(fake_openai)
    assert fake_openai.wait_closed()


def test_a_stream_that_never_ends_times_out_and_is_closed(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Hang())
    started = time.monotonic()
    with pytest.raises(LLMTimeout):
        ask(fake_openai)
    assert time.monotonic() - started < 10
    assert fake_openai.wait_closed()


def test_cancelling_the_call_closes_the_stream(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Hang())
    slow = RetryPolicy(idle_timeout_s=60, first_token_timeout_s=60, request_timeout_s=60)
    request = ChatRequest(model="openai/gpt-4o-mini", system="s", turns=(UserTurn("hi"),), api_base=fake_openai.base_url, api_key="sk-fake")

    async def main() -> None:
        task = asyncio.create_task(stream_chat(request, lambda text, attempt: None, slow))
        while fake_openai.open_connections == 0:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(asyncio.wait_for(main(), 20))
    assert fake_openai.wait_closed()


@pytest.mark.slow
def test_json_split_at_every_byte_boundary_gives_the_same_answer(fake_openai: FakeOpenAI) -> None:
    answer = Answer(text="ok!", tool_calls=(("finish", {"result": "x"}),), compact=True)
    size = len(sse_body(answer))
    fake_openai.script(*[Answer(text=answer.text, tool_calls=answer.tool_calls, compact=True, split_at=cut) for cut in range(size + 1)])
    request = ChatRequest(model="openai/gpt-4o-mini", system="s", turns=(UserTurn("hi"),), api_base=fake_openai.base_url, api_key="sk-fake")

    async def main():
        results = []
        for start in range(0, size + 1, 16):  # 16 requests at a time, in script order
            batch = [stream_chat(request, lambda text, attempt: None, FAST) for _ in range(start, min(size + 1, start + 16))]
            results.extend(await asyncio.gather(*batch))
        return results

    results = asyncio.run(asyncio.wait_for(main(), 120))
    assert len(results) == size + 1
    for result in results:
        assert result.text == "ok!" and [(call.name, call.arguments) for call in result.tool_calls] == [("finish", {"result": "x"})]
        assert result.attempts == 1
    assert fake_openai.wait_closed()
