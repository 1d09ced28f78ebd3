"""Shared by the Triton kernel tests: where kernels run, skips, tolerances, random GGUF blocks."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from kernels.triton._loader import triton_import_error
from kernels.triton._quant_weight import BLOCK_BYTES

TRITON_MISSING = triton_import_error()
ON_GPU = TRITON_MISSING is None and torch.cuda.is_available() and os.environ.get("TRITON_INTERPRET") != "1"
DEVICE = "cuda" if ON_GPU else "cpu"

needs_triton = pytest.mark.skipif(TRITON_MISSING is not None, reason=f"Triton kernels not tested: {TRITON_MISSING}")
# Triton 3.9's interpreter multiplies bfloat16 tl.dot operands as their raw uint16 bits
# (runtime/interpreter.py, create_dot): bfloat16 through tensor-core dots is tested on a GPU only.
BF16_IN_DOTS = pytest.param(
    torch.bfloat16, marks=pytest.mark.skipif(not ON_GPU, reason="Triton's interpreter computes bfloat16 dots on raw bits"), id="bfloat16"
)
# float32 outputs agree to rounding; 16-bit outputs to their own rounding (and 16-bit weights in dots)
TOLERANCE = {torch.float32: 1e-5, torch.float16: 4e-3, torch.bfloat16: 2e-2}


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """max |actual - expected| / max |expected|: the largest error against the output's scale."""
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    scale = expected.float().abs().max().clamp_min(1e-12)
    return float((actual.float() - expected.float()).abs().max() / scale)


def gguf_blocks(qtype: str, rows: int, cols: int, seed: int) -> np.ndarray:
    """Random GGUF blocks (uint8 [blocks, bytes]) whose float16 scale and min fields are small and finite."""
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 256, size=(rows * cols // 32, BLOCK_BYTES[qtype]), dtype=np.uint8)
    raw[:, 0:2] = rng.uniform(0.001, 0.02, (len(raw), 1)).astype(np.float16).view(np.uint8)
    if qtype == "Q4_1":
        raw[:, 2:4] = rng.uniform(-0.05, 0.05, (len(raw), 1)).astype(np.float16).view(np.uint8)
    return raw
