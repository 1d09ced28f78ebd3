"""The Llama-family forward (Llama 3.x, Qwen2/2.5, Qwen3, SmolLM2) on the CPU, with a KV cache.

Shapes: T tokens in this call, S = cached + T positions, H hidden, D head size,
NH query heads, NKV key/value heads, V vocabulary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from kernels._config import ModelConfig, config_from_metadata
from kernels._errors import GenerationError
from kernels._gguf_file import GGUFFile
from kernels._kv_cache import KVCache
from kernels._weights import Embedding, LinearGroup, LinearMode, WeightLoader


@dataclass(frozen=True)
class Layer:
    attn_norm: torch.Tensor  # [H]
    qkv: LinearGroup  # H -> NH*D + 2*NKV*D
    q_norm: torch.Tensor | None  # [D] (Qwen3)
    k_norm: torch.Tensor | None
    attn_output: LinearGroup  # NH*D -> H
    ffn_norm: torch.Tensor
    gate_up: LinearGroup  # H -> 2*F
    down: LinearGroup  # F -> H


class Rope:
    """Rotary embedding as `x * cos + x[..., partner] * signed_sin`: each rotated dim and its partner."""

    def __init__(self, config: ModelConfig, max_positions: int, freq_factors: torch.Tensor | None) -> None:
        d, r = config.head_dim, config.rope_dim
        inv_freq = config.rope_base ** (-torch.arange(0, r, 2, dtype=torch.float64) / r)  # [r/2]
        if freq_factors is not None:
            inv_freq = inv_freq / freq_factors.double()[: r // 2]
        positions = torch.arange(max_positions, dtype=torch.float64) / config.rope_linear_factor
        angles = positions[:, None] * inv_freq[None, :]  # [P, r/2]
        if config.rope_style == "interleaved":  # pairs (2i, 2i+1)
            first, second = torch.arange(0, r, 2), torch.arange(1, r, 2)
        else:  # pairs (i, i + r/2)
            first, second = torch.arange(r // 2), torch.arange(r // 2, r)
        cos, sin = torch.ones(max_positions, d, dtype=torch.float64), torch.zeros(max_positions, d, dtype=torch.float64)
        cos[:, first], cos[:, second] = angles.cos(), angles.cos()
        sin[:, first], sin[:, second] = -angles.sin(), angles.sin()  # out[first] = x[first] cos - x[second] sin
        self.cos, self.sin = cos.float(), sin.float()  # [P, D]
        self.partner = torch.arange(d)
        self.partner[first], self.partner[second] = second, first

    def tables(self, start: int, count: int) -> tuple[torch.Tensor, torch.Tensor]:  # [T, 1, D] each
        return self.cos[start : start + count, None, :], self.sin[start : start + count, None, :]

    def __call__(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:  # [T, heads, D]
        return x * cos + x[..., self.partner] * sin


class LlamaModel:
    def __init__(self, config: ModelConfig, embedding: Embedding, layers: list[Layer], output_norm: torch.Tensor,
                 head: LinearGroup, rope: Rope, linear_mode: LinearMode, fallback_reason: str = "") -> None:  # fmt: skip
        self.config = config
        self.embedding = embedding
        self.layers = layers
        self.output_norm = output_norm
        self.head = head
        self.rope = rope
        self.linear_mode = linear_mode  # "fused" unless the self-test on load failed
        self.fallback_reason = fallback_reason

    @classmethod
    def load(cls, file: GGUFFile, vocab_size: int, mode: LinearMode = "fused", max_positions: int | None = None) -> LlamaModel:
        config = config_from_metadata(file.metadata, vocab_size, file.path)
        loader = WeightLoader(file, mode)
        h, d, nh, nkv, f = config.hidden, config.head_dim, config.heads, config.kv_heads, config.ffn
        layers = []
        for index in range(config.layers):
            p = f"blk.{index}."
            qkv_names = [p + "attn_q.weight", p + "attn_k.weight", p + "attn_v.weight"]
            qkv_shapes = [(nh * d, h), (nkv * d, h), (nkv * d, h)]
            qkv_bias = [n.replace(".weight", ".bias") for n in qkv_names] if config.qkv_bias else []
            layers.append(Layer(
                attn_norm=loader.vector(p + "attn_norm.weight", h),
                qkv=loader.linear(qkv_names, qkv_shapes, qkv_bias),
                q_norm=loader.vector(p + "attn_q_norm.weight", d) if config.qk_norm else None,
                k_norm=loader.vector(p + "attn_k_norm.weight", d) if config.qk_norm else None,
                attn_output=loader.linear([p + "attn_output.weight"], [(h, nh * d)]),
                ffn_norm=loader.vector(p + "ffn_norm.weight", h),
                gate_up=loader.linear([p + "ffn_gate.weight", p + "ffn_up.weight"], [(f, h), (f, h)]),
                down=loader.linear([p + "ffn_down.weight"], [(h, f)]),
            ))  # fmt: skip
        loader.require("token_embd.weight", (vocab_size, h))
        head_name = "output.weight" if "output.weight" in file.tensors else "token_embd.weight"
        factors = loader.vector("rope_freqs.weight", config.rope_dim // 2) if "rope_freqs.weight" in file.tensors else None
        positions = min(config.context_length, max_positions or config.context_length)
        return cls(
            config, Embedding(file, "token_embd.weight"), layers, loader.vector("output_norm.weight", h),
            loader.linear([head_name], [(vocab_size, h)]), Rope(config, positions, factors), loader.mode, loader.fallback_reason,
        )  # fmt: skip

    @property
    def max_positions(self) -> int:
        return self.rope.cos.shape[0]

    def new_cache(self, max_tokens: int | None = None) -> KVCache:
        c = self.config
        return KVCache(c.layers, c.kv_heads, c.head_dim, min(max_tokens or self.max_positions, self.max_positions))

    @torch.inference_mode()
    def forward(self, token_ids: Sequence[int], cache: KVCache, *, all_logits: bool = False) -> torch.Tensor:
        """Run `token_ids` after what `cache` holds; logits [T, V] (or [1, V] for the last token)."""
        c = self.config
        start, t = cache.length, len(token_ids)
        if t == 0:
            raise GenerationError("nothing to run: no tokens")
        if start + t > cache.max_tokens:
            raise GenerationError(f"the context is full: {start + t} tokens exceed the limit of {cache.max_tokens}")
        cache.reserve(start + t)
        end = start + t
        nh, nkv, d = c.heads, c.kv_heads, c.head_dim
        if t == 1:
            mask, causal = None, False
        elif start == 0:
            mask, causal = None, True
        else:  # query i sees keys 0 .. start + i
            mask, causal = torch.arange(end)[None, :] <= torch.arange(start, end)[:, None], False  # [T, S]
        cos, sin = self.rope.tables(start, t)
        x = self.embedding(token_ids)  # [T, H]
        for index, layer in enumerate(self.layers):
            normed = F.rms_norm(x, (c.hidden,), layer.attn_norm, c.norm_eps)
            qkv = layer.qkv.linear(normed).float()  # [T, (NH + 2 NKV) D]
            qk = qkv[:, : (nh + nkv) * d].view(t, nh + nkv, d)
            v = qkv[:, (nh + nkv) * d :].view(t, nkv, d)
            if layer.q_norm is not None and layer.k_norm is not None:
                qk = torch.cat([F.rms_norm(qk[:, :nh], (d,), layer.q_norm, c.norm_eps),
                                F.rms_norm(qk[:, nh:], (d,), layer.k_norm, c.norm_eps)], dim=1)  # fmt: skip
            qk = self.rope(qk, cos, sin)  # [T, NH + NKV, D]
            cache.keys[index, :, start:end] = qk[:, nh:].transpose(0, 1)  # [NKV, T, D]
            cache.values[index, :, start:end] = v.transpose(0, 1)
            keys, values = cache.keys[index, :, :end], cache.values[index, :, :end]  # [NKV, S, D]
            attended = F.scaled_dot_product_attention(
                qk[:, :nh].transpose(0, 1)[None], keys[None], values[None],  # [1, NH, T, D], [1, NKV, S, D]
                attn_mask=mask, is_causal=causal, enable_gqa=nh != nkv,
            )[0].transpose(0, 1).reshape(t, nh * d)  # [T, NH * D]  # fmt: skip
            x = x + layer.attn_output.linear(attended)  # [T, H]
            normed = F.rms_norm(x, (c.hidden,), layer.ffn_norm, c.norm_eps)
            gate, up = layer.gate_up(normed)  # [T, F] each
            x = x + layer.down.linear(F.silu(gate.float()) * up.float())  # in float32: SwiGLU is sensitive
        cache.length = end
        if not all_logits:
            x = x[-1:]
        return self.head.linear(F.rms_norm(x, (c.hidden,), self.output_norm, c.norm_eps)).float()  # [T or 1, V]
