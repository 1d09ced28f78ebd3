"""Prompt rows through float32 GEMMs on blockwise-dequantised weights (`LlamaModel.dense_prefill`)
against the fused int4 op, on the default model.

    .venv/bin/python bench/bench_dense_prefill.py [--model PATH] [--threads 2] [--repeats 3]
        [--chunks 8 32 64 256 512] [--agents 8] [--skip-engine]

1. One linear layer ([3072, 576], SmolLM2's gate_up), microseconds per call by row count: the
   fused op, and the dense path (dequantisation included: it is paid once per call).
2. The single-sequence forward (`LlamaModel.forward`) prefilling chunks of each `--chunks` size:
   milliseconds per chunk, fused and dense alternating, the median of `--repeats`.
3. The org workload on the batching engine (bench/bench_engine.py's `engine` scenario: `--agents`
   agents, a 1,000-token shared brief, 30-token questions, 64 generated tokens each), fused and
   dense, each in its own process, with its peak resident memory.
Wall time and process CPU time (all threads) print side by side: CPU time is the steadier figure
when other jobs share the cores. orgide's worker runs with OMP_WAIT_POLICY=PASSIVE, as `orgide` does.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "orgide/models/SmolLM2-135M-Instruct.Q4_1.gguf"
LAYER_ROWS = (1, 8, 16, 32, 64, 128, 256, 512)


def timed(call, repeats: int) -> tuple[float, float]:  # -> median (wall, cpu) seconds of one call
    call()
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        call()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def bench_layer(repeats: int) -> None:
    import numpy as np
    import torch
    from gguf import GGML_QUANT_SIZES
    from gguf import GGMLQuantizationType as Q

    from kernels._linear import Int4PackedLinear
    from kernels._quants import group_affine

    rng = np.random.default_rng(0)
    n, k = 3072, 576
    block, size = GGML_QUANT_SIZES[Q.Q4_1]
    raw = rng.integers(0, 256, size=(n * k // block, size), dtype=np.uint8)
    raw[:, 0:4] = rng.uniform(0.001, 0.02, (len(raw), 2)).astype(np.float16).view(np.uint8).reshape(-1, 4)
    affine = group_affine(raw.reshape(-1), Q.Q4_1, (n, k))
    assert affine is not None
    layer = Int4PackedLinear(affine)
    print(f"1. one [{n}, {k}] Q4_1 layer, us per call (wall / cpu)")
    for m in LAYER_ROWS:
        x = torch.randn(m, k)
        fused = timed(lambda: layer(x), repeats * 3)
        dense = timed(lambda: layer.prefill(x), repeats * 3)
        print(f"   M={m:4d}: fused {fused[0] * 1e6:8.0f} / {fused[1] * 1e6:8.0f}   dense {dense[0] * 1e6:8.0f} / {dense[1] * 1e6:8.0f}")


def bench_forward(model_path: Path, chunks: list[int], repeats: int) -> None:
    from kernels._gguf_file import GGUFFile
    from kernels._model import LlamaModel
    from kernels._tokenizer import GGUFTokenizer

    file = GGUFFile(model_path)
    tokenizer = GGUFTokenizer(file.metadata, model_path)
    model = LlamaModel.load(file, tokenizer.vocab_size, max_positions=2 * max(chunks) + 8)
    text = "The history of the printing press begins in the fifteenth century, when Gutenberg combined movable type. "
    ids: list[int] = []
    while len(ids) < max(chunks):
        ids += tokenizer.encode(text)
    print("2. LlamaModel.forward, ms per prefill chunk (wall / cpu), median of", repeats)
    for chunk in chunks:
        figures = {}
        for dense in (False, True):
            model.dense_prefill = dense
            figures[dense] = timed(lambda: model.forward(ids[:chunk], model.new_cache(chunk + 8)), repeats)
        (fw, fc), (dw, dc) = figures[False], figures[True]
        print(f"   {chunk:4d} tokens: fused {fw * 1e3:7.0f} / {fc * 1e3:7.0f}   dense {dw * 1e3:7.0f} / {dc * 1e3:7.0f}"
              f"   dense/fused cpu {dc / fc:.2f}")  # fmt: skip


def worker_engine(model_path: Path, threads: int, agents: int, dense: bool) -> dict[str, float]:
    """bench_engine's `engine` scenario with `dense_prefill` set on every model the worker loads."""
    sys.path.insert(0, str(ROOT / "bench"))
    import bench_engine

    from kernels._model import LlamaModel

    load = LlamaModel.load.__func__  # type: ignore[attr-defined]

    def loading(cls, *args, **kwargs):  # noqa: ANN001, ANN202
        model = load(cls, *args, **kwargs)
        model.dense_prefill = dense
        return model

    LlamaModel.load = classmethod(loading)  # type: ignore[method-assign]
    prompts = bench_engine.workload(model_path, agents, 1000, 30)
    figures = bench_engine.worker_engine(model_path, threads, prompts, 64, "engine")
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunks", type=int, nargs="+", default=[8, 32, 64, 256, 512])
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--skip-engine", action="store_true")
    parser.add_argument("--worker", choices=["fused", "dense"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(ROOT))
    if args.worker:
        print(json.dumps(worker_engine(args.model, args.threads, args.agents, args.worker == "dense")))
        return 0
    if not args.model.exists():
        print(f"no model at {args.model}: run `orgide models pull smollm2-135m-instruct`", file=sys.stderr)
        return 2
    print(f"threads {args.threads}, OMP_WAIT_POLICY {os.environ.get('OMP_WAIT_POLICY')}, load {os.getloadavg()[0]:.2f}")
    bench_layer(args.repeats)
    bench_forward(args.model, args.chunks, args.repeats)
    if args.skip_engine:
        return 0
    print(f"3. the org workload on the engine ({args.agents} agents, 1,000-token brief, 30-token questions, 64 tokens each)")
    for mode in ("fused", "dense", "fused", "dense"):
        command = [sys.executable, __file__, "--worker", mode, "--model", str(args.model), "--threads", str(args.threads),
                   "--agents", str(args.agents)]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        if done.returncode != 0:
            print(f"   {mode} failed: {done.stderr.strip().splitlines()[-3:]}")
            continue
        f = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"   {mode:5}: wall {f['wall_s']:6.2f} s  cpu {f['cpu_s']:6.2f} s  ttft first {f['ttft_first_s']:5.2f} s"
              f"  rest median {f['ttft_rest_median_s']:5.2f} s  steps {f['steps']}  peak RSS {f['peak_rss_mb']:.0f} MB"
              f"  (load {os.getloadavg()[0]:.2f})")  # fmt: skip
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    sys.exit(main())
