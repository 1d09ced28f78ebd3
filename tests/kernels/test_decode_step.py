"""The scripted decode step (kernels/_decode_step.py) gives the eager step's numbers bit for bit."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from gguf import GGMLQuantizationType as Q

from kernels import TinyModelSpec, write_tiny_llama_gguf
from kernels._gguf_file import GGUFFile
from kernels._model import LlamaModel

SCRIPTED = {
    "llama-q4_1": TinyModelSpec(),
    "llama-q8_0-split": TinyModelSpec(weight_type=Q.Q8_0, seed=2),
    "qwen2-bias": TinyModelSpec(architecture="qwen2", seed=3),
    "qwen3-qknorm": TinyModelSpec(architecture="qwen3", weight_type=Q.Q4_0, seed=4),
    "llama-mha": TinyModelSpec(kv_heads=4, seed=5),
}
PROMPT = [1, 40, 77, 200, 13, 3, 99, 150]


def load(path: Path, mode: str = "fused") -> LlamaModel:
    with GGUFFile(path) as file:
        return LlamaModel.load(file, len(file.metadata["tokenizer.ggml.tokens"]), mode)  # type: ignore[arg-type]


def greedy(model: LlamaModel, steps: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Logits of each greedy decode step after PROMPT, and the cache's keys then values."""
    cache = model.new_cache(64)
    logits = model.forward(PROMPT, cache)
    seen = []
    for _ in range(steps):
        logits = model.forward([int(logits[-1].argmax())], cache)
        seen.append(logits)
    return seen, [t[:, : cache.length] for t in (*cache.keys, *cache.values)]


@pytest.mark.parametrize("name", sorted(SCRIPTED))
def test_the_scripted_step_gives_the_eager_steps_numbers(name: str, tmp_path: Path) -> None:
    path = write_tiny_llama_gguf(tmp_path / f"{name}.gguf", SCRIPTED[name])
    scripted, eager = load(path), load(path)
    assert scripted.scripted_decode is not None
    eager.scripted_decode = None
    (scripted_logits, scripted_cache), (eager_logits, eager_cache) = greedy(scripted, 6), greedy(eager, 6)
    assert all(torch.equal(a, b) for a, b in zip(scripted_logits, eager_logits, strict=True))
    assert all(torch.equal(a, b) for a, b in zip(scripted_cache, eager_cache, strict=True))


@pytest.mark.parametrize(("spec", "mode"), [(TinyModelSpec(weight_type=Q.F16, seed=6), "fused"), (TinyModelSpec(), "fallback")])
def test_models_with_other_layers_decode_eagerly(spec: TinyModelSpec, mode: str, tmp_path: Path) -> None:
    model = load(write_tiny_llama_gguf(tmp_path / "other.gguf", spec), mode)
    assert model.scripted_decode is None
    logits, _ = greedy(model, 3)
    assert all(torch.isfinite(step).all() for step in logits)


@pytest.mark.parametrize("name", sorted(SCRIPTED))
def test_the_engines_scripted_rows_give_its_eager_ops_numbers(name: str, tmp_path: Path) -> None:
    from kernels.engine import TorchOps
    from kernels.engine._scripted import scripted_rows

    model = load(write_tiny_llama_gguf(tmp_path / f"{name}.gguf", SCRIPTED[name]))
    c, ops = model.config, TorchOps(model.config.norm_eps)
    rows = scripted_rows(model, ops)
    assert rows is not None
    nh, nkv, d = c.heads, c.kv_heads, c.head_dim
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(5, c.hidden, generator=gen)
    turns = model.rope.turns[torch.tensor([0, 7, 8, 9, 30])][:, None, :]  # [N, 1, D/2]
    attended = torch.randn(5, nh * d, generator=gen)
    for index, layer in enumerate(model.layers):
        qkv = layer.qkv.whole(ops.rms_norm(x, layer.attn_norm)).float()  # the runner's eager ops
        qk, v = qkv[:, : (nh + nkv) * d].view(5, nh + nkv, d), qkv[:, (nh + nkv) * d :].view(5, nkv, d)
        if layer.q_norm is not None and layer.k_norm is not None:
            qk = torch.cat([ops.rms_norm(qk[:, :nh], layer.q_norm), ops.rms_norm(qk[:, nh:], layer.k_norm)], dim=1)
        scripted_qk, scripted_v = rows.before_attention(index, x, turns)
        assert torch.equal(scripted_qk, ops.rope(qk, turns)) and torch.equal(scripted_v, v)
        eager_x, scripted_x = x.clone(), x.clone()
        eager_x.add_(layer.attn_output.whole(attended))
        gate, up = layer.gate_up(ops.rms_norm(eager_x, layer.ffn_norm))
        eager_x.add_(layer.down.whole(ops.silu_mul(gate, up)))
        rows.after_attention(index, scripted_x, attended)
        assert torch.equal(scripted_x, eager_x)
        x = eager_x


@pytest.mark.parametrize("name", ["llama-q4_1", "qwen3-qknorm"])
def test_the_engine_samples_the_same_tokens_scripted_or_eager(name: str, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from kernels import LocalModel, SamplingParams

    path = write_tiny_llama_gguf(tmp_path / f"{name}.gguf", SCRIPTED[name])
    texts = ["hello world the", "the cat and the sea is blue", "run", "you and the tree " * 6]
    params = [SamplingParams(max_tokens=12, temperature=1.3, seed=s, ignore_eos=True) for s in range(len(texts))]
    outputs = []
    for scripted in (True, False):
        model = LocalModel.load(path)
        runner = model.engine.runner
        runner.scripted = scripted
        assert (runner._scripted_rows() is not None) == scripted
        with ThreadPoolExecutor(len(texts)) as pool:  # batched: prefill chunks and decode rows together
            outputs.append([r.token_ids for r in pool.map(model.generate, texts, params)])
        model.close()
    assert outputs[0] == outputs[1]
