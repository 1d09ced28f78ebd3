"""The engine end to end through litellm and the scripted model: routing, replies, activations, outcomes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from orgruntime._model import Agent, Channel, ChannelKind, ModelDefaults, Org
from orgruntime.run import (
    NO_HUMAN_ANSWER,
    AgentActivated,
    FixedAnswers,
    HumanInputRequested,
    NoHumans,
    LLMCallFinished,
    MessageSent,
    RunConfig,
    RunFinished,
    Runner,
    TokenDelta,
    ToolReturned,
    render_transcript,
)
from tests.orgruntime.run.orgs import CHAIN_SCRIPT, chain_org, human_org, write_script


async def collect(stream):
    return [event async for event in stream]


def run_events(org: Org, task: str, runs_dir: Path | None = None, config: RunConfig = RunConfig()):
    stream = Runner(config).stream(org, task, runs_dir=runs_dir)
    events = asyncio.run(collect(stream))
    return stream, events


def test_chain_completes_with_streamed_text_and_ordered_events(tmp_path: Path) -> None:
    org = chain_org(write_script(tmp_path, CHAIN_SCRIPT))
    stream, events = run_events(org, "make hello", tmp_path / "runs")
    assert stream.outcome is not None and stream.outcome.status == "completed"
    assert stream.outcome.result == "hello.py shipped"
    assert [event.seq for event in events] == list(range(1, len(events) + 1))
    assert {event.run_id for event in events} == {stream.run_id}
    assert isinstance(events[-1], RunFinished) and events[-1].status == "completed"
    assert (tmp_path / "runs" / stream.run_id / "workspace" / "hello.py").read_text() == "print('hi')"
    deltas = "".join(event.text for event in events if isinstance(event, TokenDelta) and event.agent == "reviewer")
    assert deltas == "Looks good"
    assert sum(isinstance(event, TokenDelta) and event.agent == "reviewer" for event in events) >= 2
    assert render_transcript(events)[-3:] == [
        "engineer -> ceo: hello.py is written and reviewed",
        "ceo -> user: hello.py shipped",
        "finished: completed: hello.py shipped",
    ]


def test_plain_text_answer_replies_to_the_sender_that_woke_the_agent(tmp_path: Path) -> None:
    script = {
        "ceo": [{"send_message": {"to": "engineer", "content": "status?"}}, "Thanks", {"finish": {"result": "All fine"}}],
        "engineer": ["Working on it", "You are welcome"],
        "reviewer": [],
    }
    _, events = run_events(chain_org(write_script(tmp_path, script)), "report")
    sent = [(event.sender, event.recipient, event.content) for event in events if isinstance(event, MessageSent)]
    assert sent == [
        ("user", "ceo", "report"),
        ("ceo", "engineer", "status?"),
        ("engineer", "ceo", "Working on it"),
        ("ceo", "engineer", "Thanks"),  # woken by the engineer, so the plain answer goes back to the engineer
        ("engineer", "ceo", "You are welcome"),
        ("ceo", "user", "All fine"),
    ]
    assert events[-1].status == "completed" and events[-1].result == "All fine"


def test_the_entry_agents_plain_answer_to_the_task_finishes_the_run(tmp_path: Path) -> None:
    script = {"ceo": ["Forty-two"], "engineer": [], "reviewer": []}
    _, events = run_events(chain_org(write_script(tmp_path, script)), "answer")
    assert events[-1].status == "completed" and events[-1].result == "Forty-two"


def test_message_to_a_non_contact_is_refused_and_the_agent_is_told_why(tmp_path: Path) -> None:
    script = {
        "ceo": [
            {"send_message": {"to": "reviewer", "content": "skip the engineer"}},
            {"send_message": {"to": "nobody", "content": "hello?"}},
            {"finish": {"result": "gave up"}},
        ],
        "engineer": [],
        "reviewer": [],
    }
    _, events = run_events(chain_org(write_script(tmp_path, script)), "route")
    refusals = [event for event in events if isinstance(event, ToolReturned)]
    assert [event.ok for event in refusals] == [False, False]
    assert "reviewer is not one of your contacts" in refusals[0].result and "engineer" in refusals[0].result
    assert "no agent 'nobody'" in refusals[1].result
    assert not any(isinstance(event, MessageSent) and event.recipient == "reviewer" for event in events)
    # the refusal went back into the conversation: the model was called again in the same activation
    assert sum(isinstance(event, AgentActivated) and event.agent == "ceo" for event in events) == 1
    assert sum(isinstance(event, LLMCallFinished) and event.agent == "ceo" for event in events) == 3
    assert events[-1].status == "completed"


def test_a_reply_to_a_sender_always_works_even_against_the_chart(tmp_path: Path) -> None:
    # reviewer has no channel to engineer, yet may answer the engineer who wrote to it, by action too
    script = {
        "ceo": [{"send_message": {"to": "engineer", "content": "go"}}, {"finish": {"result": "done"}}],
        "engineer": [{"send_message": {"to": "reviewer", "content": "check"}}, {"send_message": {"to": "ceo", "content": "checked"}}],
        "reviewer": [{"send_message": {"to": "engineer", "content": "ok by me"}}],
    }
    _, events = run_events(chain_org(write_script(tmp_path, script)), "t")
    assert not any(isinstance(event, ToolReturned) and not event.ok for event in events)
    assert ("reviewer", "engineer", "ok by me") in [(e.sender, e.recipient, e.content) for e in events if isinstance(e, MessageSent)]
    assert events[-1].status == "completed"


def test_finish_by_a_non_entry_agent_and_unknown_tools_are_refused(tmp_path: Path) -> None:
    script = {
        "ceo": [{"send_message": {"to": "engineer", "content": "go"}}, {"finish": {"result": "done"}}],
        "engineer": [[{"finish": {"result": "mine"}}, {"run_python": {"code": "print(1)"}}, {"read_file": {"path": "x"}}], "ok"],
        "reviewer": [],
    }
    _, events = run_events(chain_org(write_script(tmp_path, script)), "t")
    results = [event.result for event in events if isinstance(event, ToolReturned)]
    assert results[0].startswith("refused: only the entry agent can finish")
    assert results[1].startswith("refused: you have no tool 'run_python'")
    assert results[2].startswith("refused: you have no tool 'read_file'")
    assert events[-1].status == "completed" and events[-1].result == "done"


@pytest.mark.parametrize(("responder", "answer"), [(FixedAnswers(["Approved, go ahead"]), "Approved, go ahead"), (NoHumans(), NO_HUMAN_ANSWER)])
def test_a_human_seat_waits_for_a_person_and_the_answer_goes_back(tmp_path: Path, responder, answer: str) -> None:
    script = {"agent": [{"send_message": {"to": "boss", "content": "May I ship?"}}, {"finish": {"result": "asked"}}]}
    org = human_org(write_script(tmp_path, script))
    _, events = run_events(org, "ship it", config=RunConfig(human=responder))
    requests = [e for e in events if isinstance(e, HumanInputRequested)]
    assert len(requests) == 1 and requests[0].agent == "boss" and "May I ship?" in requests[0].question
    assert ("boss", "agent", answer) in [(e.sender, e.recipient, e.content) for e in events if isinstance(e, MessageSent)]
    assert not any(isinstance(e, LLMCallFinished) and e.agent == "boss" for e in events)
    assert events[-1].status == "completed"


def test_exhausted_script_fails_the_run_with_a_clear_error(tmp_path: Path) -> None:
    script = {"ceo": [{"send_message": {"to": "engineer", "content": "go"}}], "engineer": [], "reviewer": []}
    _, events = run_events(chain_org(write_script(tmp_path, script)), "t")
    assert events[-1].status == "failed"
    assert "engineer" in events[-1].error and "exhausted" in events[-1].error


def test_agents_with_work_run_concurrently_within_the_bound(tmp_path: Path) -> None:
    workers = [f"w{i}" for i in range(6)]
    script = {"boss": [[{"send_message": {"to": w, "content": f"task {w}"}} for w in workers], {"finish": {"result": "all replied"}}]}
    script.update({w: [f"{w} done"] for w in workers})
    org = Org(
        name="Fan",
        entry="boss",
        defaults=ModelDefaults(model=write_script(tmp_path, script)),
        max_concurrency=3,
        channels=tuple(Channel(source="boss", target=w, kind=ChannelKind.DELEGATES) for w in workers),
        agents=(Agent(id="boss"), *(Agent(id=w) for w in workers)),
    )
    _, events = run_events(org, "fan out")
    active: set[str] = set()
    peak = 0
    for event in events:
        if isinstance(event, AgentActivated) and event.agent != "boss":
            active.add(event.agent)
            peak = max(peak, len(active))
        elif isinstance(event, MessageSent):
            active.discard(event.sender)
    assert 2 <= peak <= 3  # the boss takes one of the three places while it works
    activated = [e.agent for e in events if isinstance(e, AgentActivated)]
    assert activated[:4] == ["boss", "w0", "w1", "w2"]  # the oldest unread message goes first
    # the boss waits while its requests are being worked on, then reads all six answers at once
    boss_wakes = [e for e in events if isinstance(e, AgentActivated) and e.agent == "boss"]
    assert len(boss_wakes) == 2 and len(boss_wakes[1].message_ids) == 6
    assert events[-1].status == "completed" and events[-1].result == "all replied"


def test_agents_waiting_on_each_other_in_a_cycle_do_not_deadlock(tmp_path: Path) -> None:
    script = {
        "x": [[{"send_message": {"to": w, "content": f"go {w}"}} for w in ("a", "b", "c")], {"finish": {"result": "cycle broken"}}],
        "a": [{"send_message": {"to": "b", "content": "a asks b"}}, "a answers c"],
        "b": [{"send_message": {"to": "c", "content": "b asks c"}}, {"send_message": {"to": "x", "content": "done b"}}],
        "c": [{"send_message": {"to": "a", "content": "c asks a"}}, "c answers b"],
    }
    delegates = [("x", "a"), ("x", "b"), ("x", "c"), ("a", "b"), ("b", "c"), ("c", "a")]
    org = Org(
        name="Cycle",
        entry="x",
        defaults=ModelDefaults(model=write_script(tmp_path, script)),
        channels=tuple(Channel(source=s, target=t, kind=ChannelKind.DELEGATES) for s, t in delegates),
        agents=tuple(Agent(id=i) for i in ("x", "a", "b", "c")),
    )
    _, events = run_events(org, "t")
    # a, b and c each wait for the next one, who has unread mail from them: nobody would move, so the
    # oldest waiting mail (b's) is served anyway
    assert events[-1].status == "completed" and events[-1].result == "cycle broken"


def test_stop_ends_the_run_as_stopped(tmp_path: Path) -> None:
    script = {"ceo": [{"send_message": {"to": "engineer", "content": "go"}}, "done"], "engineer": ["working"], "reviewer": []}
    org = chain_org(write_script(tmp_path, script))

    async def main():
        stream = Runner().stream(org, "t")
        events = []
        async for event in stream:
            events.append(event)
            if isinstance(event, AgentActivated) and event.agent == "engineer":
                stream.stop()
        return stream, events

    stream, events = asyncio.run(main())
    assert events[-1].status == "stopped" and stream.outcome.status == "stopped"
    assert not any(isinstance(e, MessageSent) and e.recipient == "user" for e in events)


def test_network_models_are_blocked_in_tests(tmp_path: Path) -> None:
    org = chain_org("openai/gpt-4o-mini")
    _, events = run_events(org, "t")
    assert events[-1].status == "failed" and "NetworkModelCallBlocked" in [getattr(e, "error_type", None) for e in events]


@pytest.mark.parametrize("native", [True, False])
def test_json_mode_answers_are_read_into_the_same_actions(tmp_path: Path, native: bool) -> None:
    script = dict(CHAIN_SCRIPT, _settings={"native_tools": native})
    _, events = run_events(chain_org(write_script(tmp_path, script)), "make hello", tmp_path / "runs")
    assert events[-1].status == "completed"
    assert render_transcript(events)[1:] == render_transcript(run_events(chain_org(write_script(tmp_path, CHAIN_SCRIPT, "native.yaml")), "make hello", tmp_path / "r2")[1])[1:]


def test_unreadable_json_answer_is_retried_once_then_fails(tmp_path: Path) -> None:
    script = {
        "_settings": {"native_tools": False},
        "ceo": [{"_raw": "I think I will delegate"}, {"finish": {"result": "recovered"}}],
        "engineer": [],
        "reviewer": [],
    }
    _, events = run_events(chain_org(write_script(tmp_path, script)), "t")
    calls = [e for e in events if isinstance(e, LLMCallFinished)]
    assert calls[0].parse_error and "not valid JSON" in calls[0].parse_error
    assert calls[1].parse_error is None and events[-1].result == "recovered"

    script["ceo"] = [{"_raw": "nope"}, {"_raw": '{"reply": 3}'}, {"finish": {"result": "never"}}]
    _, events = run_events(chain_org(write_script(tmp_path, script, "bad.yaml")), "t")
    assert events[-1].status == "failed" and "InvalidAnswer" in [getattr(e, "error_type", None) for e in events]
    assert sum(isinstance(e, LLMCallFinished) for e in events) == 2


def test_an_agent_without_a_model_fails_clearly(tmp_path: Path) -> None:
    org = Org(name="No model", entry="solo", agents=(Agent(id="solo"),))
    _, events = run_events(org, "t")
    assert events[-1].status == "failed" and "no model" in events[-1].error
