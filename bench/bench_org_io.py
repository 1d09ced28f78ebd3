"""Org files at scale: a generated 1,000-agent, 3,000-channel org.

Prints the median of several runs for: load + validate, load alone, a first save into an
empty folder, an unchanged save, and a save after a one-field edit. Targets (issue 2):
load + validate under 0.5 s, save under 0.5 s, on a 2-core machine.

    python bench/bench_org_io.py [--agents 1000] [--channels 3000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orgruntime import (  # noqa: E402
    Agent,
    Budget,
    Channel,
    ChannelKind,
    Layout,
    ModelDefaults,
    Org,
    Point,
    check_org,
    load_org,
    save_org,
)


def generated_org(agent_count: int, channel_count: int, seed: int = 7) -> Org:
    rng = random.Random(seed)
    ids = [f"agent-{index:04d}" for index in range(agent_count)]
    agents = tuple(
        Agent(
            id=agent_id,
            name=f"Agent {index}",
            role=f"Handles area {index % 37} of the business",
            model=rng.choice([None, "openai/gpt-4o-mini", "local/smollm2-135m-instruct"]),
            tools=("read_file", "write_file") if index % 3 == 0 else (),
            budget=Budget(max_steps=10 + index % 5) if index % 4 == 0 else Budget(),
            prompt=f"You are agent {index}. " + "Work carefully and report what you did. " * 8,
        )
        for index, agent_id in enumerate(ids)
    )
    channels: list[Channel] = []
    keys = set()
    for index in range(1, agent_count):  # a spanning tree from the entry keeps everyone reachable
        channel = Channel(source=ids[(index - 1) // 3], target=ids[index], kind=ChannelKind.DELEGATES)
        channels.append(channel)
        keys.add(channel.key)
    while len(channels) < channel_count:
        source, target = rng.sample(ids, 2)
        channel = Channel(source=source, target=target, kind=rng.choice(list(ChannelKind)))
        if channel.key not in keys:
            keys.add(channel.key)
            channels.append(channel)
    layout = Layout.of({agent_id: Point(float(i % 40) * 200, float(i // 40) * 150) for i, agent_id in enumerate(ids)})
    return Org(
        name="Generated",
        description="A generated org for benchmarks",
        entry=ids[0],
        defaults=ModelDefaults(model="local/smollm2-135m-instruct", temperature=0.2),
        budget=Budget(max_steps=5000),
        channels=tuple(channels),
        agents=agents,
        layout=layout,
    )


def median_seconds(action, repeat: int, setup=lambda: None) -> tuple[float, float]:
    """Median wall time and median CPU time of this process (CPU time is steadier on a busy machine)."""
    walls, cpus = [], []
    for _ in range(repeat):
        setup()
        started, started_cpu = time.perf_counter(), time.process_time()
        action()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - started_cpu)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--channels", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    org = generated_org(args.agents, args.channels)
    work = Path(tempfile.mkdtemp(prefix="orgide-bench-"))
    try:
        root = work / "org"
        save_org(org, root)
        _, problems = check_org(root)
        assert not [p for p in problems if p.is_error], problems[:5]
        edited = dataclasses.replace(org, agents=tuple(dataclasses.replace(a, temperature=0.7) if a.id == "agent-0500" else a for a in org.agents))
        rewired = dataclasses.replace(org, channels=org.channels[10:] + tuple(
            Channel(source=c.target, target=c.source, kind=c.kind) for c in org.channels[:10]))
        fresh = work / "fresh"
        figures = {
            "load + validate": median_seconds(lambda: check_org(root), args.repeat),
            "load": median_seconds(lambda: load_org(root), args.repeat),
            "save, unchanged": median_seconds(lambda: save_org(org, root), args.repeat),
            "save, one field changed": median_seconds(
                lambda: save_org(edited, root), args.repeat, setup=lambda: save_org(org, root)
            ),
            "save, 10 channels rewired": median_seconds(
                lambda: save_org(rewired, root), args.repeat, setup=lambda: save_org(org, root)
            ),
            "save, new folder (fsync per file)": median_seconds(
                lambda: save_org(org, fresh), args.repeat, setup=lambda: shutil.rmtree(fresh, ignore_errors=True)
            ),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"org files: {args.agents} agents, {len(org.channels)} channels (median of {args.repeat})")
    print(f"  {'':36s} {'wall':>8s}    {'cpu':>8s}")
    for name, (wall, cpu) in figures.items():
        print(f"  {name:36s} {wall * 1000:8.1f} ms {cpu * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
