"""The executors side by side: a 1,000-agent scripted broadcast org (the entry sends to every agent, each
replies once) run by the asyncio executor and by the Ray executor on a local Ray instance, with 1 and 2
host processes.

    .venv/bin/python bench/bench_executors.py [--agents 1000] [--concurrency 64]

Prints figures; asserts nothing about speed. Wall time is the run's; "CPU" is this process's CPU time (the
runner: scheduling, events, log), which for Ray does not include the host processes. Ray is started once
and its hosts are warmed by a small run first, so the figures are for a running cluster; the start-up
time is printed on its own. The machine may be shared: compare CPU beside wall.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_run_engine import broadcast_org  # noqa: E402
from orgruntime.llm import prepare  # noqa: E402
from orgruntime.run import LLMCallFinished, MessageSent, RunConfig, Runner, ray_executor  # noqa: E402


def timed_run(org, config: RunConfig, runs_dir: Path) -> tuple[float, float, int, int, str]:
    async def main():
        stream = Runner(config).stream(org, "everyone report", runs_dir=runs_dir)
        messages = calls = 0
        async for event in stream:
            messages += isinstance(event, MessageSent)
            calls += isinstance(event, LLMCallFinished)
        return messages, calls, stream.outcome.status if stream.outcome else "?"

    wall, cpu = time.perf_counter(), time.process_time()
    messages, calls, status = asyncio.run(main())
    return time.perf_counter() - wall, time.process_time() - cpu, messages, calls, status


def report(label: str, wall: float, cpu: float, messages: int, calls: int, status: str) -> None:
    print(f"{label:<28} {status:<10} {messages:>6} msgs {calls:>6} calls  wall {wall:7.2f} s  CPU {cpu:7.2f} s  "
          f"{1000 * wall / messages:6.2f} ms wall/msg  {1000 * cpu / messages:6.2f} ms CPU/msg  (load {os.getloadavg()[0]:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    prepare()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        org = broadcast_org(root, args.agents)
        small = broadcast_org(root / "small", 4) if (root / "small").mkdir() is None else None
        print(f"{args.agents}-agent broadcast org, max_concurrency {args.concurrency}; load average {os.getloadavg()[0]:.1f}")
        report("asyncio (local executor)", *timed_run(org, RunConfig(max_concurrency=args.concurrency, fsync=False), root / "local"))

        import ray

        started = time.perf_counter()
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False, _node_ip_address="127.0.0.1")
        print(f"ray.init of a local instance: {time.perf_counter() - started:.2f} s")
        try:
            for hosts in (1, 2):
                config = RunConfig(max_concurrency=args.concurrency, fsync=False, executor=ray_executor(hosts=hosts))
                warm = timed_run(small, config, root / f"warm{hosts}")
                print(f"  warm-up run (starts {hosts} host(s), imports litellm there): {warm[0]:.2f} s")
                report(f"ray, {hosts} host process(es)", *timed_run(org, config, root / f"ray{hosts}"))
        finally:
            ray.shutdown()


if __name__ == "__main__":
    main()
