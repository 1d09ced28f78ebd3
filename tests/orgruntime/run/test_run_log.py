"""Events in JSON and the durable log: stable form, round trips, torn tails, run.json."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from orgruntime.llm import ToolCall
from orgruntime.run import (
    EVENTS_FILE,
    INFO_FILE,
    LLMCallFinished,
    MessageSent,
    RunFinished,
    Runner,
    TokenDelta,
    event_from_json,
    event_to_json,
    list_runs,
    load_events,
    read_info,
)
from orgruntime.run._events import EVENT_TYPES
from tests.orgruntime.run.orgs import CHAIN_SCRIPT, chain_org, write_script


def test_stable_json_form_of_events() -> None:
    sent = MessageSent(run_id="r1", seq=5, ts=12.5, sender="ceo", recipient="engineer", content="Build it", message_id="m2", call_id="c1")
    assert event_to_json(sent) == {
        "kind": "MessageSent", "run_id": "r1", "seq": 5, "ts": 12.5,
        "sender": "ceo", "recipient": "engineer", "content": "Build it", "message_id": "m2", "call_id": "c1",
    }
    finished = RunFinished(run_id="r1", seq=9, ts=13.0, status="completed", result="done")
    assert event_to_json(finished)["kind"] == "RunFinished"
    assert {"status": "completed", "result": "done"}.items() <= event_to_json(finished).items()
    assert sent.kind == "MessageSent"


def test_the_event_set_is_the_designed_one() -> None:
    assert set(EVENT_TYPES) == {
        "RunStarted", "AgentActivated", "TokenDelta", "LLMCallFinished", "MessageSent", "ToolCalled",
        "ToolReturned", "HumanInputRequested", "BudgetExceeded", "AgentPlaced", "AgentFailed", "RunPaused", "RunResumed", "RunFinished",
    }


@given(
    text=st.text(max_size=50),
    calls=st.lists(st.tuples(st.text(min_size=1, max_size=8), st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=3)), max_size=3),
    seq=st.integers(min_value=1, max_value=10**9),
)
def test_events_round_trip_through_json(text: str, calls, seq: int) -> None:
    event = LLMCallFinished(
        run_id="r", seq=seq, ts=1.0, agent="a", model="m", text=text,
        tool_calls=tuple(ToolCall(id=f"c{i}", name=name, arguments=args, raw_arguments=json.dumps(args)) for i, (name, args) in enumerate(calls)),
    )
    assert event_from_json(json.loads(json.dumps(event_to_json(event)))) == event


def run_logged(tmp_path: Path):
    org = chain_org(write_script(tmp_path, CHAIN_SCRIPT))

    async def main():
        stream = Runner().stream(org, "make hello", runs_dir=tmp_path / "runs")
        return stream, [event async for event in stream]

    return asyncio.run(main())


def test_the_log_holds_every_event_but_token_deltas_and_run_json_the_summary(tmp_path: Path) -> None:
    stream, events = run_logged(tmp_path)
    run_dir = tmp_path / "runs" / stream.run_id
    loaded = load_events(run_dir)
    assert loaded.torn_tail is None
    assert list(loaded.events) == [event for event in events if not isinstance(event, TokenDelta)]
    info = read_info(run_dir)
    assert info["status"] == "completed" and info["task"] == "make hello" and info["result"] == "hello.py shipped"
    assert set(info["models"]) == {"ceo", "engineer", "reviewer"}
    assert info["totals"]["steps"] == sum(isinstance(e, LLMCallFinished) for e in events)
    assert "commit" in info and "dirty" in info
    assert [run["run_id"] for run in list_runs(tmp_path / "runs")] == [stream.run_id]


@settings(max_examples=25, deadline=None)
@given(cut=st.integers(min_value=0, max_value=10**6))
def test_a_torn_log_loads_every_complete_event_and_reports_the_tail(tmp_path_factory, cut: int) -> None:
    source = SHARED_LOG.setdefault("dir", None)
    if source is None:
        source = tmp_path_factory.mktemp("log")
        stream, _ = run_logged(source)
        SHARED_LOG["dir"] = source
        SHARED_LOG["run"] = source / "runs" / stream.run_id
    data = (SHARED_LOG["run"] / EVENTS_FILE).read_bytes()
    cut = cut % (len(data) + 1)
    target = tmp_path_factory.mktemp("torn")
    (target / EVENTS_FILE).write_bytes(data[:cut])
    loaded = load_events(target)
    complete_lines = data[:cut].count(b"\n")
    assert len(loaded.events) == complete_lines
    assert (loaded.torn_tail is not None) == (cut > 0 and not data[:cut].endswith(b"\n"))
    assert [event.seq for event in loaded.events] == [json.loads(line)["seq"] for line in data[:cut].splitlines(keepends=True) if line.endswith(b"\n")]


SHARED_LOG: dict = {}


def test_a_corrupt_line_in_the_middle_is_an_error_not_a_torn_tail(tmp_path: Path) -> None:
    from orgruntime.run import RunLogError
    import pytest

    stream, _ = run_logged(tmp_path)
    path = tmp_path / "runs" / stream.run_id / EVENTS_FILE
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2] = b"{not json}\n"
    path.write_bytes(b"".join(lines))
    with pytest.raises(RunLogError, match=":3:"):
        load_events(path.parent)
    assert (path.parent / INFO_FILE).exists()


def test_runs_started_within_one_second_are_listed_in_start_order(tmp_path: Path) -> None:
    from orgruntime.run._log import write_info

    runs = tmp_path / "runs"
    second = "2026-11-28T19:00:00Z"
    for run_id, started_ts in (("20261128-190000-aaaaaa", 1795900800.75), ("20261128-190000-ffffff", 1795900800.25)):
        (runs / run_id).mkdir(parents=True)
        write_info(runs / run_id, {"run_id": run_id, "status": "completed", "started_at": second, "started_ts": started_ts})
    assert [run["run_id"] for run in list_runs(runs)] == ["20261128-190000-ffffff", "20261128-190000-aaaaaa"]
