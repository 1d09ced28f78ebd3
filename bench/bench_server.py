"""The local server under concurrent clients: `orgide serve` against llama.cpp serving the same requests.

    .venv/bin/python bench/bench_server.py [--model PATH] [--threads 2] [--clients 1,4,8] [--max-tokens 64]
        [--repeats 2] [--llama-python /work/benchenv/bin/python]

orgide: `orgide serve` runs as a child process (OMP_NUM_THREADS=--threads); N clients (aiohttp)
stream /v1/completions at once, each with its own ~30-token chat prompt (token ids, the same for
both engines), greedy, `ignore_eos`, `--max-tokens` tokens each. Prints aggregate completion
tokens/s (all tokens / wall time of the round), time to first token p50/p99 (from sending the
request), and the server process's CPU seconds per round and per token.

llama.cpp: llama-cpp-python's own server (`python -m llama_cpp.server`) needs extra packages the
bench venv does not have, so llama.cpp runs in-process in a worker (same GGUF, threads, prompts,
greedy, end-of-sequence masked), serving the N requests one after another as a one-slot server
would: a request's time to first token includes its wait behind earlier ones. llama-cpp-python
keeps the previous prompt's KV and reuses the common prefix (the chat template's system prompt).

The machine is shared: wall figures move with other jobs; the CPU figures are steadier. Each
figure is the best round of `--repeats` (highest tokens/s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-server-token"
QUESTIONS = [
    "What is the capital of France?", "Write a haiku about the sea.", "List three uses of a paperclip.",
    "Explain recursion to a child.", "Translate 'good morning' into Spanish.", "Why is the sky blue?",
    "Name three prime numbers.", "What does a compiler do?", "Describe a cat in one sentence.",
    "How do plants make food?", "What is the boiling point of water?", "Give me a synonym for happy.",
    "Who wrote Hamlet?", "What is a black hole?", "Suggest a name for a dog.", "How many legs has a spider?",
]  # fmt: skip


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def process_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime, all threads


def prompts(model_path: Path, count: int) -> tuple[list[list[int]], list[int]]:
    """Chat-template token ids of `count` questions, and the model's stop token ids."""
    sys.path.insert(0, str(ROOT))
    from kernels._chat_template import render_chat
    from kernels._gguf_file import GGUFFile
    from kernels._tokenizer import GGUFTokenizer

    with GGUFFile(model_path) as file:
        tokenizer = GGUFTokenizer(file.metadata)
        template = file.metadata.get("tokenizer.chat_template")
    ids = []
    for question in (QUESTIONS * (count // len(QUESTIONS) + 1))[:count]:
        text = render_chat(template, [{"role": "user", "content": question}], bos_token=tokenizer.bos_token, eos_token=tokenizer.eos_token)
        ids.append(tokenizer.encode(text, add_bos=False))
    return ids, sorted(tokenizer.stop_ids)


# --- orgide serve ---------------------------------------------------------------------------------


def start_server(model: Path, threads: int) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(threads), "ORGIDE_API_TOKEN": TOKEN}
    process = subprocess.Popen([sys.executable, "-m", "ide", "serve", "--port", "0", "--model", str(model)],
                               stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)  # fmt: skip
    for line in process.stdout:  # type: ignore[union-attr]
        if "listening on" in line:
            return process, line.split("listening on", 1)[1].strip()
    raise SystemExit(f"orgide serve did not start (exit {process.wait()})")


async def one_request(session: Any, base_url: str, ids: list[int], max_tokens: int, sent: float) -> dict[str, float]:
    body = {"prompt": ids, "max_tokens": max_tokens, "temperature": 0, "ignore_eos": True, "stream": True,
            "stream_options": {"include_usage": True}}  # fmt: skip
    first = None
    tokens = 0
    async with session.post(base_url + "/completions", json=body, headers={"Authorization": f"Bearer {TOKEN}"}) as response:
        assert response.status == 200, await response.text()
        async for line in response.content:
            if not line.startswith(b"data: {"):
                continue
            chunk = json.loads(line[6:])
            if first is None and chunk["choices"] and chunk["choices"][0]["text"]:
                first = time.perf_counter()
            if chunk.get("usage"):
                tokens = chunk["usage"]["completion_tokens"]
    return {"ttft": (first or time.perf_counter()) - sent, "tokens": tokens}


async def orgide_round(base_url: str, warm: list[int], batch: list[list[int]], max_tokens: int, server_pid: int) -> dict[str, Any]:
    import aiohttp

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3600)) as session:
        await one_request(session, base_url, warm, 4, time.perf_counter())  # warm the connection and the engine
        cpu = process_cpu_seconds(server_pid)
        started = time.perf_counter()
        results = await asyncio.gather(*(one_request(session, base_url, ids, max_tokens, started) for ids in batch))
        wall = time.perf_counter() - started
        cpu = process_cpu_seconds(server_pid) - cpu
    return summary(wall, cpu, [r["ttft"] for r in results], sum(r["tokens"] for r in results))


def summary(wall: float, cpu: float, ttfts: list[float], tokens: int) -> dict[str, Any]:
    return {"wall_s": wall, "tokens": tokens, "tps": tokens / wall, "ttft_p50": percentile(ttfts, 50),
            "ttft_p99": percentile(ttfts, 99), "cpu_s": cpu, "cpu_ms_per_token": cpu / tokens * 1e3}  # fmt: skip


