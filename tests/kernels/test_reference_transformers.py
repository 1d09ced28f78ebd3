"""The engine's logits against transformers' Llama/Qwen models: an implementation we did not write.

Tiny models: a random GGUF is rebuilt as a transformers model from our reference dequantisation
(GGUF stores llama Q/K rows permuted for adjacent-pair rotation; the permutation is undone here as
llama.cpp's converter defines it). The real SmolLM2 (when cached) goes through transformers' own
GGUF loader, which dequantises the file with gguf-py: a second, independent reference.

Tolerances: the dequantising fallback computes in float32 like transformers, so it must agree to
float32 rounding; the fused path computes matmuls in bfloat16, so it must keep cosine >= 0.999 and
pick a top token the reference itself rates within a hair of its best.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from gguf import GGMLQuantizationType as Q

from kernels import TinyModelSpec, write_tiny_llama_gguf
from kernels._chat_template import render_chat
from kernels._gguf_file import GGUFFile
from kernels._model import LlamaModel
from kernels._quants import dequantize
from kernels._tokenizer import GGUFTokenizer
from tests.default_model import MODEL_PATH, needs_default_model

transformers = pytest.importorskip("transformers")

TOKENS = [1, 40, 77, 200, 13, 3, 99, 150, 42, 7, 280, 64, 8, 2, 100, 101, 102, 5, 17, 230]
SPECS = {
    "llama": TinyModelSpec(seed=11),
    "llama-untied-q8_0": TinyModelSpec(weight_type=Q.Q8_0, tied_embeddings=False, seed=12),
    "qwen2": TinyModelSpec(architecture="qwen2", seed=13),
    "qwen3": TinyModelSpec(architecture="qwen3", seed=14),
}
HF_NAMES = {
    "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj", "attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
    "attn_q_norm": "self_attn.q_norm", "attn_k_norm": "self_attn.k_norm",
}  # fmt: skip


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a.double().flatten(), b.double().flatten(), dim=0))


def unpermute_llama_rows(weight: np.ndarray, heads: int) -> np.ndarray:
    """Undo llama.cpp's `permute`: GGUF rows (pairs side by side) -> HF rows (two halves per head)."""
    rows = weight.shape[0]
    return weight.reshape(heads, rows // heads // 2, 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def transformers_model(path: Path, spec: TinyModelSpec) -> torch.nn.Module:
    with GGUFFile(path) as file:
        tensors = {name: torch.from_numpy(dequantize(file.tensor_bytes(name), info.qtype, info.shape).copy())
                   for name, info in file.tensors.items()}  # fmt: skip
        vocab = len(file.metadata["tokenizer.ggml.tokens"])
    common = dict(
        vocab_size=vocab, hidden_size=spec.hidden, intermediate_size=spec.ffn, num_hidden_layers=spec.layers,
        num_attention_heads=spec.heads, num_key_value_heads=spec.kv_heads, head_dim=spec.head_dim,
        max_position_embeddings=spec.context, rms_norm_eps=1e-5, tie_word_embeddings=spec.tied_embeddings,
        rope_parameters={"rope_type": "default", "rope_theta": spec.rope_base},
    )  # fmt: skip
    if spec.architecture == "llama":
        config = transformers.LlamaConfig(**common)
        model_class = transformers.LlamaForCausalLM
    elif spec.architecture == "qwen2":
        config = transformers.Qwen2Config(**common)
        model_class = transformers.Qwen2ForCausalLM
    else:
        config = transformers.Qwen3Config(**common, attention_bias=False)
        model_class = transformers.Qwen3ForCausalLM
    config._attn_implementation = "eager"
    model = model_class(config).float().eval()
    state: dict[str, torch.Tensor] = {"model.embed_tokens.weight": tensors["token_embd.weight"],
                                      "model.norm.weight": tensors["output_norm.weight"]}  # fmt: skip
    if not spec.tied_embeddings:
        state["lm_head.weight"] = tensors["output.weight"]
    for name, value in tensors.items():
        if not name.startswith("blk."):
            continue
        _, layer, kind, suffix = name.split(".")
        if spec.architecture == "llama" and kind in ("attn_q", "attn_k"):
            heads = spec.heads if kind == "attn_q" else spec.kv_heads
            value = torch.from_numpy(unpermute_llama_rows(value.numpy(), heads))
        state[f"model.layers.{layer}.{HF_NAMES[kind]}.{suffix}"] = value
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and set(missing) <= {"lm_head.weight"}, (missing, unexpected)
    if spec.tied_embeddings:
        model.tie_weights()
    return model


@pytest.fixture(scope="module", params=sorted(SPECS))
def tiny(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, torch.Tensor]:
    spec = SPECS[request.param]
    path = write_tiny_llama_gguf(tmp_path_factory.mktemp("hf") / f"{request.param}.gguf", spec)
    with torch.inference_mode():
        expected = transformers_model(path, spec)(torch.tensor([TOKENS])).logits[0].float()  # [T, V]
    return request.param, path, expected


@pytest.mark.parametrize("mode", ["fallback", "fused"])
def test_tiny_models_match_transformers(tiny: tuple[str, Path, torch.Tensor], mode: str) -> None:
    name, path, expected = tiny
    with GGUFFile(path) as file:
        model = LlamaModel.load(file, expected.shape[1], mode)  # type: ignore[arg-type]
        assert model.linear_mode == mode, model.fallback_reason
        ours = model.forward(TOKENS, model.new_cache(64), all_logits=True)
    assert ours.shape == expected.shape
    if mode == "fallback":
        assert torch.allclose(ours, expected, atol=2e-4, rtol=1e-4), (name, (ours - expected).abs().max())
        assert torch.equal(ours.argmax(-1), expected.argmax(-1)), name
        return
    assert min(cosine(ours[i], expected[i]) for i in range(len(TOKENS))) >= 0.999, name
    chosen = expected[torch.arange(len(TOKENS)), ours.argmax(-1)]
    gap = (expected.max(-1).values - chosen) / expected.std(-1)
    assert gap.max().item() <= 0.05, (name, gap)


def test_the_permutation_matters() -> None:
    """A wrong reading of GGUF's Q/K row order would pass unnoticed if the round trip were trivial."""
    rows = np.arange(4 * 16 * 3, dtype=np.float32).reshape(4 * 16, 3)
    undone = unpermute_llama_rows(rows, 4)
    assert not np.array_equal(undone, rows)
    assert np.array_equal(undone[:8, 0] // 3, [0, 2, 4, 6, 8, 10, 12, 14])  # one head's first half: even rows


PROMPTS = ["What is the capital of France?", "Write a haiku about the sea."]


@pytest.mark.slow
@needs_default_model
def test_smollm2_first_token_logits_match_transformers_gguf_loader() -> None:
    pytest.importorskip("accelerate")
    reference = transformers.AutoModelForCausalLM.from_pretrained(
        str(MODEL_PATH.parent), gguf_file=MODEL_PATH.name, dtype=torch.float32
    ).eval()
    with GGUFFile(MODEL_PATH) as file:
        tokenizer = GGUFTokenizer(file.metadata, MODEL_PATH)
        model = LlamaModel.load(file, reference.config.vocab_size)
        assert model.linear_mode == "fused", model.fallback_reason
        for prompt in PROMPTS:
            chat = render_chat(file.metadata["tokenizer.chat_template"], [{"role": "user", "content": prompt}],
                               bos_token=tokenizer.bos_token, eos_token=tokenizer.eos_token)  # fmt: skip
            ids = tokenizer.encode(chat, add_bos=False)
            with torch.inference_mode():
                expected = reference(torch.tensor([ids])).logits[0, -4:].float()  # the last 4 positions
            ours = model.forward(ids, model.new_cache(128), all_logits=True)[-4:]
            for position in range(4):
                assert cosine(ours[position], expected[position]) >= 0.999
            # near the top the head recomputes in float32: the top token is the reference's, or a near tie
            chosen = expected[torch.arange(4), ours.argmax(-1)]
            assert (expected.max(-1).values - chosen).max().item() <= 0.1
