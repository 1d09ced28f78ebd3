"""One layer's decode attention call of the batching engine on the org workload's shape.

    .venv/bin/python bench/bench_decode_attention.py [--threads 1 2] [--agents 8 16] [--prefix 1000]
        [--tail 51] [--spread 0] [--repeats 40]

Builds the step a decode of `--agents` rows sees after the org brief: SmolLM2-135M's attention shape
(9 query heads, 3 key/value heads, head size 64), pages of 16 tokens, the brief's pages shared and
consecutive (the prefix cache's), each row's own pages scattered as the page manager hands them out
to rows decoding side by side (`--spread`: lengths differ by up to that many tokens). Times
`TorchOps.attention` on random keys and values, shared-prefix (`share_prefix=True`, the default)
and sequence by sequence (`exact`), with the caches flushed before each call as the layers' weights
flush them in a real step. Prints the fastest and the median call, wall and process CPU (all threads;
steadier on a shared machine).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from kernels.engine._step_plan import StepPlan

ROOT = Path(__file__).resolve().parents[1]
HEADS, KV_HEADS, HEAD_DIM, PAGE = 9, 3, 64, 16


def build_step(agents: int, prefix: int, tail: int, spread: int, seed: int = 0) -> tuple[StepPlan, int]:
    """The decode step's plan and the pages it uses."""
    from kernels.engine._scheduler import Batch, Chunk
    from kernels.engine._sequence import Sequence
    from kernels.engine._step_plan import plan_step

    rng = random.Random(seed)
    lengths = [prefix + tail + rng.randrange(spread + 1) for _ in range(agents)]
    shared_pages = prefix // PAGE
    tables = [list(range(shared_pages)) for _ in lengths]
    next_page = shared_pages
    for position in range(shared_pages * PAGE, max(lengths), PAGE):  # rows grow side by side: their pages interleave
        for table, length in zip(tables, lengths, strict=True):
            if position < length:
                table.append(next_page)
                next_page += 1
    chunks = [Chunk(Sequence(range(n), max_tokens=4, max_total_tokens=1 << 16), n - 1, 1, True) for n in lengths]
    plan = plan_step(Batch(tuple(chunks)), tables, PAGE)
    return plan, next_page


def time_calls(agents: int, args: argparse.Namespace) -> None:
    from kernels.engine import TorchOps
    from kernels.engine._ops import PagedKV

    plan, pages = build_step(agents, args.prefix, args.tail, args.spread)
    kv = PagedKV(1, pages + 64, PAGE, KV_HEADS, HEAD_DIM)
    kv.keys.normal_()
    kv.values.normal_()
    queries = torch.randn(agents, HEADS, HEAD_DIM)
    flush = torch.empty(16 << 20)  # 64 MiB, more than the last-level cache
    for name, ops in [("shared", TorchOps(1e-5)), ("exact", TorchOps(1e-5, share_prefix=False))]:
        walls, cpus = [], []
        with torch.inference_mode():
            for _ in range(3):
                ops.attention(kv, 0, queries, plan)
            for _ in range(args.repeats):
                flush.fill_(1.0)
                wall, cpu = time.perf_counter(), time.process_time()
                ops.attention(kv, 0, queries, plan)
                walls.append(time.perf_counter() - wall)
                cpus.append(time.process_time() - cpu)
        walls.sort()
        cpus.sort()
        middle = len(walls) // 2
        print(f"{agents:6} {torch.get_num_threads():7} {name:7} {walls[0] * 1e3:8.2f} {walls[middle] * 1e3:8.2f} "
              f"{cpus[0] * 1e3:8.2f} {cpus[middle] * 1e3:8.2f}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--agents", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--prefix", type=int, default=1000)  # the org brief, shared
    parser.add_argument("--tail", type=int, default=51)  # each agent's question and what it has generated so far
    parser.add_argument("--spread", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=40)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    print(f"one layer's decode attention, ms per call; context {args.prefix} shared + {args.tail}..{args.tail + args.spread} own")
    print(f"{'agents':>6} {'threads':>7} {'mode':7} {'wall min':>8} {'wall med':>8} {'CPU min':>8} {'CPU med':>8}")
    for threads in args.threads:
        torch.set_num_threads(threads)
        for agents in args.agents:
            time_calls(agents, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
