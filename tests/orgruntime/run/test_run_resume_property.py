"""Property: for any script and any point where a log is cut, resuming gives the uninterrupted transcript."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orgruntime._model import Agent, Channel, ChannelKind, ModelDefaults, Org
from orgruntime.run import EVENTS_FILE, MessageSent, RunConfig, Runner, load_events, render_transcript
from tests.orgruntime.run.orgs import write_script

AGENTS = ("boss", "dev", "qa")
CHANNELS = (("boss", "dev"), ("dev", "qa"), ("qa", "boss"))


def answers(agent: str) -> st.SearchStrategy:
    send = st.sampled_from(AGENTS + ("ghost",)).map(lambda to: {"send_message": {"to": to, "content": f"{agent} to {to}"}})
    write = st.sampled_from(["a.txt", "b/c.txt", "../escape.txt"]).map(lambda path: {"write_file": {"path": path, "content": agent}})
    text = st.sampled_from(["ok", "done", "noted"]).map(lambda word: f"{agent} says {word}")
    finish = st.just({"finish": {"result": "finished"}})
    one = st.one_of(send, write, text, finish) if agent == "boss" else st.one_of(send, write, text)
    return st.lists(one, min_size=1, max_size=5)


def assert_routes_follow_the_chart(events) -> None:
    """Every message went along a channel, back to someone who wrote to the sender, or is the task."""
    wrote_to: set[tuple[str, str]] = set()
    for event in events:
        if isinstance(event, MessageSent):
            route = (event.sender, event.recipient)
            assert event.sender == "user" or route in CHANNELS or (event.recipient, event.sender) in wrote_to, route
            wrote_to.add(route)


SCRIPTS = st.fixed_dictionaries({agent: answers(agent) for agent in AGENTS})


def org_for(model: str) -> Org:
    return Org(
        name="Prop",
        entry="boss",
        defaults=ModelDefaults(model=model),
        max_concurrency=1,
        channels=tuple(Channel(source=s, target=t, kind=ChannelKind.DELEGATES) for s, t in CHANNELS),
        agents=tuple(Agent(id=agent, tools=("write_file",)) for agent in AGENTS),
    )


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=SCRIPTS, cut=st.integers(min_value=1, max_value=10_000))
def test_resuming_from_any_cut_of_the_log_gives_the_same_transcript(script, cut: int) -> None:
    folder = Path(tempfile.mkdtemp())
    try:
        org = org_for(write_script(folder, script))
        runner = Runner(RunConfig())
        whole = asyncio.run(runner.run(org, "go", runs_dir=folder / "a", run_id="run"))
        assert whole.status in {"completed", "failed", "stalled"}
        original = load_events(folder / "a" / "run").events
        assert_routes_follow_the_chart(original)
        lines = (folder / "a" / "run" / EVENTS_FILE).read_bytes().splitlines(keepends=True)
        keep = 1 + cut % (len(lines) - 1)  # at least RunStarted, never the RunFinished line
        shutil.copytree(folder / "a" / "run", folder / "b" / "run")
        (folder / "b" / "run" / EVENTS_FILE).write_bytes(b"".join(lines[:keep]))
        resumed = asyncio.run(runner.resume(org, folder / "b" / "run"))
        assert resumed.status == whole.status
        assert render_transcript(load_events(folder / "b" / "run").events) == render_transcript(original)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
