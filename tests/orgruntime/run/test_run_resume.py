"""Crash and resume: a run killed with SIGKILL after event k, for every k, resumes to the golden transcript
without repeating a completed model call or a completed tool call."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from pathlib import Path

import pytest

from orgruntime.llm import CALL_LOG_ENV
from orgruntime.run import (
    EVENTS_FILE,
    LLMCallFinished,
    RunNotResumable,
    Runner,
    RunStarted,
    TokenDelta,
    ToolCalled,
    ToolReturned,
    load_events,
    read_info,
    render_transcript,
)
from tests.orgruntime.run.orgs import CHAIN_SCRIPT, chain_org, write_script

TASK = "make hello"


def model_calls(events) -> list[tuple[str, int]]:
    """(agent, answer index) of every finished model call, in order."""
    seen: Counter[str] = Counter()
    calls = []
    for event in events:
        if isinstance(event, LLMCallFinished):
            calls.append((event.agent, seen[event.agent]))
            seen[event.agent] += 1
    return calls


def read_call_log(path: Path) -> list[tuple[str, int]]:
    if not path.exists():
        return []
    return [(agent, int(index)) for agent, index in (line.split() for line in path.read_text().splitlines())]


def run_and_kill(org, runs_dir: Path, run_id: str, kill_after: int, call_log: Path) -> int:
    """Run in a forked child that SIGKILLs itself once it has seen `kill_after` logged events."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.environ[CALL_LOG_ENV] = str(call_log)

            async def main() -> None:
                seen = 0
                async for event in Runner().stream(org, TASK, runs_dir=runs_dir, run_id=run_id):
                    if not isinstance(event, TokenDelta):
                        seen += 1
                        if seen == kill_after:
                            os.kill(os.getpid(), signal.SIGKILL)

            asyncio.run(main())
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    return status


@pytest.fixture(scope="module")
def golden(tmp_path_factory):
    folder = tmp_path_factory.mktemp("golden")
    org = chain_org(write_script(folder, CHAIN_SCRIPT))

    async def main():
        stream = Runner().stream(org, TASK, runs_dir=folder / "runs", run_id="golden")
        return [event async for event in stream]

    events = asyncio.run(main())
    logged = [event for event in events if not isinstance(event, TokenDelta)]
    assert logged[-1].status == "completed"
    return org, logged


def test_the_golden_run_has_enough_steps(golden) -> None:
    _, logged = golden
    assert len(logged) >= 20 and len(model_calls(logged)) == 7


@pytest.mark.slow
def test_killed_after_every_event_and_resumed_gives_the_golden_transcript(golden, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    org, logged = golden
    expected = render_transcript(logged)
    for k in range(1, len(logged)):
        runs_dir = tmp_path / f"k{k}"
        first_calls, resumed_calls = tmp_path / f"calls-{k}-a", tmp_path / f"calls-{k}-b"
        status = run_and_kill(org, runs_dir, "run", k, first_calls)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, f"k={k}"
        run_dir = runs_dir / "run"
        before = load_events(run_dir).events
        assert len(before) >= k

        monkeypatch.setenv(CALL_LOG_ENV, str(resumed_calls))
        outcome = asyncio.run(Runner().resume(org, run_dir))
        after = load_events(run_dir).events

        assert outcome.status == "completed", f"k={k}"
        assert render_transcript(after) == expected, f"k={k}"
        seqs = [event.seq for event in after]
        assert seqs == sorted(set(seqs)), f"k={k}"  # rising; the gaps are TokenDeltas, which are not logged
        assert sum(isinstance(e, RunStarted) and e.resumed for e in after) == 1
        # no completed model call was made again ...
        completed_before = set(model_calls(before))
        made_on_resume = set(read_call_log(resumed_calls))
        assert not completed_before & made_on_resume, f"k={k}"
        assert completed_before | made_on_resume >= set(model_calls(logged)), f"k={k}"
        assert model_calls(after) == model_calls(logged)
        # ... and no tool that had returned ran again
        returned_before = {(e.agent, e.call_id) for e in before if isinstance(e, ToolReturned)}
        resumed_part = after[len(before):]
        assert not returned_before & {(e.agent, e.call_id) for e in resumed_part if isinstance(e, ToolCalled)}, f"k={k}"
        assert read_info(run_dir)["status"] == "completed" and read_info(run_dir)["resumed"] == 1


def test_a_torn_last_line_is_dropped_before_resuming(golden, tmp_path: Path) -> None:
    org, logged = golden
    run_and_kill(org, tmp_path / "runs", "run", 8, tmp_path / "calls")
    run_dir = tmp_path / "runs" / "run"
    with open(run_dir / EVENTS_FILE, "ab") as log:
        log.write(b'{"kind":"MessageSent","run_id":"run","se')
    assert load_events(run_dir).torn_tail is not None
    outcome = asyncio.run(Runner().resume(org, run_dir))
    assert outcome.status == "completed"
    loaded = load_events(run_dir)
    assert loaded.torn_tail is None and render_transcript(loaded.events) == render_transcript(logged)


def test_a_finished_run_is_not_resumed(golden, tmp_path: Path) -> None:
    org, _ = golden
    run_and_kill(org, tmp_path / "runs", "run", 10_000, tmp_path / "calls")  # never killed: runs to the end
    with pytest.raises(RunNotResumable, match="already finished"):
        Runner().resume_stream(org, tmp_path / "runs" / "run")
