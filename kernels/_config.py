"""The architecture of a Llama-family model, read from GGUF metadata."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kernels._errors import ModelFileError

# llama.cpp's rope types: LLAMA-style files store Q/K rows permuted for adjacent-pair rotation,
# Qwen-style files rotate the two halves of each head (GPT-NeoX style).
ARCHITECTURES = {"llama": "interleaved", "qwen2": "neox", "qwen3": "neox"}


@dataclass(frozen=True)
class ModelConfig:
    architecture: str
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    ffn: int
    vocab_size: int
    context_length: int
    norm_eps: float
    rope_base: float
    rope_dim: int
    rope_style: str  # "interleaved" or "neox"
    rope_linear_factor: float
    qkv_bias: bool
    qk_norm: bool


def config_from_metadata(metadata: Mapping[str, Any], vocab_size: int, path: str | Path) -> ModelConfig:
    arch = metadata.get("general.architecture")
    if arch not in ARCHITECTURES:
        raise ModelFileError(path, f"architecture {arch!r} is not supported (supported: {', '.join(ARCHITECTURES)})")

    def number(key: str, default: Any = None, kind: type = int) -> Any:
        value = metadata.get(f"{arch}.{key}", default)
        if value is None:
            raise ModelFileError(path, f"metadata {arch}.{key} is missing")
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ModelFileError(path, f"metadata {arch}.{key} = {value!r} is not a valid number")
        return kind(value)

    hidden = number("embedding_length")
    heads = number("attention.head_count")
    if heads == 0 or hidden == 0:
        raise ModelFileError(path, "embedding_length and attention.head_count must be positive")
    kv_heads = number("attention.head_count_kv", heads)
    head_dim = number("attention.key_length", hidden // heads)
    if kv_heads == 0 or heads % kv_heads:
        raise ModelFileError(path, f"{heads} attention heads cannot share {kv_heads} key/value heads")
    rope_dim = number("rope.dimension_count", head_dim)
    if rope_dim > head_dim or rope_dim % 2:
        raise ModelFileError(path, f"rope.dimension_count {rope_dim} does not fit heads of {head_dim}")
    scaling = metadata.get(f"{arch}.rope.scaling.type", "none")
    factor = 1.0
    if scaling == "linear":
        factor = number("rope.scaling.factor", 1.0, float) or 1.0
    elif scaling not in ("none", None):
        raise ModelFileError(path, f"rope scaling {scaling!r} is not supported (supported: none, linear)")
    return ModelConfig(
        architecture=arch,
        hidden=hidden,
        layers=number("block_count"),
        heads=heads,
        kv_heads=kv_heads,
        head_dim=head_dim,
        ffn=number("feed_forward_length"),
        vocab_size=vocab_size,
        context_length=number("context_length", 4096),
        norm_eps=number("attention.layer_norm_rms_epsilon", 1e-6, float),
        rope_base=number("rope.freq_base", 10000.0, float),
        rope_dim=rope_dim,
        rope_style=ARCHITECTURES[arch],
        rope_linear_factor=factor,
        qkv_bias=arch == "qwen2",
        qk_norm=arch == "qwen3",
    )
