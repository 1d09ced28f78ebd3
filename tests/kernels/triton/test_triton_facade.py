"""The package facade: where the Triton path is available, what happens without triton, no leaked
interpreter switch, and kernels that compile for real GPUs even on a machine without one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import kernels.triton as kt
from kernels.triton._loader import launching
from tests.kernels.triton.support import DEVICE, ON_GPU, needs_triton

ROOT = Path(__file__).resolve().parents[3]


def run_python(code: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"} | {"PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def test_availability_follows_the_device() -> None:
    assert kt.available() == (kt.unavailable_reason() is None)
    if not torch.cuda.is_available():
        assert not kt.available()
        assert kt.unavailable_reason() in ("no CUDA or ROCm device is visible to torch",) or "triton" in kt.unavailable_reason()


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here: triton is imported to use it")
def test_without_a_device_triton_is_never_imported() -> None:
    result = run_python(
        "import sys, kernels.triton as kt\n"
        "assert not kt.available(), 'no device, yet available'\n"
        "print('reason:', kt.unavailable_reason())\n"
        "print('imported:', sorted(n for n in sys.modules if n == 'triton' or n.startswith('triton.')))\n"
    )
    assert result.returncode == 0, result.stderr
    assert "reason: no CUDA or ROCm device is visible to torch" in result.stdout
    assert "imported: []" in result.stdout


def test_without_triton_the_package_imports_and_ops_say_why() -> None:
    result = run_python(
        "import sys; sys.modules['triton'] = None\n"  # `import triton` now fails as on a machine without it
        "import torch, kernels.triton as kt\n"
        "reason = kt.unavailable_reason()\n"
        "assert not kt.available() and ('triton is not importable' in reason or not torch.cuda.is_available()), reason\n"
        "x = torch.ones(2, 8)\n"
        "torch.testing.assert_close(kt.reference.rms_norm(x, torch.ones(8), 0.0), x)\n"
        "try:\n    kt.rms_norm(x, torch.ones(8), 1e-5)\nexcept kt.TritonUnavailable as error:\n    print('refused:', error)\n"
    )
    assert result.returncode == 0, result.stderr
    assert "refused: triton is not importable" in result.stdout


@needs_triton
def test_the_interpreter_switch_does_not_leak_into_the_environment() -> None:
    x, weight = torch.randn(2, 8, device=DEVICE), torch.ones(8, device=DEVICE)
    before = os.environ.get("TRITON_INTERPRET")
    kt.rms_norm(x, weight, 1e-5)
    assert os.environ.get("TRITON_INTERPRET") == before
    with launching():
        assert (os.environ.get("TRITON_INTERPRET") == "1") == kt.interpreting()
    assert os.environ.get("TRITON_INTERPRET") == before
    assert kt.interpreting() == (not ON_GPU)


@needs_triton
@pytest.mark.slow
def test_kernels_compile_for_hopper_without_a_gpu() -> None:
    """The interpreter checks what kernels compute; this checks that the GPU compiler accepts them."""
    result = run_python(
        "import sys; from kernels.triton._cross_compile import main\n"
        "sys.exit(main(['--target', 'cuda:90', '--quick', '--only', 'gemm Q4_1', '--only', 'gemv Q8_0', '--only', 'paged attention']))"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 4 and all(line.startswith("ok") for line in lines), result.stdout
