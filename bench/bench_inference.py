"""Local inference on the CPU: orgide's engine against llama.cpp on the same GGUF, threads and prompt.

    .venv/bin/python bench/bench_inference.py [--model PATH] [--threads 2] [--repeats 5]
        [--path model|engine] [--packed-cache warm|cold] [--llama-python /work/benchenv/bin/python]

llama.cpp runs through llama-cpp-python, an optional bench-only install kept out of the lock:
    python3 -m venv /work/benchenv && /work/benchenv/bin/pip install llama-cpp-python==0.3.36
(built from source; 10+ minutes on two cores). Without it only orgide's figures print.

orgide's side is, by `--path`: `model` (default), the model's single-sequence path
(`LlamaModel.forward` with its KV cache); `engine`, one request through the batching engine
(`LocalModel.generate`: what `orgide generate`, the server and the `local/` provider run; its
prefill CPU is not separable, so only total CPU per generated token prints).
Each engine runs in its own process (so peak resident memory is its own), the two alternate, and
each figure is the median of `--repeats` runs, every run printed. CPU time (process CPU time,
all threads) is printed beside wall time: it is much steadier when other jobs compete for the
cores. Prints prefill tokens/s (512-token prompt), batch-1 decode tokens/s (128 tokens, greedy),
load seconds, peak resident memory, and achieved memory bandwidth (model bytes x decode
tokens/s), with the ratio orgide / llama.cpp for each.

Before its figures, orgide's worker loads its compiled kernels by running a tiny generated model through the
same path (numba's disk cache; LLVM, which loads the machine code, holds ~70 MiB): like torch's libraries and
llama.cpp's, they are the runtime's, the same for any model. Their load time and memory print apart.

orgide's worker runs with OMP_WAIT_POLICY=PASSIVE unless `--omp-wait-policy` (or the environment)
says otherwise, as the `orgide` command sets it: torch's idle OpenMP threads sleep instead of
spinning. llama.cpp runs with the environment as it is (its own default: spinning).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PREFILL_CHUNK = 256  # tokens per forward while prefilling
PROMPT_SEED_TEXT = (
    "The history of the printing press begins in the fifteenth century, when Johannes Gutenberg combined movable "
    "metal type, oil-based ink and a wooden screw press. Before his invention, books were copied by hand. "
)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def prompt_ids(model_path: Path, count: int) -> list[int]:
    sys.path.insert(0, str(ROOT))
    from kernels._gguf_file import GGUFFile
    from kernels._tokenizer import GGUFTokenizer

    with GGUFFile(model_path) as file:
        tokenizer = GGUFTokenizer(file.metadata)
    ids: list[int] = []
    while len(ids) < count:
        ids += tokenizer.encode(PROMPT_SEED_TEXT)
    return ids[:count]


def load_kernel_code(engine_path: bool) -> tuple[float, float]:
    """Load every compiled kernel (from numba's disk cache; compiled where it is cold) by running a tiny generated
    model through the measured path: the kernels' machine code, and LLVM which loads it, are the runtime's (as
    torch's libraries are, and llama.cpp's), the same for any model. (seconds, MiB resident it added)."""
    from kernels import LocalModel, SamplingParams, TinyModelSpec, write_tiny_llama_gguf
    from kernels._gguf_file import GGUFFile
    from kernels._model import LlamaModel

    before, started = current_rss_mb(), time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        path = write_tiny_llama_gguf(Path(folder) / "tiny.gguf", TinyModelSpec(hidden=256, heads=4, kv_heads=2, ffn=512))
        if engine_path:
            local = LocalModel.load(path)
            local.generate(list(range(3, 60)), SamplingParams(max_tokens=4, ignore_eos=True))
            local.close()
        else:
            file = GGUFFile(path)
            model = LlamaModel.load(file, len(file.metadata["tokenizer.ggml.tokens"]))
            cache = model.new_cache(80)
            for token_ids in (list(range(3, 60)), [5], [6]):
                model.forward(token_ids, cache)
    return time.perf_counter() - started, current_rss_mb() - before


def worker_orgide_engine(model_path: Path, threads: int, ids: list[int], decode: int) -> dict[str, float]:
    """The product's path (`orgide generate`, the server, the `local/` provider): one request through the
    batching engine (LocalModel: scheduler, paged KV, sampler), greedy, stop tokens ignored."""
    import torch

    torch.set_num_threads(threads)
    sys.path.insert(0, str(ROOT))
    from kernels import LocalModel, SamplingParams

    kernels_s, kernels_mb = load_kernel_code(engine_path=True)
    baseline = current_rss_mb()
    started, started_cpu = time.perf_counter(), time.process_time()
    local = LocalModel.load(model_path)
    load, load_cpu = time.perf_counter() - started, time.process_time() - started_cpu
    cpu = time.process_time()
    result = local.generate(ids, SamplingParams(max_tokens=decode, ignore_eos=True))
    total_cpu = time.process_time() - cpu
    local.close()
    config = local.model.config
    return {
        "load_s": load,
        "load_cpu_s": load_cpu,
        "prefill_tps": len(ids) / result.prefill_seconds,
        "decode_tps": (result.completion_tokens - 1) / result.decode_seconds,
        "prefill_cpu_ms_per_token": float("nan"),  # the engine's thread does both: only the total is known
        "decode_cpu_ms_per_token": total_cpu / result.completion_tokens * 1e3,
        "peak_rss_mb": peak_rss_mb(),
        "baseline_rss_mb": baseline,
        "kernels_s": kernels_s,
        "kernels_mb": kernels_mb,
        "kv_mb": (len(ids) + decode) * config.layers * config.kv_heads * config.head_dim * 2 * 4 / 2**20,
        "linear_mode": 1.0,
    }


def worker_orgide(model_path: Path, threads: int, ids: list[int], decode: int) -> dict[str, float]:
    """The model's own single-sequence path: load (tokenizer + weights), chunked prefill, greedy decode."""
    import torch

    torch.set_num_threads(threads)
    sys.path.insert(0, str(ROOT))
    from kernels._gguf_file import GGUFFile
    from kernels._model import LlamaModel
    from kernels._tokenizer import METADATA_ARRAYS, GGUFTokenizer

    kernels_s, kernels_mb = load_kernel_code(engine_path=False)
    baseline = current_rss_mb()
    started, started_cpu = time.perf_counter(), time.process_time()
    file = GGUFFile(model_path)
    tokenizer = GGUFTokenizer(file.metadata, model_path)
    file.forget(METADATA_ARRAYS)  # as LocalModel.load does
    model = LlamaModel.load(file, tokenizer.vocab_size, max_positions=len(ids) + decode + 8)
    file.release_pages()
    load, load_cpu = time.perf_counter() - started, time.process_time() - started_cpu
    cache = model.new_cache(len(ids) + decode + 8)
    wall, cpu = time.perf_counter(), time.process_time()
    for begin in range(0, len(ids), PREFILL_CHUNK):
        logits = model.forward(ids[begin : begin + PREFILL_CHUNK], cache)
    token = int(logits[-1].argmax())
    prefill, prefill_cpu = time.perf_counter() - wall, time.process_time() - cpu
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(decode - 1):
        token = int(model.forward([token], cache)[-1].argmax())
    decode_s, decode_cpu = time.perf_counter() - wall, time.process_time() - cpu
    config = model.config
    return {
        "load_s": load,
        "load_cpu_s": load_cpu,
        "prefill_tps": len(ids) / prefill,
        "decode_tps": (decode - 1) / decode_s,
        "prefill_cpu_ms_per_token": prefill_cpu / len(ids) * 1e3,
        "decode_cpu_ms_per_token": decode_cpu / (decode - 1) * 1e3,
        "peak_rss_mb": peak_rss_mb(),
        "baseline_rss_mb": baseline,
        "kernels_s": kernels_s,
        "kernels_mb": kernels_mb,
        "kv_mb": (len(ids) + decode) * config.layers * config.kv_heads * config.head_dim * 2 * 4 / 2**20,
        "linear_mode": 1.0 if model.linear_mode == "fused" else 0.0,
    }


def worker_llamacpp(model_path: Path, threads: int, ids: list[int], decode: int) -> dict[str, float]:
    import numpy as np
    from llama_cpp import Llama

    baseline = current_rss_mb()
    started, started_cpu = time.perf_counter(), time.process_time()
    llm = Llama(str(model_path), n_threads=threads, n_threads_batch=threads, n_ctx=len(ids) + decode + 8,
                n_batch=512, verbose=False)  # fmt: skip
    load, load_cpu = time.perf_counter() - started, time.process_time() - started_cpu
    last_logits = lambda: np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),))  # noqa: E731
    wall, cpu = time.perf_counter(), time.process_time()
    llm.eval(ids)
    token = int(np.argmax(last_logits()))
    prefill, prefill_cpu = time.perf_counter() - wall, time.process_time() - cpu
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(decode - 1):
        llm.eval([token])
        token = int(np.argmax(last_logits()))
    decode_s, decode_cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "load_s": load,
        "load_cpu_s": load_cpu,
        "prefill_tps": len(ids) / prefill,
        "decode_tps": (decode - 1) / decode_s,
        "prefill_cpu_ms_per_token": prefill_cpu / len(ids) * 1e3,
        "decode_cpu_ms_per_token": decode_cpu / (decode - 1) * 1e3,
        "peak_rss_mb": peak_rss_mb(),
        "baseline_rss_mb": baseline,
    }


