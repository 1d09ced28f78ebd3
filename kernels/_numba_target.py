"""What numba compiles the CPU kernels for: the host CPU, with 512-bit vectors where it has AVX-512.

LLVM tunes server cores with AVX-512 (skylake-avx512, cascadelake, icelake-server, ...) to prefer
256-bit vectors, so numba leaves half of each vector register unused. The kernels here are short
loops over a head's 64 values and over the hidden size; with 512-bit vectors the decode attention
kernel runs about 1.5x faster on a Cascade Lake core (bench/RESULTS.md, Session 6).

`use_wide_vectors` must run before numba compiles or loads its first function in the process (the
kernel modules call it before defining theirs). It changes nothing when the user chose numba's
target (`NUMBA_CPU_NAME` / `NUMBA_CPU_FEATURES`) or the CPU has no AVX-512. numba keys its cache on
the target, so kernels compiled for one setting are never loaded for another.
"""

from __future__ import annotations

from numba.core import config

NARROW_TUNING = "-prefer-256-bit"


def wide_vector_features(host_features: str) -> str | None:
    """The feature string that lets LLVM use 512-bit vectors on a host with `host_features`; None without AVX-512."""
    features = host_features.split(",")
    if "+avx512f" not in features:
        return None
    return ",".join([f for f in features if f not in ("+prefer-256-bit", NARROW_TUNING)] + [NARROW_TUNING])


def use_wide_vectors() -> None:
    if config.CPU_NAME is not None or config.CPU_FEATURES is not None:
        return
    from numba.core.codegen import get_host_cpu_features

    features = wide_vector_features(get_host_cpu_features())
    if features is not None:
        config.CPU_FEATURES = features
