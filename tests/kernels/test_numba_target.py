"""numba's target for the CPU kernels: 512-bit vectors on AVX-512 hosts, the user's choice kept."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from numba.core.codegen import get_host_cpu_features

from kernels._numba_target import NARROW_TUNING, wide_vector_features

HOST_HAS_AVX512 = "+avx512f" in get_host_cpu_features().split(",")
PROBE = (
    "import kernels._cpu_attention\n"
    "from numba.core.registry import cpu_target\n"
    "print('features', cpu_target.target_context.codegen()._tm_features)\n"
)


def test_wide_vectors_are_asked_for_only_with_avx512() -> None:
    assert wide_vector_features("+sse2,+avx,+avx2,+fma,-avx512f") is None
    assert wide_vector_features("+avx2,+avx512f,+avx512bw") == f"+avx2,+avx512f,+avx512bw,{NARROW_TUNING}"
    assert wide_vector_features("+avx512f,+prefer-256-bit") == f"+avx512f,{NARROW_TUNING}"  # never both


def _features_in_a_fresh_process(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_CPU_")}
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, env={**clean, **env})
    assert result.returncode == 0, result.stderr
    return result.stdout.split("features ", 1)[1].strip()


@pytest.mark.skipif(not HOST_HAS_AVX512, reason="the host has no AVX-512")
def test_the_kernels_compile_for_512_bit_vectors_on_this_host() -> None:
    assert _features_in_a_fresh_process().split(",")[-1] == NARROW_TUNING


def test_a_target_the_user_chose_is_kept() -> None:
    chosen = "+sse2,+avx,+avx2"
    assert _features_in_a_fresh_process(NUMBA_CPU_FEATURES=chosen) == chosen
