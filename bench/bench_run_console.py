"""Run console under load, offscreen, on a qasync loop (the Qt loop is the asyncio loop, as in the IDE).

1. Streaming: 1,000 tokens a second for several seconds, spread over four agents, each answer closed
   (LLMCallFinished + MessageSent) every 200 tokens so the transcript grows. A probe measures event-loop
   lag every 10 ms; p50 / p99 / max are printed per second, so growth would show. Once from an empty
   transcript, once on top of 10,000 messages.
2. Memory of a 10,000-message transcript (about 300 characters each), shown and painted: RSS delta and
   tracemalloc peak.

Figures only; never pass/fail. Wall and CPU time are printed side by side (shared machines are noisy).

    .venv/bin/python bench/bench_run_console.py [--seconds 6] [--rate 1000] [--messages 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import qasync  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from orgruntime.run import AgentActivated, LLMCallFinished, MessageSent, RunStarted, TokenDelta  # noqa: E402
from widgets.run_console import RunConsole  # noqa: E402

AGENTS = ("ceo", "engineer", "reviewer", "writer")
WORDS = "the quick brown fox jumps over the lazy dog while agents stream their answers ".split()
PROBE_S = 0.010


class Clock:
    def __init__(self) -> None:
        self.seq = 0

    def next(self) -> dict:
        self.seq += 1
        return {"run_id": "bench", "seq": self.seq, "ts": time.time()}


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def message_events(clock: Clock, count: int, size: int = 300) -> list:
    text = (" ".join(WORDS) * (size // 60 + 1))[:size]
    events = [RunStarted(**clock.next(), org_name="Bench", entry="ceo", task="bench", models={a: "m" for a in AGENTS})]
    for number in range(count):
        sender, recipient = AGENTS[number % 4], AGENTS[(number + 1) % 4]
        events.append(MessageSent(**clock.next(), sender=sender, recipient=recipient, content=f"{number}: {text}", message_id=f"m{number + 1}"))
    return events


async def stream_tokens(console: RunConsole, clock: Clock, seconds: float, rate: int) -> list[list[float]]:
    """Feed `rate` tokens/s for `seconds`; return the probe's lags (s), one list per second."""
    lags: list[list[float]] = [[] for _ in range(int(seconds) + 1)]
    start = time.perf_counter()
    stop = False

    async def probe() -> None:
        while not stop:
            before = time.perf_counter()
            await asyncio.sleep(PROBE_S)
            lag = time.perf_counter() - before - PROBE_S
            lags[min(int(before - start), len(lags) - 1)].append(max(0.0, lag))

    prober = asyncio.ensure_future(probe())
    sent = 0
    per_agent = dict.fromkeys(AGENTS, 0)
    message_number = 10**6
    for agent in AGENTS:
        console.feed(AgentActivated(**clock.next(), agent=agent, message_ids=()))
    while (elapsed := time.perf_counter() - start) < seconds:
        due = int(elapsed * rate)
        while sent < due:
            agent = AGENTS[sent % 4]
            console.feed(TokenDelta(**clock.next(), agent=agent, text=WORDS[sent % len(WORDS)] + " "))
            per_agent[agent] += 1
            sent += 1
            if per_agent[agent] % 200 == 0:  # the answer is complete: it becomes a message card
                text = " ".join(WORDS[i % len(WORDS)] for i in range(200))
                console.feed(LLMCallFinished(**clock.next(), agent=agent, model="m", text=text, prompt_tokens=400, completion_tokens=200))
                message_number += 1
                console.feed(MessageSent(**clock.next(), sender=agent, recipient="ceo" if agent != "ceo" else "engineer", content=text, message_id=f"m{message_number}"))
        await asyncio.sleep(0.002)
    stop = True
    await prober
    return [window for window in lags if window]


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def report_lag(title: str, windows: list[list[float]], wall: float, cpu: float, rate: int, seconds: float) -> None:
    print(f"\n{title}: {rate} tokens/s for {seconds:g} s (wall {wall:.2f} s, CPU {cpu:.2f} s = {100 * cpu / wall:.0f}% of a core)")
    print("  second   probes   p50 ms   p99 ms   max ms")
    for second, window in enumerate(windows):
        print(f"  {second:6d} {len(window):8d} {1000 * statistics.median(window):8.2f} {1000 * percentile(window, 0.99):8.2f} {1000 * max(window):8.2f}")
    everything = [lag for window in windows for lag in window]
    print(f"  all      {len(everything):6d} {1000 * statistics.median(everything):8.2f} {1000 * percentile(everything, 0.99):8.2f} {1000 * max(everything):8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=10_000)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    app.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)

    async def run() -> None:
        for preload in (0, args.messages):
            console = RunConsole()
            console.resize(1100, 700)
            console.show()
            console.set_running(True)
            clock = Clock()
            if preload:
                for event in message_events(clock, preload):
                    console.feed(event)
            else:
                console.feed(RunStarted(**clock.next(), org_name="Bench", entry="ceo", task="bench", models={a: "m" for a in AGENTS}))
            console.live_model.flush()
            await asyncio.sleep(0.5)  # the first layout and paint
            wall, cpu = time.perf_counter(), time.process_time()
            windows = await stream_tokens(console, clock, args.seconds, args.rate)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            report_lag(f"streaming on top of {preload:,} messages", windows, wall, cpu, args.rate, args.seconds)
            print(f"  cards at the end: {len(console.live_model.cards):,}")
            console.close()
            console.deleteLater()
            await asyncio.sleep(0.2)

        gc.collect()
        await asyncio.sleep(0.2)
        rss_before = rss_bytes()
        tracemalloc.start()
        wall, cpu = time.perf_counter(), time.process_time()
        console = RunConsole()
        console.resize(1100, 700)
        console.show()
        clock = Clock()
        for event in message_events(clock, args.messages):
            console.feed(event)
        console.live_model.flush()
        await asyncio.sleep(0.5)
        console.view.scrollToTop()
        await asyncio.sleep(0.2)
        console.view.scrollToBottom()
        await asyncio.sleep(0.2)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        _, peak = tracemalloc.get_traced_memory()
        current, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        gc.collect()
        rss_after = rss_bytes()
        print(f"\n{args.messages:,}-message transcript, shown and painted (wall {wall:.2f} s, CPU {cpu:.2f} s)")
        print(f"  RSS delta {(rss_after - rss_before) / 2**20:.1f} MiB (process RSS {rss_after / 2**20:.0f} MiB)")
        print(f"  tracemalloc: {current / 2**20:.1f} MiB held, peak {peak / 2**20:.1f} MiB (Python objects only)")
        started = time.perf_counter()
        console.search.setText("4242:")
        filtered = console.view.source.rowCount()
        print(f"  search over {args.messages:,} cards: {1000 * (time.perf_counter() - started):.1f} ms ({filtered} shown)")
        started = time.perf_counter()
        console.resize(900, 700)
        await asyncio.sleep(0)
        console.view.doItemsLayout()
        print(f"  relayout after a width change: {1000 * (time.perf_counter() - started):.1f} ms")

    with loop:
        loop.run_until_complete(run())


if __name__ == "__main__":
    main()
