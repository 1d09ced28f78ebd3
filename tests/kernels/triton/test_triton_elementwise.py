"""RMSNorm, RoPE and SwiGLU kernels against their references, over odd widths, dtypes and strided inputs.

Without a GPU these run in Triton's interpreter (see conftest.py), on tiny shapes.
"""

from __future__ import annotations

import pytest
import torch

import kernels.triton as kt
from kernels.triton import reference
from tests.kernels.triton.support import DEVICE, TOLERANCE, needs_triton, relative_error

pytestmark = needs_triton
DTYPES = [torch.float32, torch.float16, torch.bfloat16]


def randn(*shape: int, dtype: torch.dtype = torch.float32, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)).to(dtype).to(DEVICE)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", [(1, 40), (5, 97), (2, 3, 64)])
def test_rms_norm_matches_reference(dtype: torch.dtype, shape: tuple[int, ...]) -> None:
    x, weight = randn(*shape, dtype=dtype) * 3, randn(shape[-1], dtype=dtype, seed=1)
    y = kt.rms_norm(x, weight, 1e-5)
    assert y.shape == x.shape and y.dtype == dtype
    assert relative_error(y, reference.rms_norm(x, weight, 1e-5)) <= TOLERANCE[dtype]


def test_rms_norm_of_strided_rows() -> None:
    wide = randn(6, 50)
    x, weight = wide[::2, 3:43], randn(40, seed=2)  # rows 100 floats apart
    assert relative_error(kt.rms_norm(x, weight, 1e-6), reference.rms_norm(x, weight, 1e-6)) <= TOLERANCE[torch.float32]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize(("style", "head_dim", "rope_dim"), [("interleaved", 16, None), ("interleaved", 24, 16), ("neox", 16, None), ("neox", 12, 8)])
def test_rope_matches_reference(dtype: torch.dtype, style: str, head_dim: int, rope_dim: int | None) -> None:
    positions = torch.tensor([3, 0, 19, 7, 7], dtype=torch.int32, device=DEVICE)  # any order, repeats allowed
    angles = torch.rand(20, head_dim // 2, generator=torch.Generator().manual_seed(4)).to(DEVICE) * 6
    qkv = randn(5, 7, head_dim, dtype=dtype)  # q: heads 0..3 of a fused [T, 7 heads, D] buffer
    q = qkv[:, :4]
    y = kt.rope(q, positions, angles.cos(), angles.sin(), style=style, rope_dim=rope_dim)
    assert y.shape == q.shape and y.dtype == dtype
    assert relative_error(y, reference.rope(q, positions, angles.cos(), angles.sin(), style=style, rope_dim=rope_dim)) <= TOLERANCE[dtype]


def test_rope_reads_cos_and_sin_from_complex_turns() -> None:
    """The model keeps its angles as complex numbers; their real view serves as the tables without a copy."""
    turns = torch.polar(torch.ones(12, 8), torch.rand(12, 8, generator=torch.Generator().manual_seed(5)) * 6).to(DEVICE)  # [P, D/2]
    tables = torch.view_as_real(turns)  # [P, D/2, 2]
    x, positions = randn(3, 2, 16), torch.tensor([11, 2, 5], device=DEVICE)
    y = kt.rope(x, positions, tables[..., 0], tables[..., 1])
    pairs = torch.view_as_complex(x.reshape(3, 2, 8, 2)) * turns[positions][:, None, :]  # [T, NH, D/2]
    torch.testing.assert_close(y, torch.view_as_real(pairs).reshape(3, 2, 16), rtol=0, atol=2e-6)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", [(1, 7), (3, 1100)])
def test_swiglu_matches_reference(dtype: torch.dtype, shape: tuple[int, int]) -> None:
    gate, up = randn(*shape, dtype=dtype) * 4, randn(*shape, dtype=dtype, seed=1)
    y = kt.swiglu(gate, up)
    assert y.shape == shape and y.dtype == dtype
    assert relative_error(y, reference.swiglu(gate, up)) <= TOLERANCE[dtype]


def test_swiglu_of_gate_and_up_halves_of_one_buffer() -> None:
    gate_up = randn(4, 2 * 33) * 5  # [M, 2F]: the fused gate/up projection's output
    gate, up = gate_up[:, :33], gate_up[:, 33:]
    assert relative_error(kt.swiglu(gate, up), reference.swiglu(gate, up)) <= TOLERANCE[torch.float32]


def test_elementwise_inputs_are_checked() -> None:
    with pytest.raises(kt.KernelInputError, match=r"weight must be \[8\]"):
        kt.rms_norm(randn(2, 8), randn(9), 1e-5)
    with pytest.raises(kt.KernelInputError, match="style"):
        kt.rope(randn(2, 1, 8), torch.zeros(2, dtype=torch.int32, device=DEVICE), randn(4, 4), randn(4, 4), style="sideways")
    with pytest.raises(kt.KernelInputError, match="angles per position"):
        kt.rope(randn(2, 1, 8), torch.zeros(2, dtype=torch.int32, device=DEVICE), randn(4, 2), randn(4, 2), rope_dim=8)
    with pytest.raises(kt.KernelInputError, match="alike"):
        kt.swiglu(randn(2, 8), randn(2, 9))
