"""Where a decode step of the part 1 path goes, and the one-call decode against the per-layer path.

    .venv/bin/python bench/bench_decode_step.py [--model PATH] [--threads 2] [--prompt-tokens 512] [--steps 100] [--rounds 3]

After a prompt, greedy decode steps run `--rounds` times each way, alternating: with every layer in one
compiled call (kernels/_decode_layers.py) and op by op (`LlamaModel.decode_layers = None`); the logits of the
two must be the same bits. Prints the median ms a step of each round, then, op by op, what each op of a
step takes (each call timed inside the step, summed over the step). Set OMP_WAIT_POLICY=PASSIVE as
`orgide` does, or torch's OpenMP threads spin beside the kernels' workers after a prompt.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from kernels import DEFAULT_MODEL, resolve_model  # noqa: E402
from kernels import _fused_cpu as fused  # noqa: E402
from kernels._gguf_file import GGUFFile  # noqa: E402
from kernels._kernel_jobs import set_threads  # noqa: E402
from kernels._model import LlamaModel  # noqa: E402
from kernels._tokenizer import GGUFTokenizer  # noqa: E402
from kernels._weights import LinearGroup  # noqa: E402


def decode(model: LlamaModel, prompt: list[int], steps: int) -> tuple[torch.Tensor, list[float]]:
    """Greedy steps after `prompt`: (their logits [steps, V], seconds a step)."""
    cache = model.new_cache(len(prompt) + steps + 1)
    for start in range(0, len(prompt), 256):
        logits = model.forward(prompt[start : start + 256], cache)
    rows, times = [], []
    for _ in range(steps):
        started = time.perf_counter()
        logits = model.forward([int(logits[-1].argmax())], cache)
        times.append(time.perf_counter() - started)
        rows.append(logits)
    return torch.cat(rows), times


def per_op(model: LlamaModel, prompt: list[int], steps: int) -> tuple[Counter[str], float]:
    """Seconds a step of each op of the per-layer path (each call timed where the step makes it), and the mean step."""
    spent: Counter[str] = Counter()
    names = {id(group): name for layer in model.layers for name, group in
             (("qkv", layer.qkv), ("attn_output", layer.attn_output), ("gate_up", layer.gate_up), ("down", layer.down))}  # fmt: skip
    originals = {name: getattr(fused, name) for name in ("rms_norm", "attention_inputs", "swiglu")}
    whole, attention = LinearGroup.whole, LlamaModel._decode_attention

    def timed(label: str, call):  # type: ignore[no-untyped-def]
        def run(*args, **kwargs):  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - started

        return run

    cache = model.new_cache(len(prompt) + steps + 1)
    for start in range(0, len(prompt), 256):
        logits = model.forward(prompt[start : start + 256], cache)
    for name, call in originals.items():
        setattr(fused, name, timed(name, call))
    LlamaModel._decode_attention = timed("decode attention", attention)  # type: ignore[method-assign]
    LinearGroup.whole = lambda self, x: timed(names.get(id(self), "output head"), whole)(self, x)  # type: ignore[method-assign]
    times = []
    try:
        for _ in range(steps):
            started = time.perf_counter()
            logits = model.forward([int(logits[-1].argmax())], cache)
            times.append(time.perf_counter() - started)
    finally:
        for name, call in originals.items():
            setattr(fused, name, call)
        LinearGroup.whole, LlamaModel._decode_attention = whole, attention  # type: ignore[method-assign]
    return Counter({label: seconds / steps for label, seconds in spent.items()}), statistics.fmean(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prompt-tokens", type=int, default=512)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    path = args.model or resolve_model(DEFAULT_MODEL)
    torch.set_num_threads(args.threads)
    set_threads(args.threads)
    file = GGUFFile(path)
    model = LlamaModel.load(file, GGUFTokenizer(file.metadata, path).vocab_size)
    program = model.decode_layers
    if program is None:
        print("this model's layers run op by op only (a linear that is not one group-code weight)")
        return 1
    prompt = [100 + i % 1000 for i in range(args.prompt_tokens)]
    decode(model, prompt, 2)  # compile or load every kernel
    print(f"{path.name}, {args.threads} threads, {args.prompt_tokens}-token prompt, {args.steps} greedy steps a round")
    for round_ in range(args.rounds):
        one, one_times = decode(model, prompt, args.steps)
        model.decode_layers = None
        each, each_times = decode(model, prompt, args.steps)
        model.decode_layers = program
        print(f"  round {round_ + 1}: one call {statistics.median(one_times) * 1e3:.2f} ms a step, "
              f"op by op {statistics.median(each_times) * 1e3:.2f}; logits the same bits: {torch.equal(one, each)}")  # fmt: skip
    model.decode_layers = None
    ops, step = per_op(model, prompt, args.steps)
    model.decode_layers = program
    print(f"\nop by op, ms a step (mean step {step * 1e3:.2f}):")
    for label, seconds in ops.most_common():
        print(f"  {label:18} {seconds * 1e3:7.3f}")
    print(f"  {'the rest':18} {(step - sum(ops.values())) * 1e3:7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
