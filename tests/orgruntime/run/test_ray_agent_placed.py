"""AgentPlaced: the runner says where a non-local executor runs each agent, once when placed and again when the
placement changes; the local executor's runs carry no such event; logs holding it replay and resume."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from orgruntime.run import (
    EVENTS_FILE,
    AgentPlaced,
    Executor,
    MessageSent,
    RunConfig,
    RunFinished,
    RunStarted,
    Runner,
    TokenDelta,
    event_from_json,
    event_to_json,
    event_to_line,
    load_events,
    read_info,
    render_transcript,
)
from tests.orgruntime.run.orgs import CHAIN_SCRIPT, chain_org, write_script
from tests.orgruntime.run.placing_executor import PlacingExecutor

ROOT = Path(__file__).resolve().parents[3]


def moving_executor(move_after: int = 3) -> PlacingExecutor:
    """Says its agents run on "node-a"; after `move_after` model calls the engineer moves to "node-b"."""
    return PlacingExecutor({"ceo": "node-a", "engineer": "node-a", "reviewer": "node-a"}, name="moving", mover="engineer",
                           moved_to="node-b", move_after=move_after)  # fmt: skip


def run(org, config: RunConfig, runs_dir: Path):
    async def main():
        stream = Runner(config).stream(org, "make hello", runs_dir=runs_dir)
        return stream, [event async for event in stream]

    return asyncio.run(asyncio.wait_for(main(), 60))


def test_agent_placed_round_trips_through_json() -> None:
    event = AgentPlaced(run_id="r", seq=4, ts=1.5, agent_id="engineer", where="host-1:0a1b2c3d")
    assert event.kind == "AgentPlaced"
    assert event_from_json(event_to_json(event)) == event
    assert '"agent_id":"engineer"' in event_to_line(event)
    with pytest.raises(AttributeError):
        event.where = "elsewhere"  # type: ignore[misc]


def test_a_non_local_executor_places_every_agent_once_and_again_when_one_moves(tmp_path: Path) -> None:
    org = chain_org(write_script(tmp_path, CHAIN_SCRIPT))
    assert isinstance(moving_executor(), Executor)
    _, local_events = run(org, RunConfig(), tmp_path / "local")
    org_dir = tmp_path / "org"
    stream, events = run(org, RunConfig(executor=moving_executor), org_dir / ".orgide" / "runs")

    placed = [(event.agent_id, event.where) for event in events if isinstance(event, AgentPlaced)]
    assert placed == [("ceo", "node-a"), ("engineer", "node-a"), ("reviewer", "node-a"), ("engineer", "node-b")]
    kinds = [type(event).__name__ for event in events if not isinstance(event, TokenDelta)]
    assert kinds[:5] == ["RunStarted", "MessageSent", "AgentPlaced", "AgentPlaced", "AgentPlaced"]  # placed before any work
    assert kinds[-1] == "RunFinished"
    assert render_transcript(events) == render_transcript(local_events)  # placement is not part of the transcript
    assert read_info(stream.run_dir)["placement"] == {"ceo": "node-a", "engineer": "node-b", "reviewer": "node-a"}
    assert not any(isinstance(event, AgentPlaced) for event in local_events)  # asyncio runs' logs are unchanged

    logged = load_events(stream.run_dir)
    assert logged.torn_tail is None
    assert [event for event in logged.events if isinstance(event, AgentPlaced)] == [event for event in events if isinstance(event, AgentPlaced)]
    replay = subprocess.run([sys.executable, "-m", "ide", "replay", str(org_dir), stream.run_id], capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
    assert replay.returncode == 0, replay.stderr
    assert replay.stdout.splitlines() == render_transcript(local_events)
    replay = subprocess.run([sys.executable, "-m", "ide", "replay", str(org_dir), stream.run_id, "--json"], capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
    assert sum('"kind":"AgentPlaced"' in line for line in replay.stdout.splitlines()) == 4


def test_a_log_cut_after_placement_resumes_and_places_again(tmp_path: Path) -> None:
    org = chain_org(write_script(tmp_path, CHAIN_SCRIPT))
    stream, events = run(org, RunConfig(executor=moving_executor), tmp_path / "runs")
    log = stream.run_dir / EVENTS_FILE
    lines = log.read_text(encoding="utf-8").splitlines(keepends=True)
    cut = next(index for index, line in enumerate(lines) if '"kind":"AgentPlaced"' in line and "node-b" in line)
    log.write_text("".join(lines[: cut + 2]), encoding="utf-8")  # the move and one event after it survive

    outcome = asyncio.run(asyncio.wait_for(Runner(RunConfig(executor=lambda: moving_executor(move_after=1000))).resume(org, stream.run_dir), 60))
    assert outcome.status == "completed"
    after = load_events(stream.run_dir).events
    resumed_at = next(index for index, event in enumerate(after) if isinstance(event, RunStarted) and event.resumed)
    # the engineer was last on node-b; the new executor has it on node-a: that change is announced, the others are unchanged
    assert [(e.agent_id, e.where) for e in after[resumed_at:] if isinstance(e, AgentPlaced)] == [("engineer", "node-a")]
    assert render_transcript(after) == render_transcript(events)
    assert isinstance(after[-1], RunFinished) and sum(isinstance(e, MessageSent) for e in after) == sum(isinstance(e, MessageSent) for e in events)


def test_a_resumed_run_on_the_local_executor_takes_a_log_with_placements(tmp_path: Path) -> None:
    org = chain_org(write_script(tmp_path, CHAIN_SCRIPT))
    stream, events = run(org, RunConfig(executor=moving_executor), tmp_path / "runs")
    log = stream.run_dir / EVENTS_FILE
    lines = log.read_text(encoding="utf-8").splitlines(keepends=True)
    log.write_text("".join(lines[:8]), encoding="utf-8")
    outcome = asyncio.run(asyncio.wait_for(Runner().resume(org, stream.run_dir), 60))
    assert outcome.status == "completed"
    after = load_events(stream.run_dir).events
    assert render_transcript(after) == render_transcript(events)
    assert sum(isinstance(e, AgentPlaced) for e in after) == 3  # only the ones logged before the cut


def test_the_live_view_shows_where_each_agent_runs_and_when_it_moves(tmp_path: Path) -> None:
    from rich.console import Console

    from ide.cli._run_view import RunView

    org = chain_org(write_script(tmp_path, CHAIN_SCRIPT))
    screens = []
    for config in (RunConfig(executor=moving_executor), RunConfig()):
        _, events = run(org, config, tmp_path / config.executor.__name__)
        view = RunView()
        lines = [line for event in events for line in view.update(event)]
        console = Console(record=True, width=160)
        console.print(view.render())
        screens.append((lines, console.export_text()))
    (placed_lines, placed_screen), (local_lines, local_screen) = screens
    assert "[engineer] moved to node-b" in placed_lines and "moved" not in " ".join(local_lines)
    assert "where" in placed_screen and "node-b" in placed_screen and "node-a" in placed_screen
    assert "where" not in local_screen
