"""Pause, step and resume on a live run: nothing new starts while paused, a step runs one activation,
paused time is free, and the transcript is the same as an uninterrupted run's."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from orgruntime._model import Budget
from orgruntime.run import (
    AgentActivated,
    LLMCallFinished,
    MessageSent,
    RunFinished,
    RunPaused,
    RunResumed,
    RunStarted,
    Runner,
    RunConfig,
    RunStream,
    TokenDelta,
    ToolCalled,
    event_from_json,
    event_to_json,
    render_transcript,
)
from orgruntime.run._state import RunState
from tests.orgruntime.llm.fake_openai import Answer, Delay, FakeOpenAI
from tests.orgruntime.run.orgs import CHAIN_SCRIPT, chain_org, write_script

QUIET_S = 0.3


class Watcher:
    """Iterates a stream on its own task, so a test can act between events."""

    def __init__(self, stream: RunStream) -> None:
        self.stream = stream
        self.events: list = []
        self._queue: asyncio.Queue = asyncio.Queue()
        self.task = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        async for event in self.stream:
            self.events.append(event)
            await self._queue.put(event)
        await self._queue.put(None)

    async def until(self, predicate, timeout: float = 120.0):
        async def look():
            while (event := await self._queue.get()) is not None:
                if predicate(event):
                    return event
            raise AssertionError("the run ended first")

        return await asyncio.wait_for(look(), timeout)

    async def quiet(self, seconds: float = QUIET_S) -> list:
        """The events that arrive within `seconds` (a paused run sends none)."""
        seen = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = await asyncio.wait_for(self._queue.get(), left)
            except asyncio.TimeoutError:
                break
            seen.append(event)
        return seen

    async def finish(self):
        await asyncio.wait_for(self.task, 120)
        return self.events


def chain_stream(tmp_path: Path, config: RunConfig = RunConfig()) -> RunStream:
    return Runner(config).stream(chain_org(write_script(tmp_path, CHAIN_SCRIPT)), "make hello", runs_dir=tmp_path / "runs")


def straight_transcript(tmp_path: Path) -> list[str]:
    async def main():
        return [event async for event in chain_stream(tmp_path / "straight")]

    (tmp_path / "straight").mkdir()
    return render_transcript(asyncio.run(main()))


def between(events: list, start, end) -> list:
    return events[events.index(start) + 1 : events.index(end)]


def test_stepping_runs_one_activation_at_a_time_to_the_same_transcript(tmp_path: Path) -> None:
    async def scenario():
        stream = chain_stream(tmp_path)
        stream.pause()
        watcher = Watcher(stream)
        await watcher.until(lambda e: isinstance(e, RunPaused))
        assert [type(e) for e in watcher.events] == [RunStarted, MessageSent, RunPaused]
        assert await watcher.quiet() == []  # nothing starts while paused
        assert stream.paused
        steps = []
        for _ in range(2):
            assert stream.step()
            assert not stream.step()  # one step at a time
            resumed = await watcher.until(lambda e: isinstance(e, RunResumed))
            assert resumed.step
            paused = await watcher.until(lambda e: isinstance(e, RunPaused))
            steps.append(between(watcher.events, resumed, paused))
            assert await watcher.quiet() == []
        assert stream.resume()
        events = await watcher.finish()
        return steps, events

    steps, events = asyncio.run(scenario())
    for step in steps:
        assert sum(isinstance(e, AgentActivated) for e in step) == 1
    assert [e.agent for e in steps[0] if isinstance(e, AgentActivated)] == ["ceo"]
    assert [e.agent for e in steps[1] if isinstance(e, AgentActivated)] == ["engineer"]
    assert any(isinstance(e, ToolCalled) and e.name == "write_file" for e in steps[1])
    assert isinstance(events[-1], RunFinished) and events[-1].status == "completed"
    assert render_transcript(events) == straight_transcript(tmp_path)
    logged = [e for e in events if not isinstance(e, TokenDelta)]
    assert [type(e) for e in logged].count(RunPaused) == 3 and [type(e) for e in logged].count(RunResumed) == 3


@pytest.fixture
def fake_openai():
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_pause_lets_the_call_in_flight_finish_and_starts_nothing_else(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(
        Delay(0.6, Answer(tool_calls=(("send_message", {"to": "engineer", "content": "go"}),))),
        Answer(text="done"),
        Answer(tool_calls=(("finish", {"result": "shipped"}),)),
    )
    org = chain_org("openai/gpt-4o-mini")

    async def scenario():
        stream = Runner(RunConfig(api_base=fake_openai.base_url, api_key="sk-fake")).stream(org, "make hello")
        watcher = Watcher(stream)
        await watcher.until(lambda e: isinstance(e, AgentActivated) and e.agent == "ceo")
        assert stream.pause()
        paused = await watcher.until(lambda e: isinstance(e, RunPaused))
        answered = await watcher.until(lambda e: isinstance(e, LLMCallFinished))  # the call in flight finishes ...
        assert {type(e) for e in between(watcher.events, paused, answered)} <= {TokenDelta}
        assert answered.agent == "ceo"
        assert await watcher.quiet(0.5) == []  # ... and its send_message waits
        assert stream.resume()
        return await watcher.finish()

    events = asyncio.run(scenario())
    assert len(fake_openai.requests) == 3
    assert events[-1].status == "completed" and events[-1].result == "shipped"


def test_paused_time_does_not_count_against_the_runs_time(tmp_path: Path) -> None:
    async def scenario():
        stream = chain_stream(tmp_path, RunConfig(budget=Budget(max_seconds=30)))
        stream.pause()
        watcher = Watcher(stream)
        started = time.monotonic()
        await watcher.until(lambda e: isinstance(e, RunPaused))
        await asyncio.sleep(1.2)
        stream.resume()
        events = await watcher.finish()
        return events, time.monotonic() - started

    events, wall = asyncio.run(scenario())
    assert events[-1].status == "completed"
    assert events[-1].elapsed_s <= wall - 1.1


def test_stop_while_paused_ends_the_run_as_stopped(tmp_path: Path) -> None:
    async def scenario():
        stream = chain_stream(tmp_path)
        stream.pause()
        watcher = Watcher(stream)
        await watcher.until(lambda e: isinstance(e, RunPaused))
        stream.stop()
        return await watcher.finish()

    events = asyncio.run(scenario())
    assert isinstance(events[-1], RunFinished) and events[-1].status == "stopped"
    assert not any(isinstance(e, AgentActivated) for e in events)


def test_controls_do_nothing_when_they_cannot(tmp_path: Path) -> None:
    async def scenario():
        stream = chain_stream(tmp_path)
        assert not stream.resume() and not stream.step()  # not paused
        events = [event async for event in stream]
        assert not stream.pause() and not stream.resume() and not stream.step()  # over
        return events

    events = asyncio.run(scenario())
    assert events[-1].status == "completed"
    assert not any(isinstance(e, (RunPaused, RunResumed)) for e in events)


def test_pause_events_round_trip_and_fold_into_working_time(tmp_path: Path) -> None:
    org = chain_org("scripted/x.yaml")
    state = RunState(org)
    events = [
        RunStarted(run_id="r", seq=1, ts=100.0, org_name="o", entry="ceo", task="t"),
        RunPaused(run_id="r", seq=2, ts=110.0),
        RunResumed(run_id="r", seq=3, ts=150.0, step=True),
        RunPaused(run_id="r", seq=4, ts=155.0),
    ]
    for event in events:
        assert event_from_json(event_to_json(event)) == event
        state.apply(event)
    assert state.paused
    assert state.elapsed(500.0) == 15.0  # 10 s before the pause, 5 s of step; the rest was paused
    state.apply(RunStarted(run_id="r", seq=5, ts=900.0, org_name="o", entry="ceo", task="t", resumed=True))
    assert not state.paused  # a resumed run starts going
    assert state.elapsed(910.0) == 25.0
