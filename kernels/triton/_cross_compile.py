"""Compile every kernel, as its launcher would launch it, for GPUs this machine need not have.

    python -m kernels.triton._cross_compile [--target cuda:90] [--target hip:gfx942] [--quick] [--only TEXT]

Each launcher runs on meta tensors at real model shapes with its kernel swapped for a recorder; the
recorded launch (argument types, constexprs, warps, stages) is then compiled down to machine code
(cubin / hsaco) with Triton's own toolchain. This catches what the interpreter cannot: types and
layouts the GPU compiler rejects, shared memory over the limit; for CUDA it prints registers and
stack (spills) per thread. Needs a triton that is not in
interpreter mode (run it in its own process). Prints one line per kernel; exit 1 if any failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from kernels.triton._quant_weight import BLOCK_BYTES, QuantWeight, pack_quant_weight

POINTER_TYPES = {torch.float16: "fp16", torch.bfloat16: "bf16", torch.float32: "fp32", torch.int32: "i32",
                 torch.int64: "i64", torch.int8: "i8", torch.uint8: "u8"}  # fmt: skip
SHARED_MEMORY_LIMIT = {"cuda": 227 * 1024, "hip": 64 * 1024}


@dataclass(frozen=True)
class Launch:
    kernel: Any  # the JITFunction
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


class _Recorder:
    def __init__(self, kernel: Any, launches: list[Launch]) -> None:
        self.kernel, self.launches = kernel, launches

    def __getitem__(self, grid: object) -> Callable[..., None]:
        return lambda *args, **kwargs: self.launches.append(Launch(self.kernel, args, kwargs))


@contextmanager
def recording(module: Any, names: list[str]) -> Iterator[list[Launch]]:
    launches: list[Launch] = []
    originals = {name: getattr(module, name) for name in names}
    for name, kernel in originals.items():
        setattr(module, name, _Recorder(kernel, launches))
    try:
        yield launches
    finally:
        for name, kernel in originals.items():
            setattr(module, name, kernel)


def _arg_type(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return "*" + POINTER_TYPES[value.dtype]
    if isinstance(value, bool):
        return "i1"
    if isinstance(value, int):
        return "i32" if -(2**31) <= value < 2**31 else "i64"
    if isinstance(value, float):
        return "fp32"
    raise TypeError(f"no Triton type for {value!r}")


def compile_launch(launch: Launch, target: Any) -> Any:
    import triton
    from triton.compiler import ASTSource

    names = launch.kernel.arg_names
    values = dict(zip(names, launch.args, strict=False)) | {k: v for k, v in launch.kwargs.items() if k in names}
    constexprs = {p.name for p in launch.kernel.params if p.is_constexpr}
    signature = {name: "constexpr" if name in constexprs else _arg_type(values[name]) for name in names}
    options = {k: v for k, v in launch.kwargs.items() if k in ("num_warps", "num_stages")}
    source = ASTSource(fn=launch.kernel, signature=signature, constexprs={n: values[n] for n in constexprs})
    return triton.compile(source, target=target, options=options)


def cuda_resources(compiled: Any) -> str:
    """ "REG:n STACK:n ..." of a compiled CUDA kernel, read with the cuobjdump that ships with triton."""
    import triton

    tool = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "cuobjdump"
    with tempfile.NamedTemporaryFile(suffix=".cubin") as cubin:
        cubin.write(compiled.asm["cubin"])
        cubin.flush()
        listing = subprocess.run([str(tool), "-res-usage", cubin.name], capture_output=True, text=True, check=False).stdout
    usage = [line.strip() for line in listing.splitlines() if "REG:" in line]
    return " ".join(usage[0].split()[:2]) if usage else "registers unknown"


def _weight(qtype: str, rows: int, cols: int) -> QuantWeight:
    raw = torch.zeros(rows * cols // 32 * BLOCK_BYTES[qtype], dtype=torch.uint8)
    return pack_quant_weight(raw, qtype, (rows, cols)).to("meta")


def launches(quick: bool) -> Iterator[tuple[str, Launch]]:
    """(description, launch) for each kernel variant at SmolLM2-135M / Llama-3-8B shapes."""
    from kernels.triton import _paged_attention, _quant_gemm, _quant_gemv, _rms_norm, _rope, _swiglu

    meta = {"device": "meta"}
    dtypes = [torch.float16] if quick else [torch.float16, torch.bfloat16, torch.float32]
    cases: list[tuple[str, Any, list[str], Callable[[], object]]] = []
    for dtype in dtypes:
        name = str(dtype).removeprefix("torch.")
        cases += [
            (f"rms_norm {name} [4, 4096]", _rms_norm, ["rms_norm_kernel"],
             lambda d=dtype: _rms_norm.launch_rms_norm(torch.empty(4, 4096, dtype=d, **meta), torch.empty(4096, dtype=d, **meta), 1e-5)),
            (f"rope {name} [4, 40, 128]", _rope, ["rope_kernel"],
             lambda d=dtype: _rope.launch_rope(torch.empty(4, 40, 128, dtype=d, **meta), torch.empty(4, dtype=torch.int32, **meta),
                                               torch.empty(8192, 64, **meta), torch.empty(8192, 64, **meta), 128, "interleaved")),
            (f"swiglu {name} [4, 14336]", _swiglu, ["swiglu_kernel"],
             lambda d=dtype: _swiglu.launch_swiglu(torch.empty(4, 14336, dtype=d, **meta), torch.empty(4, 14336, dtype=d, **meta))),
            (f"paged attention {name} B1 32/8 heads 8k", _paged_attention, ["paged_attention_kernel", "merge_partitions_kernel"],
             lambda d=dtype: _paged_attention.launch_paged_decode_attention(
                 torch.empty(1, 32, 128, dtype=d, **meta), torch.empty(600, 16, 8, 128, dtype=d, **meta),
                 torch.empty(600, 16, 8, 128, dtype=d, **meta), torch.empty(1, 512, dtype=torch.int32, **meta),
                 torch.empty(1, dtype=torch.int32, **meta), 0.088)),
        ]  # fmt: skip
        for qtype in ("Q4_0", "Q4_1", "Q8_0"):
            for rows in [1] if quick else [1, 8]:
                cases.append((f"gemv {qtype} {name} M{rows} 4096x4096", _quant_gemv, ["quant_gemv_kernel"],
                              lambda d=dtype, q=qtype, m=rows: _quant_gemv.launch_quant_gemv(torch.empty(m, 4096, dtype=d, **meta), _weight(q, 4096, 4096), None)))  # fmt: skip
            for rows in [512] if quick else [16, 32, 64, 512]:
                cases.append((f"gemm {qtype} {name} M{rows} 14336x4096", _quant_gemm, ["quant_gemm_kernel"],
                              lambda d=dtype, q=qtype, m=rows: _quant_gemm.launch_quant_gemm(torch.empty(m, 4096, dtype=d, **meta), _weight(q, 14336, 4096), None)))  # fmt: skip
    for description, module, names, call in cases:
        with recording(module, names) as recorded:
            call()
        for launch in recorded:
            yield f"{description}: {launch.kernel.__name__}", launch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--target", action="append", help="backend:arch, e.g. cuda:90 or hip:gfx942 (default both)")
    parser.add_argument("--quick", action="store_true", help="float16 only, one row count per matmul")
    parser.add_argument("--only", action="append", default=[], help="compile only kernels whose description contains this")
    args = parser.parse_args(argv)
    from triton.backends.compiler import GPUTarget

    targets = []
    for spec in args.target or ["cuda:90", "hip:gfx942"]:
        backend, arch = spec.split(":")
        targets.append(GPUTarget(backend, int(arch) if backend == "cuda" else arch, 32 if backend == "cuda" else 64))
    failures = 0
    for description, launch in launches(args.quick):
        if args.only and not any(part in description for part in args.only):
            continue
        for target in targets:
            started = time.perf_counter()
            try:
                compiled = compile_launch(launch, target)
                shared = compiled.metadata.shared
                problem = f"shared memory {shared} B over {SHARED_MEMORY_LIMIT[target.backend]}" if shared > SHARED_MEMORY_LIMIT[target.backend] else ""
                resources = f"shared {shared} B" + (", " + cuda_resources(compiled) if target.backend == "cuda" else "")
            except Exception as error:  # report every kernel, not just the first failure
                problem, resources = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}", ""
            failures += bool(problem)
            print(f"{'FAIL' if problem else 'ok  '} {target.backend}:{target.arch} {description} "
                  f"({resources}, {time.perf_counter() - started:.1f} s){' ' + problem if problem else ''}", flush=True)  # fmt: skip
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
