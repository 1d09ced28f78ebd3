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
