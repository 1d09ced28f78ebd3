"""The engine with real HTTP model servers (a fake OpenAI server on 127.0.0.1): JSON-mode models, failures,
and run_python only in trusted orgs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from orgruntime.llm import RetryPolicy
from orgruntime.run import AgentFailed, LLMCallFinished, MessageSent, RunConfig, Runner, ToolReturned
from tests.orgruntime.llm.fake_openai import Answer, FakeOpenAI, Status
from tests.orgruntime.run.orgs import chain_org, write_script

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
FAST = RetryPolicy(max_attempts=2, base_delay_s=0.01, request_timeout_s=5, first_token_timeout_s=5, idle_timeout_s=5)


@pytest.fixture
def fake_openai():
    server = FakeOpenAI().start()
    yield server
    server.stop()


def run(org, config: RunConfig, runs_dir: Path | None = None):
    async def main():
        return [event async for event in Runner(config).stream(org, "make hello", runs_dir=runs_dir)]

    return asyncio.run(asyncio.wait_for(main(), 60))


def test_a_model_without_tool_calling_gets_the_actions_as_a_json_schema(fake_openai: FakeOpenAI) -> None:
    finish = json.dumps({"reply": None, "actions": [{"name": "finish", "arguments": {"result": "done by JSON"}}]})
    fake_openai.script(Answer(text=finish))
    org = chain_org("openai/tiny-local-model-without-tools")  # unknown to litellm: no native tool calling
    events = run(org, RunConfig(api_base=fake_openai.base_url, api_key="sk-fake", retry=FAST))
    assert events[-1].status == "completed" and events[-1].result == "done by JSON"
    request = fake_openai.requests[0]
    assert "tools" not in request and request["response_format"]["type"] == "json_schema"
    schema = request["response_format"]["json_schema"]["schema"]
    names = {choice["properties"]["name"]["const"] for choice in schema["properties"]["actions"]["items"]["anyOf"]}
    assert names == {"send_message", "finish"}
    assert "Answer with exactly one JSON object" in request["messages"][0]["content"]


def test_a_native_tool_calling_model_gets_tools(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Answer(tool_calls=(("finish", {"result": "done by tools"}),)))
    events = run(chain_org("openai/gpt-4o-mini"), RunConfig(api_base=fake_openai.base_url, api_key="sk-fake", retry=FAST))
    assert events[-1].result == "done by tools"
    assert {tool["function"]["name"] for tool in fake_openai.requests[0]["tools"]} == {"send_message", "finish"}


@pytest.mark.parametrize(("behaviour", "error_type"), [(Status(401), "LLMRequestRejected"), (Status(500), "LLMServerError")])
def test_a_model_that_fails_ends_the_run_failed_with_a_typed_event(fake_openai: FakeOpenAI, behaviour, error_type: str) -> None:
    fake_openai.script(behaviour)
    events = run(chain_org("openai/gpt-4o-mini"), RunConfig(api_base=fake_openai.base_url, api_key="sk-fake", retry=FAST))
    failures = [event for event in events if isinstance(event, AgentFailed)]
    assert [(f.agent, f.error_type) for f in failures] == [("ceo", error_type)]
    assert events[-1].status == "failed" and events[-1].result is None and "ceo" in events[-1].error
    assert not any(isinstance(e, LLMCallFinished) for e in events)
    assert fake_openai.wait_closed()


@pytest.mark.parametrize("trusted", [False, True])
def test_run_python_runs_only_in_a_trusted_org(tmp_path: Path, trusted: bool) -> None:
    script = {
        "ceo": [{"send_message": {"to": "engineer", "content": "compute"}}, {"finish": {"result": "ok"}}],
        "engineer": [{"run_python": {"code": "print(6 * 7)"}}, {"send_message": {"to": "ceo", "content": "computed"}}],
    }
    org = chain_org(write_script(tmp_path, script), tools=("run_python",))
    events = run(org, RunConfig(trusted=trusted), runs_dir=tmp_path / "runs")
    (result,) = [event for event in events if isinstance(event, ToolReturned)]
    if trusted:
        assert result.ok and result.result.strip() == "42"
    else:
        assert not result.ok and "trusted" in result.result
    assert events[-1].status == "completed"
    assert any(isinstance(e, MessageSent) and e.content == "computed" for e in events)