# --- llama.cpp (worker process) -------------------------------------------------------------------


def llamacpp_worker(model: Path, threads: int, warm: list[int], batches: dict[str, list[list[int]]], max_tokens: int,
                    stop_ids: list[int], repeats: int) -> dict[str, list[dict[str, Any]]]:  # fmt: skip
    from llama_cpp import Llama

    llm = Llama(str(model), n_threads=threads, n_threads_batch=threads, n_ctx=2048, n_batch=512, verbose=False)
    no_stop = {token: -1e9 for token in stop_ids}
    rounds: dict[str, list[dict[str, Any]]] = {}
    for clients, batch in batches.items():
        for _ in range(repeats):
            llm.create_completion(warm, max_tokens=4, temperature=0)  # warm up on a prompt no client sends
            cpu, started = time.process_time(), time.perf_counter()
            ttfts, tokens = [], 0
            for ids in batch:  # one slot: requests wait their turn, all sent at `started`
                first = None
                for piece in llm.create_completion(ids, max_tokens=max_tokens, temperature=0, stream=True, logit_bias=no_stop):
                    first = first or time.perf_counter()
                    tokens += 1 if piece["choices"][0]["text"] is not None else 0
                ttfts.append((first or time.perf_counter()) - started)
            rounds.setdefault(clients, []).append(summary(time.perf_counter() - started, time.process_time() - cpu, ttfts, tokens))
    return rounds


def run_llamacpp(python: str, args: argparse.Namespace, warm: list[int], batches: dict[int, list[list[int]]],
                 stop_ids: list[int]) -> dict[int, list[dict[str, Any]]] | None:  # fmt: skip
    job = json.dumps({"warm": warm, "batches": {str(k): v for k, v in batches.items()}, "stop_ids": stop_ids})
    command = [python, __file__, "--worker", "--model", str(args.model), "--threads", str(args.threads),
               "--max-tokens", str(args.max_tokens), "--repeats", str(args.repeats)]  # fmt: skip
    done = subprocess.run(command, input=job, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"llama.cpp worker failed: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    return {int(k): v for k, v in json.loads(done.stdout.strip().splitlines()[-1]).items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--clients", default="1,4,8")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--llama-python", default="/work/benchenv/bin/python")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        job = json.loads(sys.stdin.read())
        print(json.dumps(llamacpp_worker(args.model, args.threads, job["warm"], job["batches"], args.max_tokens, job["stop_ids"], args.repeats)))
        return 0
    if args.model is None:
        sys.path.insert(0, str(ROOT))
        from kernels import DEFAULT_MODEL, resolve_model

        args.model = resolve_model(DEFAULT_MODEL)
    counts = [int(n) for n in args.clients.split(",")]
    all_ids, stop_ids = prompts(args.model, max(counts) + 1)
    warm = all_ids.pop()
    batches = {n: all_ids[:n] for n in counts}
    print(f"model {args.model.name}, {args.threads} threads, clients {counts}, {args.max_tokens} tokens each (greedy, "
          f"ignore_eos), prompts {min(map(len, all_ids))}-{max(map(len, all_ids))} tokens, best of {args.repeats}; "
          f"load average {os.getloadavg()[0]:.1f} (shared machine)")  # fmt: skip

    process, base_url = start_server(args.model, args.threads)
    ours: dict[int, list[dict[str, Any]]] = {}
    try:
        for n in counts:
            for _ in range(args.repeats):
                r = asyncio.run(orgide_round(base_url, warm, batches[n], args.max_tokens, process.pid))
                ours.setdefault(n, []).append(r)
                print(f"  orgide, {n} clients: {r['tps']:.1f} tokens/s, TTFT p50 {r['ttft_p50']:.3f} s, CPU {r['cpu_s']:.2f} s", flush=True)
    finally:
        process.terminate()
        process.wait(timeout=30)
    theirs = run_llamacpp(args.llama_python, args, warm, batches, stop_ids) if Path(args.llama_python).exists() else None

    print(f"\n{'clients':>7} {'engine':10} {'tok/s':>7} {'wall s':>7} {'TTFT p50':>9} {'TTFT p99':>9} {'CPU s':>7} {'CPU ms/tok':>10}")
    for n in counts:
        for name, rounds in (("orgide", ours[n]), ("llama.cpp", (theirs or {}).get(n))):
            if not rounds:
                continue
            r = max(rounds, key=lambda r: r["tps"])
            print(f"{n:>7} {name:10} {r['tps']:>7.1f} {r['wall_s']:>7.2f} {r['ttft_p50']:>9.3f} {r['ttft_p99']:>9.3f} "
                  f"{r['cpu_s']:>7.2f} {r['cpu_ms_per_token']:>10.1f}")  # fmt: skip
        if theirs and n in theirs:
            a, b = max(ours[n], key=lambda r: r["tps"]), max(theirs[n], key=lambda r: r["tps"])
            print(f"{'':>7} {'ratio':10} {a['tps'] / b['tps']:>6.2f}x {'':>7} {a['ttft_p50'] / b['ttft_p50']:>8.2f}x "
                  f"{a['ttft_p99'] / b['ttft_p99']:>8.2f}x {'':>7} {a['cpu_ms_per_token'] / b['cpu_ms_per_token']:>9.2f}x")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
