"""Run-engine overhead with the scripted model: a 1,000-agent org where the entry broadcasts to every
agent and each replies once; and the run log's throughput.

    .venv/bin/python bench/bench_run_engine.py [--agents 1000] [--concurrency 1 64]

Prints figures; it asserts nothing about speed. "Engine overhead" is the run's wall time minus the time
spent inside model calls (litellm plus the scripted model), divided by the messages delivered; it is
exact when agents run one at a time (concurrency 1), where model calls do not overlap.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml  # noqa: E402

from orgruntime import Agent, Channel, ChannelKind, ModelDefaults, Org  # noqa: E402
from orgruntime.llm import prepare  # noqa: E402
from orgruntime.run import LLMCallFinished, MessageSent, RunConfig, Runner, TokenDelta, load_events  # noqa: E402
from orgruntime.run._log import EventLog  # noqa: E402


def broadcast_org(folder: Path, agents: int) -> Org:
    workers = [f"w{index:04d}" for index in range(agents)]
    script = {
        "hub": [[{"send_message": {"to": worker, "content": f"report, {worker}"}} for worker in workers], {"finish": {"result": "all reported"}}],
        **{worker: [f"{worker} reporting"] for worker in workers},
    }
    path = folder / "broadcast.yaml"
    path.write_text(yaml.safe_dump(script), encoding="utf-8")
    return Org(
        name="Broadcast",
        entry="hub",
        defaults=ModelDefaults(model=f"scripted/{path}"),
        channels=tuple(Channel(source="hub", target=worker, kind=ChannelKind.DELEGATES) for worker in workers),
        agents=(Agent(id="hub"), *(Agent(id=worker) for worker in workers)),
    )


async def timed_run(org: Org, runs_dir: Path, concurrency: int) -> tuple[float, list]:
    events = []
    started = time.perf_counter()
    async for event in Runner(RunConfig(max_concurrency=concurrency)).stream(org, "everyone report", runs_dir=runs_dir):
        events.append(event)
    return time.perf_counter() - started, events


def bench_engine(agents: int, concurrency: int, folder: Path) -> Path:
    org = broadcast_org(folder, agents)
    wall, events = asyncio.run(timed_run(org, folder / f"runs-c{concurrency}", concurrency))
    messages = sum(isinstance(event, MessageSent) for event in events)
    replies = sum(isinstance(event, MessageSent) and event.recipient == "hub" and event.sender != "user" for event in events)
    model_seconds = sum(event.latency_s for event in events if isinstance(event, LLMCallFinished))
    calls = sum(isinstance(event, LLMCallFinished) for event in events)
    status = events[-1].status
    print(f"{agents} agents, concurrency {concurrency}: {status}, {replies} replies, {messages} messages, {calls} model calls, {len(events)} events")
    print(f"  wall time                 {wall:8.2f} s   ({messages / wall:,.0f} messages/s)")
    print(f"  inside model calls        {model_seconds:8.2f} s   ({model_seconds / max(calls, 1) * 1000:.2f} ms per call, litellm + scripted model)")
    if concurrency == 1:
        print(f"  wall - model calls / msg  {(wall - model_seconds) / messages * 1000:8.3f} ms   (engine + litellm's post-call logging tasks, which run on the same loop)")
    return next((folder / f"runs-c{concurrency}").iterdir())


def bench_engine_code(agents: int, folder: Path) -> None:
    """Time inside the engine's own code (orgruntime.run; orgruntime.llm apart; litellm not counted), by cProfile."""
    org = broadcast_org(folder, agents)
    profile = cProfile.Profile()
    profile.enable()
    _, events = asyncio.run(timed_run(org, folder / "runs-profiled", 1))
    profile.disable()
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]

    def seconds_in(package: str) -> float:
        return sum(tottime for (filename, _, _), (_, _, tottime, _, _) in stats.items() if f"{os.sep}orgruntime{os.sep}{package}{os.sep}" in filename)

    own, llm = seconds_in("run"), seconds_in("llm")
    messages = sum(isinstance(event, MessageSent) for event in events)
    print(f"orgruntime.llm code (stream reading, scripted model): {llm / messages * 1000:.3f} ms per message")
    print(f"engine code, orgruntime.run (cProfile, {agents} agents, concurrency 1): {own:.2f} s = {own / messages * 1000:.3f} ms per message (target < 1 ms; profiling inflates it)")


def bench_log(run_dir: Path, folder: Path) -> None:
    events = [event for event in load_events(run_dir).events if not isinstance(event, TokenDelta)]
    repeat = max(1, 20000 // len(events))
    for fsync in (True, False):
        log = EventLog(folder / f"log-{fsync}", fsync=fsync)
        started = time.perf_counter()
        for _ in range(repeat):
            for event in events:
                log.append(event)
        log.close()
        seconds = time.perf_counter() - started
        written = repeat * len(events)
        label = "fsync at step boundaries" if fsync else "flush only             "
        print(f"log throughput, {label}: {written / seconds:10,.0f} events/s ({written} events, target >= 20,000)")
    started = time.perf_counter()
    loaded = load_events(folder / "log-False")
    seconds = time.perf_counter() - started
    print(f"log reading:                            {len(loaded.events) / seconds:10,.0f} events/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 64])
    args = parser.parse_args()
    started = time.perf_counter()
    prepare()
    print(f"litellm import and setup: {time.perf_counter() - started:.2f} s (once per process, not counted below)")
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        run_dir = None
        for concurrency in args.concurrency:
            run_dir = bench_engine(args.agents, concurrency, folder)
        bench_engine_code(args.agents, folder)
        if run_dir is not None:
            bench_log(run_dir, folder)


if __name__ == "__main__":
    main()
