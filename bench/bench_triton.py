"""Triton kernels on a GPU: each kernel against its torch reference at SmolLM2-135M and Llama-3-8B shapes.

    python bench/bench_triton.py [--quick] [--json FILE]

Needs a CUDA or ROCm GPU (refuses otherwise: interpreter timings say nothing about GPU speed).
Times are CUDA-event medians from `triton.testing.do_bench` (L2 flushed between runs). Prints, per
kernel and shape: milliseconds, GB/s (bytes the kernel must move: weights, activations, KV pages
read, outputs written) and TFLOP/s for the matmuls, next to
  - the plain-torch reference (`kernels.triton.reference`, float32 arithmetic), and for the fused
    dequant-matmuls also
  - dequantise-then-matmul: the weights dequantised to the activation dtype on every call, then
    torch.matmul (what a framework without a fused kernel does), and
  - dense: torch.matmul on weights dequantised once (cuBLAS at 16-bit weights, 3.5x the bytes).
The device's measured copy bandwidth (read + write of a 1 GiB buffer) is printed first; the
decode GEMV's share of it is the figure the issue's ">= 70% of the memory-bandwidth limit" asks for.
Without --quick a sweep of GEMV and GEMM tile sizes follows (the defaults were chosen without a GPU).

    python bench/bench_triton.py --engine [--engine-only] [--model PATH] [--peak-gbs N] [--device cuda]

`--engine` adds the whole engine on the Triton path (kernels/engine/, `EngineConfig(device="cuda")`)
on a GGUF model (default: the cached SmolLM2-135M-Instruct Q4_1; `orgide models pull` fetches it):
  - batch-1 decode tokens/s (256 tokens after a short chat prompt) and its memory-bandwidth fraction:
    bytes read per token (every weight the step reads, plus the KV cache at the mean context) times
    tokens/s, over the card's peak (`--peak-gbs`, else a table of known cards) and over the measured
    copy bandwidth;
  - the org workload (bench/bench_engine.py's prompts: a ~1,000-token shared brief, a ~30-token
    question per agent, 64 generated tokens each) for 8 and 16 agents at once: wall time, aggregate
    tokens/s, time to first token.
Wall and process CPU seconds are printed side by side. `--device cpu` runs the same engine figures on
the CPU path (to check the script without a GPU; its bandwidth figures are not printed).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MODELS = {  # hidden, heads, kv_heads, head_dim, ffn, vocab
    "SmolLM2-135M": (576, 9, 3, 64, 1536, 49152),
    "Llama-3-8B": (4096, 32, 8, 128, 14336, 128256),
}
RESULTS: list[dict[str, object]] = []


def refuse_without_gpu() -> None:
    import kernels.triton as kt

    reason = kt.unavailable_reason()
    if reason:
        print(f"bench_triton: refusing to run: {reason}.\n"
              "These figures need a CUDA or ROCm GPU. On the CPU the kernels' correctness tests run through\n"
              "Triton's interpreter (tests/kernels/triton/), whose timings say nothing about GPU speed.", file=sys.stderr)  # fmt: skip
        sys.exit(2)


def timed(fn: Callable[[], object]) -> float:
    """Median milliseconds per call."""
    from triton.testing import do_bench

    return float(do_bench(fn, warmup=25, rep=100, return_mode="median"))


def report(kernel: str, shape: str, variant: str, ms: float, nbytes: float, flops: float = 0.0, **extra: object) -> None:
    gbs, tflops = nbytes / ms / 1e6, flops / ms / 1e9
    RESULTS.append({"kernel": kernel, "shape": shape, "variant": variant, "ms": ms, "GB/s": gbs, "TFLOP/s": tflops, **extra})
    flop_text = f" {tflops:8.2f} TFLOP/s" if flops else ""
    more = "".join(f" {k} {v}" for k, v in extra.items())
    print(f"  {kernel:<16} {shape:<34} {variant:<22} {ms:9.4f} ms {gbs:9.1f} GB/s{flop_text}{more}", flush=True)


def copy_bandwidth() -> float:
    source = torch.empty(2**30 // 2, dtype=torch.float16, device="cuda")
    target = torch.empty_like(source)
    ms = timed(lambda: target.copy_(source))
    gbs = 2 * source.numel() * 2 / ms / 1e6
    RESULTS.append({"kernel": "device copy", "shape": "1 GiB", "variant": "torch copy_", "ms": ms, "GB/s": gbs})
    print(f"device copy bandwidth (1 GiB read + 1 GiB written): {gbs:.0f} GB/s", flush=True)
    return gbs


def random_weight(qtype: str, rows: int, cols: int):  # noqa: ANN201
    import kernels.triton as kt
    from kernels.triton._quant_weight import BLOCK_BYTES

    raw = torch.randint(0, 256, (rows * cols // 32, BLOCK_BYTES[qtype]), dtype=torch.uint8, device="cuda")
    scales = (torch.rand(rows * cols // 32, 1, device="cuda") * 0.02 + 0.001).half()
    raw[:, 0:2] = scales.view(torch.uint8)
    if qtype == "Q4_1":
        raw[:, 2:4] = (-scales * 8).view(torch.uint8)
    return kt.pack_quant_weight(raw, qtype, (rows, cols))


def bench_matmuls(quick: bool, ceiling: float) -> None:
    import kernels.triton as kt
    from kernels.triton import reference

    print("\nfused dequant-matmul (float16 activations; GB/s counts weights + activations + outputs)")
    for model, (h, nh, nkv, d, f, vocab) in MODELS.items():
        shapes = {"qkv": ((nh + 2 * nkv) * d, h), "gate_up": (2 * f, h), "down": (h, f), "head": (vocab, h)}
        if quick:
            shapes = {"gate_up": shapes["gate_up"]}
        for qtype in ("Q4_0", "Q4_1", "Q8_0"):
            for name, (n, k) in shapes.items():
                weight = random_weight(qtype, n, k)
                dense = reference.dequantize(weight).half()  # [N, K]
                for m in (1, 512) if quick else (1, 8, 128, 512):
                    x = torch.randn(m, k, dtype=torch.float16, device="cuda")
                    moved = weight.nbytes + x.numel() * 2 + m * n * 2
                    flops = 2 * m * n * k
                    shape = f"{model} {name} {qtype} M{m} {n}x{k}"
                    ms = timed(lambda: kt.quant_matmul(x, weight))  # noqa: B023
                    extra = {"of_copy_bandwidth": f"{moved / ms / 1e6 / ceiling:.0%}"} if m == 1 else {}
                    report("quant_matmul", shape, "triton", ms, moved, flops, **extra)
                    report("quant_matmul", shape, "torch reference", timed(lambda: reference.quant_matmul(x, weight)), moved, flops)  # noqa: B023
                    report("quant_matmul", shape, "dequantise-then-matmul", timed(lambda: x @ reference.dequantize(weight).half().T), moved, flops)  # noqa: B023
                    report("quant_matmul", shape, "dense fp16 (cuBLAS)", timed(lambda: x @ dense.T), dense.numel() * 2 + x.numel() * 2 + m * n * 2, flops)  # noqa: B023
                del weight, dense


def sweep_tiles() -> None:
    """Tile sizes other than the launchers' defaults (chosen without a GPU), to guide their tuning."""
    from kernels.triton import _quant_gemm, _quant_gemv

    print("\ntile sweep, Llama-3-8B gate_up (28672 x 4096) and down (4096 x 14336), float16 (defaults marked *)")
    for qtype in ("Q4_0", "Q8_0"):
        for name, (n, k) in {"gate_up": (28672, 4096), "down": (4096, 14336)}.items():
            weight = random_weight(qtype, n, k)
            x = torch.randn(1, k, dtype=torch.float16, device="cuda")
            default = _quant_gemv.gemv_blocks(1, n, weight.qs.shape[1])
            for block_n in (4, 8, 16, 32):
                for block_b in (128, 256, 512):
                    ms = timed(lambda bn=block_n, bb=block_b: _quant_gemv.launch_quant_gemv(x, weight, None, block_n=bn, block_b=bb))  # noqa: B023
                    mark = "*" if (block_n, block_b) == default else ""
                    report("gemv tiles", f"{name} {qtype} M1", f"BN{block_n} BB{block_b}{mark}", ms, weight.nbytes + k * 2 + n * 2)
            x = torch.randn(512, k, dtype=torch.float16, device="cuda")
            default = _quant_gemm.gemm_blocks(512, torch.float16, qtype)[:3]
            for tiles in ((128, 64, 64), (128, 128, 64), (64, 128, 64), (128, 64, 32), (64, 64, 64)):
                ms = timed(lambda t=tiles: _quant_gemm.launch_quant_gemm(x, weight, None, block_m=t[0], block_n=t[1], block_k=t[2]))  # noqa: B023
                mark = "*" if tiles == default else ""
                report("gemm tiles", f"{name} {qtype} M512", "BM{} BN{} BK{}{}".format(*tiles, mark), ms, weight.nbytes + x.numel() * 2 + 512 * n * 2, 2 * 512 * n * k)
            del weight


