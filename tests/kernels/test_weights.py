"""The weight loader: each file format becomes the layer it should, computing what the file holds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from gguf import GGUFWriter
from gguf import GGMLQuantizationType as Q
from gguf import quants as gguf_quants

from kernels._gguf_file import GGUFFile
from kernels._linear import DenseLinear, DequantLinear, GroupLinear, Int8Linear, agreement
from kernels._quants import dequantize
from kernels._weights import Embedding, OutputHead, WeightLoader
from tests.kernels.test_linear import random_q6k


def write(path: Path, tensors: dict[str, tuple[np.ndarray, Q]]) -> Path:
    writer = GGUFWriter(str(path), "llama")
    for name, (data, qtype) in tensors.items():
        writer.add_tensor(name, data, raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def exact(file: GGUFFile, name: str) -> torch.Tensor:
    info = file.tensors[name]
    return torch.from_numpy(dequantize(file.tensor_bytes(name), info.qtype, info.shape).copy())


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    values = lambda rows, cols: rng.standard_normal((rows, cols)).astype(np.float32)  # noqa: E731
    return write(tmp_path / "mixed.gguf", {
        "q4": (gguf_quants.quantize(values(48, 256), Q.Q4_1), Q.Q4_1),
        "q4b": (gguf_quants.quantize(values(16, 256), Q.Q4_0), Q.Q4_0),
        "q8": (gguf_quants.quantize(values(32, 256), Q.Q8_0), Q.Q8_0),
        "q6": (random_q6k(300, 256, 1).reshape(300, -1), Q.Q6_K),
        "f16": (values(24, 256).astype(np.float16), Q.F16),
        "bf16": (gguf_quants.quantize(values(24, 256), Q.BF16), Q.BF16),
        "f32": (values(8, 256), Q.F32),
    })  # fmt: skip


@pytest.mark.parametrize("mode", ["fused", "fallback"])
def test_each_format_becomes_its_layer_and_computes_the_file_values(mixed: Path, mode: str) -> None:
    names = ["q4", "q4b", "q8", "q6", "f16", "bf16", "f32"]
    with GGUFFile(mixed) as file:
        loader = WeightLoader(file, mode)  # type: ignore[arg-type]
        shapes = [file.tensors[n].shape for n in names]
        group = loader.linear(names, shapes)  # type: ignore[arg-type]
        assert loader.mode == mode, loader.fallback_reason
        kinds = [type(part) for part in group.parts]
        if mode == "fused":  # the two 4-bit weights share one layer; the 8-bit one cannot join them
            assert kinds == [GroupLinear, GroupLinear, Int8Linear, DenseLinear, DenseLinear, DenseLinear]
            assert [p.weight.dtype for p in group.parts[3:]] == [torch.bfloat16, torch.bfloat16, torch.float32]  # type: ignore[union-attr]
        else:
            assert kinds == [DequantLinear, DequantLinear, DenseLinear, DenseLinear, DenseLinear, DenseLinear]
        reference = torch.cat([exact(file, n) for n in names]).double()  # [N, K]
        x = torch.randn(3, 256, generator=torch.Generator().manual_seed(5))
        outputs = group(x)
        assert [o.shape[-1] for o in outputs] == [s[0] for s in shapes]
        assert agreement(group.whole(x), x.double() @ reference.T) >= (0.999 if mode == "fused" else 0.999999)


def test_rows_in_a_given_order_carry_their_bias(mixed: Path) -> None:
    with GGUFFile(mixed) as file:
        order = np.random.default_rng(1).permutation(48)
        group = WeightLoader(file, "fallback").linear(["q4"], [(48, 256)], orders=[order])
        assert torch.allclose(group.dequantized(), exact(file, "q4")[order], atol=1e-6)


def test_a_bfloat16_output_head_is_float32_exact_near_the_top(mixed: Path) -> None:
    with GGUFFile(mixed) as file:
        head = OutputHead(WeightLoader(file, "fused").linear(["q6"], [(300, 256)]), Embedding(file, "q6"))
        x = torch.randn(4, 256, generator=torch.Generator().manual_seed(6)) * 3
        fast, refined = head.fast.whole(x).float(), head.whole(x)
        truth = x.double() @ exact(file, "q6").double().T  # [4, 300]
        near = truth >= truth.max(-1, keepdim=True).values - 1.0
        assert (fast.double() - truth)[near].abs().max() > 1e-3  # bfloat16 outputs: the refinement has work
        assert (refined.double() - truth)[near].abs().max() < 1e-4
        assert torch.equal(refined.argmax(-1), truth.argmax(-1))


def test_a_group_output_head_sums_in_float32_and_needs_no_refinement(mixed: Path) -> None:
    with GGUFFile(mixed) as file:
        head = OutputHead(WeightLoader(file, "fused").linear(["q8"], [(32, 256)]), Embedding(file, "q8"))
        assert isinstance(head.fast.parts[0], GroupLinear)
        x = torch.randn(4, 256, generator=torch.Generator().manual_seed(6)) * 3
        logits = head.whole(x)
        truth = x.double() @ exact(file, "q8").double().T  # [4, 32]
        assert logits.dtype == torch.float32 and (logits.double() - truth).abs().max() < 1e-4
        assert torch.equal(logits.argmax(-1), truth.argmax(-1))


def test_the_output_head_refines_at_most_its_limit_per_row(mixed: Path) -> None:
    with GGUFFile(mixed) as file:
        head = OutputHead(WeightLoader(file, "fused").linear(["q6"], [(300, 256)]), Embedding(file, "q6"))
        head.MOST_REFINED = 4
        x = torch.randn(3, 256, generator=torch.Generator().manual_seed(7)) * 1e-3  # every logit within the margin
        fast, refined = head.fast.whole(x).float(), head.whole(x)
        truth = x.double() @ exact(file, "q6").double().T  # [3, 300]
        changed = refined != fast
        assert changed.sum(-1).max() <= 4 and changed.any()
        top = fast.topk(4, dim=-1).indices
        assert torch.allclose(refined.gather(-1, top).double(), truth.gather(-1, top), atol=1e-6)


def test_released_pages_read_back_the_same_bytes(mixed: Path) -> None:
    with GGUFFile(mixed) as file:
        before = file.tensor_bytes("q6").copy()
        file.release_pages("q6", (0, 100))
        file.release_pages("q6")
        file.release_pages()
        assert np.array_equal(file.tensor_bytes("q6"), before)
