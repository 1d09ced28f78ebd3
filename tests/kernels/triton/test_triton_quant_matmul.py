"""The fused dequant GEMV and GEMM against the reference `x @ dequantise(w).T`, over odd shapes.

Without a GPU these run in Triton's interpreter (see conftest.py), on tiny shapes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from gguf import GGMLQuantizationType

import kernels.triton as kt
from kernels import GGUFFile, TinyModelSpec, write_tiny_llama_gguf
from kernels._quants import dequantize as gguf_dequantize
from kernels.triton import reference
from kernels.triton._loader import kernel_module, launching
from tests.kernels.triton.support import BF16_IN_DOTS, DEVICE, TOLERANCE, gguf_blocks, needs_triton, relative_error

pytestmark = needs_triton
QTYPES = ["Q4_0", "Q4_1", "Q8_0"]


def weight_of(qtype: str, rows: int, cols: int, seed: int = 0) -> kt.QuantWeight:
    return kt.pack_quant_weight(gguf_blocks(qtype, rows, cols, seed), qtype, (rows, cols)).to(DEVICE)


def activations(rows: int, cols: int, dtype: torch.dtype, seed: int = 1) -> torch.Tensor:
    return torch.randn(rows, cols, generator=torch.Generator().manual_seed(seed)).to(dtype).to(DEVICE)


@pytest.mark.parametrize("qtype", QTYPES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("rows", [1, 3, 8])
def test_gemv_matches_reference(qtype: str, dtype: torch.dtype, rows: int) -> None:
    weight, x = weight_of(qtype, 13, 96, seed=rows), activations(rows, 96, dtype)
    y = kt.quant_gemv(x, weight)
    assert y.shape == (rows, 13) and y.dtype == dtype
    assert relative_error(y, reference.quant_matmul(x, weight)) <= TOLERANCE[dtype]


@pytest.mark.parametrize("qtype", QTYPES)
def test_gemv_with_k_spanning_several_ragged_tiles_and_a_bias(qtype: str) -> None:
    weight, x, bias = weight_of(qtype, 7, 160, seed=5), activations(2, 160, torch.float32), activations(1, 7, torch.float32)[0]
    with launching():  # K = 160 in steps of 64 elements (32 bytes of Q4_x, 64 of Q8_0): the last one ragged
        y = kernel_module("_quant_gemv").launch_quant_gemv(x, weight, bias, block_n=4, block_b=32 if qtype != "Q8_0" else 64)
    assert relative_error(y, reference.quant_matmul(x, weight, bias)) <= TOLERANCE[torch.float32]


@pytest.mark.parametrize("qtype", QTYPES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, BF16_IN_DOTS], ids=str)
@pytest.mark.parametrize(("rows", "out_features"), [(9, 13), (33, 70)])
def test_gemm_matches_reference(qtype: str, dtype: torch.dtype, rows: int, out_features: int) -> None:
    weight, x = weight_of(qtype, out_features, 96, seed=rows), activations(rows, 96, dtype)
    y = kt.quant_gemm(x, weight)
    assert y.shape == (rows, out_features) and y.dtype == dtype
    assert relative_error(y, reference.quant_matmul(x, weight)) <= TOLERANCE[dtype]


@pytest.mark.parametrize("qtype", QTYPES)
def test_gemm_over_ragged_tiles_with_strided_rows_and_a_bias(qtype: str) -> None:
    weight = weight_of(qtype, 19, 160, seed=2)
    wide = activations(21, 200, torch.float16)
    x = wide[:, 20:180]  # [21, 160], row stride 200
    bias = activations(1, 19, torch.float16, seed=3)[0]
    with launching():  # M 21 in tiles of 16, N 19 in tiles of 16, K 160 in tiles of 64
        y = kernel_module("_quant_gemm").launch_quant_gemm(x, weight, bias, block_m=16, block_n=16, block_k=64)
    assert relative_error(y, reference.quant_matmul(x, weight, bias)) <= TOLERANCE[torch.float16]


def test_quant_matmul_picks_the_gemv_for_decode_and_the_gemm_for_prefill() -> None:
    weight = weight_of("Q4_1", 10, 64)
    for rows in (1, kt.GEMV_MAX_M, kt.GEMV_MAX_M + 1, 20):
        x = activations(rows, 64, torch.float32, seed=rows)
        assert relative_error(kt.quant_matmul(x, weight), reference.quant_matmul(x, weight)) <= TOLERANCE[torch.float32]
    assert kt.quant_matmul(activations(0, 64, torch.float32), weight).shape == (0, 10)


def test_bad_inputs_are_refused_before_launch() -> None:
    weight = weight_of("Q8_0", 10, 64)
    with pytest.raises(kt.KernelInputError, match=r"x must be \[M, 64\]"):
        kt.quant_matmul(activations(2, 32, torch.float32), weight)
    with pytest.raises(kt.KernelInputError, match="float16, bfloat16 or float32"):
        kt.quant_matmul(activations(2, 64, torch.float32).to(torch.float64), weight)
    with pytest.raises(kt.KernelInputError, match="at most"):
        kt.quant_gemv(activations(kt.GEMV_MAX_M + 1, 64, torch.float32), weight)
    with pytest.raises(kt.KernelInputError, match=r"bias must be \[10\]"):
        kt.quant_gemm(activations(9, 64, torch.float32), weight, torch.zeros(3, device=DEVICE))


@pytest.mark.parametrize(("weight_type", "name"), [("Q4_0", "blk.0.attn_q.weight"), ("Q4_1", "blk.0.ffn_down.weight"), ("Q4_1", "token_embd.weight")])
def test_weights_packed_from_a_gguf_file_multiply_like_ggml_dequantised_ones(weight_type: str, name: str, tmp_path: Path) -> None:
    """Real file bytes and shapes: the (N, K) convention and the block layout as gguf-py writes them."""
    path = write_tiny_llama_gguf(tmp_path / "tiny.gguf", TinyModelSpec(weight_type=GGMLQuantizationType[weight_type], layers=1))
    with GGUFFile(path) as file:
        info, raw = file.tensors[name], file.tensor_bytes(name)  # token_embd is Q8_0
        assert info.qtype.name == (weight_type if name != "token_embd.weight" else "Q8_0")
        weight = kt.pack_quant_weight(raw, info.qtype, info.shape).to(DEVICE)
        exact = torch.from_numpy(gguf_dequantize(raw, info.qtype, info.shape)).to(DEVICE)  # [N, K]
    for rows in (1, 9) if name != "token_embd.weight" else (9,):
        x = activations(rows, info.shape[1], torch.float32, seed=rows)
        assert relative_error(kt.quant_matmul(x, weight), x @ exact.T) <= TOLERANCE[torch.float32]
