"""The org workload on the batching engine: many agents sharing a long prefix, against the engine
serving them one at a time, part 1's single-sequence path, and llama.cpp.

    .venv/bin/python bench/bench_engine.py [--model PATH] [--threads 2] [--agents 8 16]
        [--prefix-tokens 1000] [--tail-tokens 30] [--decode-tokens 64]
        [--llama-python /work/benchenv/bin/python]

Each agent's prompt is one shared org brief (`--prefix-tokens`) plus its own question
(`--tail-tokens`); each generates `--decode-tokens` tokens greedily (stop tokens ignored).
Scenarios, each in its own process:
  engine      all agents submitted at once to one LocalModel (continuous batching, prefix cache)
  serial      the same LocalModel, one request after another (prefix cache, no batching)
  part1       LlamaModel.forward over a fresh contiguous cache per request (no sharing, no batching)
  llama.cpp   llama-cpp-python, one request after another on the same GGUF and threads, keeping
              the longest prefix shared with the previous request's tokens in its KV cache
  json        the engine with every agent's answer constrained to the run engine's action schema
  exact       the engine with decode attention sequence by sequence (TorchOps(share_prefix=False): the
              single-sequence forward's numbers) instead of over the shared prefix's pages together
Prints wall seconds, process CPU seconds (all threads; steadier than wall on a shared machine),
aggregate generated tokens/s, aggregate decode tokens/s (tokens after each first one over the time
the streams decode: for the engine, from the first first token to the last token), time to first
token (first request and median of the rest), and for the engine the KV pages it used against what
unshared caches would hold.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BRIEF = (
    "Org brief. We are a small product team building a web application for local bakeries. The CEO sets "
    "priorities, the engineer writes the code, the reviewer checks every change before it ships, and the "
    "designer owns the look of each page. Messages must be short and concrete; every request names its owner, "
    "its deadline and what done means. We never ship without a review. Customers value speed, a clear menu, "
    "online ordering and honest prices. "
)
ACTION_SCHEMA = {
    "type": "object",
    "properties": {
        "reply": {"type": ["string", "null"]},
        "actions": {"type": "array", "items": {"anyOf": [
            {"type": "object", "properties": {"name": {"const": "send_message"}, "arguments": {"type": "object",
             "properties": {"to": {"type": "string"}, "text": {"type": "string"}}, "required": ["to", "text"]}},
             "required": ["name", "arguments"], "additionalProperties": False},
            {"type": "object", "properties": {"name": {"const": "finish"}, "arguments": {"type": "object",
             "properties": {"done": {"type": "boolean"}}, "required": ["done"]}},
             "required": ["name", "arguments"], "additionalProperties": False}]}},
    },
    "required": ["reply", "actions"],
    "additionalProperties": False,
}  # fmt: skip


def workload(model_path: Path, agents: int, prefix_tokens: int, tail_tokens: int) -> list[list[int]]:
    sys.path.insert(0, str(ROOT))
    from kernels._gguf_file import GGUFFile
    from kernels._tokenizer import GGUFTokenizer

    with GGUFFile(model_path) as file:
        tokenizer = GGUFTokenizer(file.metadata)
    prefix: list[int] = []
    while len(prefix) < prefix_tokens:
        prefix += tokenizer.encode(BRIEF, add_bos=False)
    prompts = []
    for agent in range(agents):
        tail: list[int] = []
        while len(tail) < tail_tokens:
            tail += tokenizer.encode(f"\nAgent {agent} asks: what should agent {agent} do first about task {agent * 7 + 3}?", add_bos=False)
        prompts.append(prefix[:prefix_tokens] + tail[:tail_tokens])
    return prompts


def _figures(wall: float, cpu: float, generated: int, ttfts: list[float], decode_tps: float) -> dict[str, float]:
    return {
        "decode_tps": decode_tps,
        "wall_s": wall,
        "cpu_s": cpu,
        "tokens_per_s": generated / wall,
        "ttft_first_s": ttfts[0],
        "ttft_rest_median_s": statistics.median(ttfts[1:]) if len(ttfts) > 1 else ttfts[0],
        "generated": generated,
    }


def worker_engine(model_path: Path, threads: int, prompts: list[list[int]], decode: int, mode: str) -> dict[str, float]:
    import torch

    torch.set_num_threads(threads)
    sys.path.insert(0, str(ROOT))
    from kernels import LocalModel, SamplingParams

    local = LocalModel.load(model_path)
    if mode == "exact":
        from kernels.engine import TorchOps

        local.engine.runner.ops = TorchOps(local.model.config.norm_eps, share_prefix=False)
    constrained = {"type": "json_schema", "json_schema": {"name": "agent_answer", "schema": ACTION_SCHEMA}}
    params = SamplingParams(max_tokens=decode, ignore_eos=mode != "json", response_format=constrained if mode == "json" else None)
    local.generate(prompts[0][:8], SamplingParams(max_tokens=2))  # warm the engine thread and the ops
    peak = [0]
    watching = threading.Event()

    def watch() -> None:
        while not watching.wait(0.01):
            peak[0] = max(peak[0], local.stats().pages_used)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    before = local.stats()
    wall, cpu = time.perf_counter(), time.process_time()
    if mode == "serial":
        results = [local.generate(p, params) for p in prompts]
        ttfts = [r.prefill_seconds for r in results]
    else:
        with ThreadPoolExecutor(len(prompts)) as pool:
            results = list(pool.map(lambda p: local.generate(p, params), prompts))
        ttfts = sorted(r.prefill_seconds for r in results)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    watching.set()
    stats = local.stats()
    page = local.engine.pages.page_size
    unshared = sum(-(-(len(p) + decode) // page) for p in prompts)
    decoded = sum(r.completion_tokens - 1 for r in results)  # tokens after each request's first
    if mode == "serial":
        decode_tps = decoded / sum(r.decode_seconds for r in results)
    else:  # all submitted at once: from the first first token to the last token, every stream's decoding together
        decode_tps = decoded / (max(r.prefill_seconds + r.decode_seconds for r in results) - min(r.prefill_seconds for r in results))
    figures = _figures(wall, cpu, sum(r.completion_tokens for r in results), ttfts, decode_tps)
    figures.update({
        "steps": stats.steps - before.steps,
        "prefill_tokens": stats.prefill_tokens - before.prefill_tokens,
        "cached_tokens": stats.cached_tokens - before.cached_tokens,
        "kv_pages_peak": peak[0],
        "kv_pages_unshared": unshared,
        "mask_s": stats.mask_seconds - before.mask_seconds,
        "closing_s": local.engine.grammars.closing_seconds,
    })  # fmt: skip
    if mode == "json":
        import jsonschema

        for r in results:
            jsonschema.validate(json.loads(r.text), ACTION_SCHEMA)
        figures["valid"] = len(results)
    local.close()
    return figures


def worker_part1(model_path: Path, threads: int, prompts: list[list[int]], decode: int) -> dict[str, float]:
    import torch

    torch.set_num_threads(threads)
    sys.path.insert(0, str(ROOT))
    from kernels import LocalModel

    model = LocalModel.load(model_path).model
    ttfts, generated, decoding = [], 0, 0.0
    wall, cpu = time.perf_counter(), time.process_time()
    for prompt in prompts:
        started = time.perf_counter()
        cache = model.new_cache(len(prompt) + decode + 1)
        for begin in range(0, len(prompt), 256):  # part 1's prefill chunk
            logits = model.forward(prompt[begin : begin + 256], cache)
        token = int(logits[-1].argmax())
        ttfts.append(time.perf_counter() - started)
        first = time.perf_counter()
        for _ in range(decode - 1):
            token = int(model.forward([token], cache)[-1].argmax())
        decoding += time.perf_counter() - first
        generated += decode
    return _figures(time.perf_counter() - wall, time.process_time() - cpu, generated, ttfts, (generated - len(prompts)) / decoding)


def worker_llamacpp(model_path: Path, threads: int, prompts: list[list[int]], decode: int) -> dict[str, float]:
    """Requests one after another; each keeps the longest prefix it shares with the previous one's
    tokens in the KV cache (what llama.cpp's server and llama-cpp-python's generate() do), then
    evaluates the rest and decodes greedily, as bench_inference.py does."""
    import numpy as np
    from llama_cpp import Llama

    llm = Llama(str(model_path), n_threads=threads, n_threads_batch=threads, n_ctx=max(map(len, prompts)) + decode + 8,
                n_batch=512, verbose=False)  # fmt: skip
    last_logits = lambda: np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),))  # noqa: E731
    ttfts, generated, previous, decoding = [], 0, [], 0.0
    wall, cpu = time.perf_counter(), time.process_time()
    for prompt in prompts:
        started = time.perf_counter()
        common = 0
        while common < min(len(previous), len(prompt) - 1) and previous[common] == prompt[common]:
            common += 1
        llm.n_tokens = common  # eval() drops the cached keys and values past n_tokens
        llm.eval(prompt[common:])
        token = int(np.argmax(last_logits()))
        ttfts.append(time.perf_counter() - started)
        tokens = [token]
        first = time.perf_counter()
        for _ in range(decode - 1):
            llm.eval([token])
            token = int(np.argmax(last_logits()))
            tokens.append(token)
        decoding += time.perf_counter() - first
        generated += len(tokens)
        previous = prompt + tokens[:-1]
    return _figures(time.perf_counter() - wall, time.process_time() - cpu, generated, ttfts, (generated - len(prompts)) / decoding)


def run_worker(python: str, scenario: str, args: argparse.Namespace, prompts: list[list[int]]) -> dict[str, float] | None:
    prompt_file = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench_engine_prompts_{os.getpid()}.json"
    prompt_file.write_text(json.dumps(prompts))
    command = [python, __file__, "--worker", scenario, "--model", str(args.model), "--threads", str(args.threads),
               "--prompts", str(prompt_file), "--decode-tokens", str(args.decode_tokens)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if done.returncode != 0:
        print(f"  {scenario} failed: {done.stderr.strip().splitlines()[-3:]}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--agents", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--prefix-tokens", type=int, default=1000)  # the org workload: a ~1,000-token brief
    parser.add_argument("--tail-tokens", type=int, default=30)
    parser.add_argument("--decode-tokens", type=int, default=64)
    parser.add_argument("--scenarios", nargs="+", default=["engine", "serial", "part1", "llama.cpp", "json"])
    parser.add_argument("--llama-python", default="/work/benchenv/bin/python")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--prompts", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.model is None:
        sys.path.insert(0, str(ROOT))
        from kernels import DEFAULT_MODEL, resolve_model

        args.model = resolve_model(DEFAULT_MODEL)
    if args.worker:
        prompts = json.loads(Path(args.prompts).read_text())
        if args.worker in ("engine", "serial", "json", "exact"):
            figures = worker_engine(args.model, args.threads, prompts, args.decode_tokens, args.worker)
        elif args.worker == "part1":
            figures = worker_part1(args.model, args.threads, prompts, args.decode_tokens)
        else:
            figures = worker_llamacpp(args.model, args.threads, prompts, args.decode_tokens)
        print(json.dumps(figures), flush=True)
        os._exit(0)  # no interpreter teardown under still-running native thread pools

    print(f"model {args.model.name}, {args.threads} threads, shared prefix {args.prefix_tokens} tokens + {args.tail_tokens} "
          f"per agent, {args.decode_tokens} generated per agent; load average {os.getloadavg()[0]:.1f} "
          "(a shared machine: wall figures are noisy, CPU seconds steadier)")  # fmt: skip
    for agents in args.agents:
        prompts = workload(args.model, agents, args.prefix_tokens, args.tail_tokens)
        print(f"\n{agents} agents")
        print(f"{'scenario':10} {'wall s':>7} {'CPU s':>7} {'tok/s':>7} {'decode':>7} {'TTFT 1st':>9} {'TTFT rest':>9}  notes")
        rows = {}
        for scenario in args.scenarios:
            python = args.llama_python if scenario == "llama.cpp" else sys.executable
            if scenario == "llama.cpp" and not Path(python).exists():
                continue
            r = run_worker(python, "llamacpp" if scenario == "llama.cpp" else scenario, args, prompts)
            if r is None:
                continue
            rows[scenario] = r
            notes = ""
            if "steps" in r:
                notes = (f"{r['steps']} steps, prefilled {r['prefill_tokens']}, cached {r['cached_tokens']}, "
                         f"KV pages peak {r['kv_pages_peak']} vs {r['kv_pages_unshared']} unshared "
                         f"({r['kv_pages_peak'] / r['kv_pages_unshared']:.2f}x)")  # fmt: skip
            if scenario == "json":
                notes += f", {r['generated']} tokens, all {r['valid']} valid, mask filling {r['mask_s'] / r['generated'] * 1e3:.2f} ms/token"
            print(f"{scenario:10} {r['wall_s']:7.2f} {r['cpu_s']:7.2f} {r['tokens_per_s']:7.1f} {r['decode_tps']:7.1f} {r['ttft_first_s']:9.3f} "
                  f"{r['ttft_rest_median_s']:9.3f}  {notes}")  # fmt: skip
        if "engine" in rows and "llama.cpp" in rows:
            e, l = rows["engine"], rows["llama.cpp"]  # noqa: E741
            print(f"engine / llama.cpp: wall {e['wall_s'] / l['wall_s']:.2f}x, tokens/s {e['tokens_per_s'] / l['tokens_per_s']:.2f}x, "
                  f"CPU {e['cpu_s'] / l['cpu_s']:.2f}x; aggregate decode {e['decode_tps']:.1f} tok/s = "
                  f"{e['decode_tps'] / l['decode_tps']:.2f}x llama.cpp's single stream")  # fmt: skip
        if "serial" in rows and "llama.cpp" in rows:
            print(f"warm time to first token (a request once the brief is cached, one after another): serial "
                  f"{rows['serial']['ttft_rest_median_s']:.3f} s, llama.cpp {rows['llama.cpp']['ttft_rest_median_s']:.3f} s")
        if "engine" in rows and "json" in rows:
            e, j = rows["engine"], rows["json"]
            per_step = lambda r: r["wall_s"] / r["steps"]  # noqa: E731
            cpu_per_step = lambda r: r["cpu_s"] / r["steps"]  # noqa: E731
            print(f"constrained decoding, measured inside the json run: closing checks {j['closing_s']:.2f} CPU s and mask filling "
                  f"{j['mask_s']:.2f} s (worker thread) = {(j['closing_s'] + j['mask_s']) / j['cpu_s']:.1%} of its CPU s")
            print(f"constrained decoding: {per_step(j) / per_step(e) - 1:+.1%} wall and {cpu_per_step(j) / cpu_per_step(e) - 1:+.1%} CPU "
                  "per engine step against unconstrained "
                  f"(the texts differ in length, so per-token figures are not comparable; the mask work itself: "
                  f"{j['mask_s'] / j['generated'] * 1e3:.2f} ms/token, on a worker thread during the forward)")  # fmt: skip
        if "engine" in rows and "exact" in rows:
            e, x = rows["engine"], rows["exact"]
            print(f"shared-prefix decode attention: engine / exact wall {e['wall_s'] / x['wall_s']:.2f}x, CPU {e['cpu_s'] / x['cpu_s']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