def run_worker(python: str, engine: str, args: argparse.Namespace, ids: list[int]) -> dict[str, float] | None:
    command = [python, __file__, "--worker", engine, "--model", str(args.model), "--threads", str(args.threads),
               "--decode-tokens", str(args.decode_tokens), "--ids", ",".join(map(str, ids)), "--path", args.path]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if engine == "orgide" and args.omp_wait_policy != "inherit":
        env["OMP_WAIT_POLICY"] = args.omp_wait_policy
    with tempfile.TemporaryDirectory() as empty:
        if engine == "orgide" and args.packed_cache == "cold":
            env["XDG_CACHE_HOME"] = empty  # no packed weights: this load packs them (and writes them here)
        done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        print(f"  {engine} failed: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prompt-tokens", type=int, default=512)
    parser.add_argument("--decode-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--llama-python", default="/work/benchenv/bin/python")
    parser.add_argument("--omp-wait-policy", default=os.environ.get("OMP_WAIT_POLICY", "PASSIVE"),
                        choices=["PASSIVE", "ACTIVE", "passive", "active", "inherit"],
                        help="orgide's OpenMP wait policy (default PASSIVE, as the orgide command sets it; inherit: as the environment says, spinning if unset)")  # fmt: skip
    parser.add_argument("--path", default="model", choices=["model", "engine"],
                        help="orgide's side: model (LlamaModel.forward, part 1's single-sequence path), "
                             "engine (one request through LocalModel, the product's path)")  # fmt: skip
    parser.add_argument("--packed-cache", default="warm", choices=["warm", "cold"],
                        help="warm: orgide maps the packed weights an earlier load kept (the usual case; the very first "
                             "run packs them); cold: every orgide run starts without them and packs")  # fmt: skip
    parser.add_argument("--worker", choices=["orgide", "llamacpp"], help=argparse.SUPPRESS)
    parser.add_argument("--ids", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.model is None:
        sys.path.insert(0, str(ROOT))
        from kernels import DEFAULT_MODEL, resolve_model

        args.model = resolve_model(DEFAULT_MODEL)
    if args.worker:
        ids = [int(i) for i in args.ids.split(",")]
        if args.worker == "llamacpp":
            figures = worker_llamacpp(args.model, args.threads, ids, args.decode_tokens)
        elif args.path == "engine":
            figures = worker_orgide_engine(args.model, args.threads, ids, args.decode_tokens)
        else:
            figures = worker_orgide(args.model, args.threads, ids, args.decode_tokens)
        print(json.dumps(figures))
        return 0

    ids = prompt_ids(args.model, args.prompt_tokens)
    have_llama = Path(args.llama_python).exists()
    model_mb = args.model.stat().st_size / 2**20
    print(f"model {args.model.name} ({model_mb:.1f} MiB), {args.threads} threads, prompt {len(ids)} tokens, "
          f"decode {args.decode_tokens} tokens, median of {args.repeats}; load average {os.getloadavg()[0]:.1f}; "
          f"orgide OMP_WAIT_POLICY {args.omp_wait_policy}, path {args.path}, packed cache {args.packed_cache}")  # fmt: skip
    ours: list[dict[str, float]] = []
    theirs: list[dict[str, float]] = []
    for repeat in range(args.repeats):
        order = ["orgide", "llamacpp"] if repeat % 2 == 0 else ["llamacpp", "orgide"]
        for engine in order:
            if engine == "orgide":
                result = run_worker(sys.executable, "orgide", args, ids)
                ours += [result] if result else []
            elif have_llama:
                result = run_worker(args.llama_python, "llamacpp", args, ids)
                theirs += [result] if result else []
        last = [f"{name} prefill {r[-1]['prefill_tps']:.1f} decode {r[-1]['decode_tps']:.1f} tok/s "
                f"(CPU ms/token {r[-1]['prefill_cpu_ms_per_token']:.2f} / {r[-1]['decode_cpu_ms_per_token']:.2f}), "
                f"load {r[-1]['load_s']:.2f} s, peak {r[-1]['peak_rss_mb']:.0f} MiB"
                for name, r in (("orgide", ours), ("llama.cpp", theirs)) if r]  # fmt: skip
        print(f"  run {repeat + 1}: " + "; ".join(last))
    if not ours:
        return 1
    a = median(ours)
    b = median(theirs) if theirs else None
    rows = [
        ("prefill tokens/s (512-token prompt)", "prefill_tps", "{:.1f}"),
        ("decode tokens/s (batch 1, 128 tokens)", "decode_tps", "{:.1f}"),
        ("prefill CPU ms per token (all threads)", "prefill_cpu_ms_per_token", "{:.2f}"),
        ("decode CPU ms per token (all threads)", "decode_cpu_ms_per_token", "{:.2f}"),
        ("load seconds", "load_s", "{:.2f}"),
        ("load CPU seconds", "load_cpu_s", "{:.2f}"),
        ("peak resident memory MiB", "peak_rss_mb", "{:.0f}"),
        ("resident memory before loading MiB", "baseline_rss_mb", "{:.0f}"),
    ]
    print(f"\n{'figure':42} {'orgide':>10} {'llama.cpp':>10} {'ratio':>7}")
    for label, key, fmt in rows:
        mine = fmt.format(a[key])
        peer = fmt.format(b[key]) if b else "-"
        ratio = f"{a[key] / b[key]:.2f}x" if b and b[key] else "-"
        print(f"{label:42} {mine:>10} {peer:>10} {ratio:>7}")
    bandwidth = lambda r: model_mb * r["decode_tps"] / 1024  # noqa: E731 - GiB/s
    print(f"{'achieved bandwidth GiB/s (model x decode)':42} {bandwidth(a):>10.2f} {(f'{bandwidth(b):.2f}' if b else '-'):>10}")
    budget = 1.5 * model_mb + a["kv_mb"]
    print(f"\nmemory target: peak <= 1.5 x GGUF + KV = {budget:.0f} MiB; orgide peak {a['peak_rss_mb']:.0f} MiB, "
          f"of which {a['peak_rss_mb'] - a['baseline_rss_mb']:.0f} MiB above the runtime it starts with (Python, torch and "
          f"the compiled kernels, loaded in {a['kernels_s']:.2f} s before the figures above through a tiny generated model: "
          f"{a['kernels_mb']:.0f} MiB of it, mostly LLVM, which loads them)")  # fmt: skip
    if a["linear_mode"] != 1.0:
        print("warning: the fused int4 path failed its self-test; figures are for the dequantising fallback")
    return 0


if __name__ == "__main__":
    sys.exit(main())
