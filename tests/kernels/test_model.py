"""The engine's forward against the float reference on tiny random models of each architecture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from gguf import GGMLQuantizationType as Q

from kernels import TinyModelSpec, write_tiny_llama_gguf
from kernels._gguf_file import GGUFFile
from kernels._model import LlamaModel
from tests.kernels.reference_forward import ReferenceModel

SPECS = {
    "llama-q4_1-tied": TinyModelSpec(),
    "llama-q4_0-untied": TinyModelSpec(weight_type=Q.Q4_0, tied_embeddings=False, seed=1),
    "llama-q8_0": TinyModelSpec(weight_type=Q.Q8_0, embedding_type=Q.F16, seed=2),
    "qwen2-bias": TinyModelSpec(architecture="qwen2", seed=3),
    "qwen3-qknorm": TinyModelSpec(architecture="qwen3", weight_type=Q.F16, embedding_type=Q.Q4_0, seed=4),
    "llama-f32-mha": TinyModelSpec(weight_type=Q.F32, kv_heads=4, seed=5),
    "llama-bf16": TinyModelSpec(weight_type=Q.BF16, embedding_type=Q.Q4_1, seed=6),
}
TOKENS = [1, 40, 77, 200, 13, 3, 99, 150, 42, 7, 280, 64, 8, 2, 100, 101, 102, 5]


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a.double().flatten(), b.double().flatten(), dim=0))


@pytest.fixture(scope="module", params=sorted(SPECS))
def model_pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    path = write_tiny_llama_gguf(tmp_path_factory.mktemp("models") / f"{request.param}.gguf", SPECS[request.param])
    return request.param, path


@pytest.mark.parametrize("mode", ["fused", "fallback"])
def test_forward_matches_the_float_reference(model_pair: tuple[str, Path], mode: str) -> None:
    name, path = model_pair
    reference = ReferenceModel(path).logits(TOKENS)
    with GGUFFile(path) as file:
        model = LlamaModel.load(file, reference.shape[1], mode)  # type: ignore[arg-type]
        assert model.linear_mode == mode, model.fallback_reason
        logits = model.forward(TOKENS, model.new_cache(64), all_logits=True)
    assert logits.shape == reference.shape
    per_position = [cosine(logits[i], reference[i]) for i in range(len(TOKENS))]
    assert min(per_position) >= (0.999 if mode == "fused" else 0.99999), (name, per_position)
    # where the top tokens differ, the reference itself nearly ties them (random models have flat logits)
    chosen = reference[torch.arange(len(TOKENS)), logits.argmax(-1)]
    gap = (reference.max(-1).values - chosen) / reference.std(-1)
    assert gap.max().item() <= 0.05, (name, gap)


@pytest.mark.parametrize("mode", ["fused", "fallback"])
def test_the_kv_cache_gives_the_same_logits_as_one_pass(model_pair: tuple[str, Path], mode: str) -> None:
    """Chunks and single decode steps (their own, leaner code path) against one pass over all tokens."""
    name, path = model_pair
    with GGUFFile(path) as file:
        model = LlamaModel.load(file, len(file.metadata["tokenizer.ggml.tokens"]), mode)  # type: ignore[arg-type]
        whole = model.forward(TOKENS, model.new_cache(64), all_logits=True)
        cache = model.new_cache(64)
        parts = [model.forward(TOKENS[:5], cache, all_logits=True), model.forward(TOKENS[5:11], cache, all_logits=True)]
        parts += [model.forward([token], cache) for token in TOKENS[11:]]
    stepwise = torch.cat(parts)
    if mode == "fallback":
        assert torch.allclose(stepwise, whole, atol=1e-4, rtol=1e-4)
    else:  # bfloat16 activations round differently in a [1, K] product than in a [T, K] one
        per_position = [cosine(stepwise[i], whole[i]) for i in range(len(TOKENS))]
        assert min(per_position) >= 0.9995, (name, per_position)


def test_a_model_with_a_missing_tensor_or_wrong_shape_fails_clearly(tmp_path: Path) -> None:
    from gguf import GGUFWriter

    from kernels import ModelFileError

    writer = GGUFWriter(str(tmp_path / "broken.gguf"), "llama")
    for key, value in (("embedding_length", 64), ("block_count", 1), ("feed_forward_length", 128),
                       ("attention.head_count", 4), ("context_length", 64)):  # fmt: skip
        writer.add_uint32(f"llama.{key}", value)
    writer.add_tensor("token_embd.weight", np.zeros((10, 64), dtype=np.float32))
    writer.add_tensor("blk.0.attn_norm.weight", np.ones(32, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with GGUFFile(tmp_path / "broken.gguf") as file, pytest.raises(ModelFileError, match="attn_norm.weight"):
        LlamaModel.load(file, 10)
