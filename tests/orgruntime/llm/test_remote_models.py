"""Remote models: agents whose models live on OpenAI-compatible servers (real HTTP servers on 127.0.0.1),
one server per model or several load-balanced by litellm's Router, one of them down."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from orgruntime._model import Agent, Channel, ChannelKind, ModelDefaults, Org
from orgruntime.llm import BLOCK_NETWORK_ENV, ChatRequest, NetworkModelCallBlocked, RetryPolicy, UserTurn, stream_chat
from orgruntime.run import LLMCallFinished, RunConfig, Runner, read_info
from tests.orgruntime.llm.fake_openai import Answer, FakeOpenAI, Status

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
FAST = RetryPolicy(max_attempts=3, base_delay_s=0.01, request_timeout_s=5, first_token_timeout_s=5, idle_timeout_s=5)
BOSS_MODEL, WORKER_MODEL = "openai/gpt-4o", "openai/gpt-4o-mini"


@pytest.fixture
def servers():
    started = [FakeOpenAI().start(), FakeOpenAI().start()]
    yield started
    for server in started:
        server.stop()


def dead_url() -> str:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def two_model_org() -> Org:
    return Org(
        name="Remote",
        entry="boss",
        defaults=ModelDefaults(model=BOSS_MODEL),
        channels=(Channel(source="boss", target="worker", kind=ChannelKind.DELEGATES),),
        agents=(Agent(id="boss", prompt="You lead."), Agent(id="worker", model=WORKER_MODEL, prompt="You work.")),
    )


def run(org: Org, config: RunConfig, runs_dir: Path):
    async def main():
        stream = Runner(config).stream(org, "count to three", runs_dir=runs_dir)
        return stream, [event async for event in stream]

    return asyncio.run(asyncio.wait_for(main(), 60))


def test_each_agent_reaches_the_server_of_its_model(servers: list[FakeOpenAI], tmp_path: Path) -> None:
    boss_server, worker_server = servers
    boss_server.script(Answer(tool_calls=(("send_message", {"to": "worker", "content": "count"}),)), Answer(tool_calls=(("finish", {"result": "1 2 3"}),)))
    worker_server.script(Answer(text="1 2 3"))
    config = RunConfig(model_servers={BOSS_MODEL: (boss_server.base_url,), WORKER_MODEL: (worker_server.base_url,)}, api_key="sk-fake", retry=FAST)
    stream, events = run(two_model_org(), config, tmp_path / "runs")
    assert stream.outcome is not None and stream.outcome.status == "completed" and stream.outcome.result == "1 2 3"
    assert [request["model"] for request in boss_server.requests] == ["gpt-4o", "gpt-4o"]
    assert [request["model"] for request in worker_server.requests] == ["gpt-4o-mini"]
    assert "Message from boss:\ncount" in worker_server.requests[0]["messages"][-1]["content"]
    assert [(event.agent, event.model) for event in events if isinstance(event, LLMCallFinished)] == [("boss", BOSS_MODEL), ("worker", WORKER_MODEL), ("boss", BOSS_MODEL)]
    assert "sk-fake" not in (tmp_path / "runs" / stream.run_id / "events.jsonl").read_text()
    assert read_info(tmp_path / "runs" / stream.run_id)["status"] == "completed"


def test_a_router_over_two_servers_completes_the_run_when_one_is_down(servers: list[FakeOpenAI], tmp_path: Path) -> None:
    live = servers[0]
    live.script(
        Answer(tool_calls=(("send_message", {"to": "worker", "content": "count"}),)),
        Answer(text="1 2 3"),
        Answer(tool_calls=(("finish", {"result": "1 2 3"}),)),
    )
    pool = (dead_url(), live.base_url)
    config = RunConfig(model_servers={BOSS_MODEL: pool, WORKER_MODEL: pool}, api_key="sk-fake", retry=FAST)
    stream, events = run(two_model_org(), config, tmp_path / "runs")
    assert stream.outcome is not None and stream.outcome.status == "completed" and stream.outcome.result == "1 2 3"
    assert len(live.requests) == 3  # every answer came from the live server, none was asked twice
    assert sum(isinstance(event, LLMCallFinished) for event in events) == 3


def test_a_router_whose_servers_are_all_down_fails_the_run_with_the_reason(tmp_path: Path) -> None:
    pool = (dead_url(), dead_url())
    config = RunConfig(model_servers={BOSS_MODEL: pool}, api_key="sk-fake", retry=RetryPolicy(max_attempts=2, base_delay_s=0.01, request_timeout_s=5, first_token_timeout_s=5, idle_timeout_s=5))
    stream, _ = run(two_model_org(), config, tmp_path / "runs")
    assert stream.outcome is not None and stream.outcome.status == "failed"
    assert "boss" in (stream.outcome.error or "")


def test_the_network_guard_checks_every_server_of_a_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BLOCK_NETWORK_ENV, "1")
    request = ChatRequest(model=WORKER_MODEL, system="", turns=(UserTurn("hi"),), api_bases=("http://127.0.0.1:9/v1", "http://10.1.2.3:8000/v1"))
    with pytest.raises(NetworkModelCallBlocked):
        asyncio.run(stream_chat(request, lambda text, attempt: None, FAST))


def test_bad_server_urls_and_ambiguous_requests_are_refused() -> None:
    with pytest.raises(ValueError, match="not an http"):
        RunConfig(model_servers={WORKER_MODEL: ("ftp://127.0.0.1/v1",)})
    with pytest.raises(ValueError, match="not an http"):
        RunConfig(model_servers={WORKER_MODEL: ("http:///v1",)})
    with pytest.raises(ValueError, match="not both"):
        ChatRequest(model=WORKER_MODEL, system="", turns=(), api_base="http://127.0.0.1:1/v1", api_bases=("http://127.0.0.1:2/v1",))


def test_a_router_sends_no_more_calls_to_a_failing_server_once_it_failed(servers: list[FakeOpenAI], tmp_path: Path) -> None:
    failing, live = servers
    failing.script(Status(503))
    live.script(Answer(tool_calls=(("finish", {"result": "done"}),)))
    config = RunConfig(model_servers={BOSS_MODEL: (failing.base_url, live.base_url)}, api_key="sk-fake", retry=FAST)
    outcomes = []
    for attempt in range(12):  # the Router picks at random: run until it has tried the failing server once
        stream, _ = run(two_model_org(), config, tmp_path / f"runs{attempt}")
        outcomes.append(stream.outcome.status if stream.outcome else None)
        if failing.requests:
            break
    assert len(failing.requests) == 1
    stream, _ = run(two_model_org(), config, tmp_path / "after")  # the failing server is cooling down: not asked again
    outcomes.append(stream.outcome.status if stream.outcome else None)
    assert set(outcomes) == {"completed"}
    assert len(failing.requests) == 1 and len(live.requests) == len(outcomes)


def test_the_runs_server_key_goes_only_to_configured_servers_never_to_a_provider(servers: list[FakeOpenAI], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The boss's model has a server (which takes the run's key); the worker's model has none, so litellm sends
    it to its provider with the provider's own key. Here the "provider" is a second server on 127.0.0.1, reached
    through OPENAI_API_BASE: it must see the user's OpenAI key, never the server's token."""
    server, provider = servers
    server.script(Answer(tool_calls=(("send_message", {"to": "worker", "content": "count"}),)), Answer(tool_calls=(("finish", {"result": "1 2 3"}),)))
    provider.script(Answer(text="1 2 3"))
    monkeypatch.delenv(BLOCK_NETWORK_ENV, raising=False)  # the provider is on loopback; the socket guard still holds
    monkeypatch.setenv("OPENAI_API_BASE", provider.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-user-openai-key")
    config = RunConfig(model_servers={BOSS_MODEL: (server.base_url,)}, api_key="server-token", retry=FAST)
    stream, _ = run(two_model_org(), config, tmp_path / "runs")
    assert stream.outcome is not None and stream.outcome.status == "completed"
    assert server.authorizations == ["Bearer server-token"] * 2
    assert provider.authorizations == ["Bearer sk-user-openai-key"]