def bench_elementwise(quick: bool) -> None:
    import kernels.triton as kt
    from kernels.triton import reference

    print("\nRMSNorm, RoPE, SwiGLU (float16; GB/s counts inputs read + outputs written)")
    for model, (h, nh, nkv, d, f, _) in MODELS.items():
        for m in (1, 512) if quick else (1, 64, 512, 4096):
            x, w = torch.randn(m, h, dtype=torch.float16, device="cuda"), torch.randn(h, dtype=torch.float16, device="cuda")
            shape = f"{model} [{m}, {h}]"
            for variant, fn in (("triton", kt.rms_norm), ("torch reference", reference.rms_norm)):
                report("rms_norm", shape, variant, timed(lambda fn=fn: fn(x, w, 1e-5)), 2 * x.numel() * 2 + h * 2)  # noqa: B023
            qk = torch.randn(m, nh + nkv, d, dtype=torch.float16, device="cuda")
            angles = torch.rand(8192, d // 2, device="cuda") * 6
            cos, sin = angles.cos(), angles.sin()
            positions = torch.randint(0, 8192, (m,), dtype=torch.int32, device="cuda")
            shape = f"{model} [{m}, {nh + nkv}, {d}]"
            for variant, fn in (("triton", kt.rope), ("torch reference", reference.rope)):
                report("rope", shape, variant, timed(lambda fn=fn: fn(qk, positions, cos, sin)), 2 * qk.numel() * 2 + m * d * 4)  # noqa: B023
            gate, up = torch.randn(m, f, dtype=torch.float16, device="cuda"), torch.randn(m, f, dtype=torch.float16, device="cuda")
            shape = f"{model} [{m}, {f}]"
            for variant, fn in (("triton", kt.swiglu), ("torch reference", reference.swiglu)):
                report("swiglu", shape, variant, timed(lambda fn=fn: fn(gate, up)), 3 * gate.numel() * 2)  # noqa: B023


def bench_attention(quick: bool) -> None:
    import torch.nn.functional as F

    import kernels.triton as kt
    from kernels.triton import reference

    print("\npaged decode attention (float16, 16-token pages scattered at random; GB/s counts K/V read)")
    page_size = 16
    for model, (_, nh, nkv, d, _, _) in MODELS.items():
        for batch, length in ((1, 1024), (16, 1024)) if quick else ((1, 1024), (1, 8192), (16, 1024), (64, 2048)):
            pages_each = length // page_size
            num_pages = batch * pages_each
            k_cache = torch.randn(num_pages, page_size, nkv, d, dtype=torch.float16, device="cuda")
            v_cache = torch.randn_like(k_cache)
            block_table = torch.randperm(num_pages, device="cuda").view(batch, pages_each).int()
            seq_lens = torch.full((batch,), length, dtype=torch.int32, device="cuda")
            q = torch.randn(batch, nh, d, dtype=torch.float16, device="cuda")
            moved = 2 * batch * length * nkv * d * 2
            shape = f"{model} B{batch} L{length} {nh}/{nkv} heads"
            scale = d**-0.5
            report("paged_attention", shape, "triton", timed(lambda: kt.paged_decode_attention(q, k_cache, v_cache, block_table, seq_lens, scale)), moved)  # noqa: B023
            if batch * length <= 16 * 1024:
                report("paged_attention", shape, "torch reference", timed(lambda: reference.paged_decode_attention(q, k_cache, v_cache, block_table, seq_lens, scale)), moved)  # noqa: B023

            def gathered_sdpa() -> torch.Tensor:  # gather each sequence's pages, then SDPA over [B, KVH, L, D]
                keys = k_cache[block_table.long()].view(batch, length, nkv, d).transpose(1, 2)  # noqa: B023
                values = v_cache[block_table.long()].view(batch, length, nkv, d).transpose(1, 2)  # noqa: B023
                return F.scaled_dot_product_attention(q[:, :, None, :], keys, values, enable_gqa=True)  # noqa: B023

            report("paged_attention", shape, "gather + torch SDPA", timed(gathered_sdpa), moved)
            del k_cache, v_cache


PEAK_GBS = {"H200": 4800, "H100 SXM": 3350, "H100 80GB HBM3": 3350, "H100 PCIe": 2000, "H100 NVL": 3900, "A100-SXM4-80GB": 2039,
            "A100 80GB PCIe": 1935, "A100-SXM4-40GB": 1555, "A100-PCIE-40GB": 1555, "L40S": 864, "L4": 300, "A10": 600,
            "RTX 4090": 1008, "RTX 3090": 936, "MI300X": 5300, "MI250X": 3277}  # fmt: skip  # datasheet GB/s


def nominal_peak(device_name: str) -> float | None:
    """The datasheet bandwidth of a known card (the longest table name found in torch's device name)."""
    matches = [name for name in PEAK_GBS if name.lower() in device_name.lower()]
    return float(PEAK_GBS[max(matches, key=len)]) if matches else None


def default_model() -> Path | None:
    from kernels import DEFAULT_MODEL, KernelsError, resolve_model

    try:
        return Path(resolve_model(DEFAULT_MODEL))
    except KernelsError:
        return None


def engine_figure(name: str, wall: float, cpu: float, **figures: object) -> None:
    RESULTS.append({"kernel": "engine", "shape": name, "wall_s": wall, "cpu_s": cpu, **figures})
    more = "".join(f"  {k} {v:.4g}" if isinstance(v, float) else f"  {k} {v}" for k, v in figures.items())
    print(f"  {name:<28} wall {wall:8.3f} s  cpu {cpu:8.3f} s{more}", flush=True)


def bench_engine(model_path: Path, device: str, peak: float | None, copy_gbs: float | None) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from bench.bench_engine import workload
    from kernels import LocalModel, SamplingParams
    from kernels.engine import DeviceModel, EngineConfig

    started = time.perf_counter()
    model = LocalModel.load(model_path, engine=EngineConfig(device=device))
    print(f"\nthe engine on {model.stats().backend}: {model_path.name}, loaded in {time.perf_counter() - started:.1f} s", flush=True)
    c = model.model.config
    prompt = model.encode_chat([{"role": "user", "content": "Write a long story about a bakery that ships bread to the moon."}])
    model.generate(prompt, SamplingParams(max_tokens=8, ignore_eos=True))  # compile and warm every kernel
    decode = 256
    wall, cpu = time.perf_counter(), time.process_time()
    result = model.generate(prompt + [1], SamplingParams(max_tokens=decode, ignore_eos=True))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rate = (result.completion_tokens - 1) / result.decode_seconds
    figures: dict[str, object] = {"tokens/s": rate, "ms/token": 1000 / rate}
    if isinstance(model.model, DeviceModel):
        kv_bytes = 2 * c.layers * c.kv_heads * c.head_dim * model.model.dtype.itemsize * (len(prompt) + decode / 2)  # keys + values at the mean context
        per_token = model.model.bytes_per_token() + kv_bytes
        figures["MB/token"] = per_token / 1e6
        figures["GB/s"] = per_token * rate / 1e9
        if peak:
            figures["of_peak"] = f"{per_token * rate / 1e9 / peak:.1%} of {peak:.0f} GB/s"
        if copy_gbs:
            figures["of_copy"] = f"{per_token * rate / 1e9 / copy_gbs:.1%} of {copy_gbs:.0f} GB/s"
    engine_figure(f"batch-1 decode, {decode} tokens", wall, cpu, **figures)
    for agents in (8, 16):
        prompts = workload(model_path, agents, prefix_tokens=1000, tail_tokens=30)
        params = SamplingParams(max_tokens=64, ignore_eos=True)
        model.close()
        model = LocalModel.load(model_path, engine=EngineConfig(device=device))  # a cold prefix cache
        model.generate(prompt[:8], SamplingParams(max_tokens=2))
        wall, cpu = time.perf_counter(), time.process_time()
        with ThreadPoolExecutor(agents) as pool:
            results = list(pool.map(lambda p: model.generate(p, params), prompts))  # noqa: B023
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        ttfts = sorted(r.prefill_seconds for r in results)
        generated = sum(r.completion_tokens for r in results)
        engine_figure(f"org workload, {agents} agents", wall, cpu, **{
            "tokens/s": generated / wall, "ttft_first_s": ttfts[0], "ttft_median_s": ttfts[len(ttfts) // 2],
            "cached_tokens": model.stats().cached_tokens,
        })  # fmt: skip
    model.close()


def main() -> int:
    parser = argparse.ArgumentParser(description="Triton kernels vs torch on a GPU, and the engine on the Triton path")
    parser.add_argument("--quick", action="store_true", help="fewer shapes (a few minutes less)")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    parser.add_argument("--engine", action="store_true", help="also run the whole engine on a model (see above)")
    parser.add_argument("--engine-only", action="store_true", help="only the engine figures (implies --engine)")
    parser.add_argument("--model", type=Path, help="the GGUF file for --engine (default: the cached SmolLM2-135M Q4_1)")
    parser.add_argument("--peak-gbs", type=float, help="the card's peak memory bandwidth in GB/s (default: known cards)")
    parser.add_argument("--device", default="cuda", help="the engine's device for --engine (cpu: check the script without a GPU)")
    args = parser.parse_args()
    engine = args.engine or args.engine_only
    model_path = args.model or default_model()
    if engine and (model_path is None or not model_path.is_file()):
        parser.error(f"--engine needs a model file: {model_path or 'smollm2-135m-instruct is not cached'} "
                     "(give --model PATH, or run `orgide models pull smollm2-135m-instruct`)")  # fmt: skip
    if args.device != "cpu" or not args.engine_only:
        refuse_without_gpu()
    name, ceiling = "cpu", None
    if args.device != "cpu" or not args.engine_only:
        import triton

        name = torch.cuda.get_device_name()
        print(f"device: {name}; torch {torch.__version__}, triton {triton.__version__}")
        ceiling = copy_bandwidth()
    if not args.engine_only:
        bench_matmuls(args.quick, ceiling)
        bench_elementwise(args.quick)
        bench_attention(args.quick)
        if not args.quick:
            sweep_tiles()
    if engine:
        assert model_path is not None
        peak = args.peak_gbs or nominal_peak(name)
        if args.device != "cpu":
            print(f"peak bandwidth: {f'{peak:.0f} GB/s' if peak else 'unknown (give --peak-gbs)'}")
        bench_engine(model_path, args.device, peak, ceiling)
    if args.json:
        args.json.write_text(json.dumps({"device": name, "results": RESULTS}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
