"""The Llama-family forward (Llama 3.x, Qwen2/2.5, Qwen3, SmolLM2) on the CPU, with a KV cache.

Shapes: T tokens in this call, S = cached + T positions, H hidden, D head size,
NH query heads, NKV key/value heads, V vocabulary.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from kernels._config import ModelConfig, config_from_metadata
from kernels._errors import GenerationError
from kernels._gguf_file import GGUFFile
from kernels._heap import map_large_blocks_apart
from kernels._kv_cache import KVCache
from kernels._weights import Embedding, LinearGroup, LinearMode, OutputHead, WeightLoader


@dataclass(frozen=True)
class Layer:
    attn_norm: torch.Tensor  # [H]
    qkv: LinearGroup  # H -> NH*D + 2*NKV*D; q and k rows of each head in rotary pair order
    q_norm: torch.Tensor | None  # [D] (Qwen3), in rotary pair order
    k_norm: torch.Tensor | None
    attn_output: LinearGroup  # NH*D -> H
    ffn_norm: torch.Tensor
    gate_up: LinearGroup  # H -> 2*F
    down: LinearGroup  # F -> H


def rotary_pair_order(config: ModelConfig) -> np.ndarray:
    """The order of one head's dims that puts each rotary pair side by side: (2i, 2i+1) rotate together.

    GGUF files of the llama architecture already store Q/K rows that way; Qwen-style (GPT-NeoX)
    files rotate dim i with dim i + r/2, so their Q/K rows (and QK-norm weights) are reordered at
    load. Attention scores are dot products over a head's dims, unchanged by a shared reordering.
    """
    d, r = config.head_dim, config.rope_dim
    if config.rope_style == "interleaved":
        return np.arange(d)
    half = np.arange(r // 2)
    return np.concatenate([np.stack([half, half + r // 2], axis=1).reshape(-1), np.arange(r, d)])


class Rope:
    """Rotary embedding as complex multiplication: each pair (2i, 2i+1) of a head times `turns[pos, i]`."""

    def __init__(self, config: ModelConfig, max_positions: int, freq_factors: torch.Tensor | None) -> None:
        d, r = config.head_dim, config.rope_dim
        inv_freq = config.rope_base ** (-torch.arange(0, r, 2, dtype=torch.float64) / r)  # [r/2]
        if freq_factors is not None:
            inv_freq = inv_freq / freq_factors.double()[: r // 2]
        positions = torch.arange(max_positions, dtype=torch.float64) / config.rope_linear_factor
        angles = torch.zeros(max_positions, d // 2, dtype=torch.float64)  # pairs past rope_dim turn by 0
        angles[:, : r // 2] = positions[:, None] * inv_freq[None, :]
        self.turns = torch.polar(torch.ones_like(angles), angles).to(torch.complex64)  # [P, D/2]

    def table(self, start: int, count: int) -> torch.Tensor:  # complex64 [T, 1, D/2]
        return self.turns[start : start + count, None, :]

    @staticmethod
    def apply(x: torch.Tensor, turns: torch.Tensor) -> torch.Tensor:  # float32 [T, heads, D] -> [T, heads, D]
        t, heads, d = x.shape
        pairs = torch.view_as_complex(x.reshape(t, heads, d // 2, 2))  # [T, heads, D/2]
        return torch.view_as_real(pairs * turns).view(t, heads, d)


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """`x / sqrt(mean(x^2) + eps) * weight` in five small ops (F.rms_norm runs about ten on the CPU).

    [..., H] -> [..., H], computed in float32 and written in `dtype` (the next layer's input dtype:
    the same numbers as converting afterwards, one op fewer).
    """
    squares = torch.linalg.vector_norm(x, dim=-1, keepdim=True).square_()  # [..., 1]: sum of x^2
    normed = x * torch.add(eps, squares, alpha=1 / x.shape[-1]).rsqrt_()
    if dtype is None or dtype == normed.dtype:
        return normed.mul_(weight)
    return torch.mul(normed, weight, out=torch.empty(normed.shape, dtype=dtype))


class LlamaModel:
    def __init__(self, config: ModelConfig, embedding: Embedding, layers: list[Layer], output_norm: torch.Tensor,
                 head: OutputHead, rope: Rope, linear_mode: LinearMode, fallback_reason: str = "") -> None:  # fmt: skip
        self.config = config
        self.embedding = embedding
        self.layers = layers
        self.output_norm = output_norm
        self.head = head
        self.rope = rope
        self.eps = torch.tensor(config.norm_eps, dtype=torch.float32)
        scale = config.head_dim**-0.5
        exact = math.frexp(scale)[0] == 0.5  # a power of two: folding it into the queries changes no bits
        self.query_turns = rope.turns * scale if exact else rope.turns  # complex64 [P, D/2]
        self.score_scale = 1.0 if exact else scale
        self.linear_mode = linear_mode  # "fused" unless the self-test on load failed
        self.fallback_reason = fallback_reason

    @classmethod
    def load(cls, file: GGUFFile, vocab_size: int, mode: LinearMode = "fused", max_positions: int | None = None) -> LlamaModel:
        config = config_from_metadata(file.metadata, vocab_size, file.path)
        map_large_blocks_apart()  # so conversion and prefill temporaries leave nothing resident behind
        loader = WeightLoader(file, mode)
        h, d, nh, nkv, f = config.hidden, config.head_dim, config.heads, config.kv_heads, config.ffn
        pair = rotary_pair_order(config)  # [D]
        q_order, k_order = [(np.arange(heads)[:, None] * d + pair[None, :]).reshape(-1) for heads in (nh, nkv)]
        layers = []
        for index in range(config.layers):
            p = f"blk.{index}."
            qkv_names = [p + "attn_q.weight", p + "attn_k.weight", p + "attn_v.weight"]
            qkv_shapes = [(nh * d, h), (nkv * d, h), (nkv * d, h)]
            qkv_bias = [n.replace(".weight", ".bias") for n in qkv_names] if config.qkv_bias else []
            layers.append(Layer(
                attn_norm=loader.vector(p + "attn_norm.weight", h),
                qkv=loader.linear(qkv_names, qkv_shapes, qkv_bias, orders=[q_order, k_order, None]),
                q_norm=loader.vector(p + "attn_q_norm.weight", d, pair) if config.qk_norm else None,
                k_norm=loader.vector(p + "attn_k_norm.weight", d, pair) if config.qk_norm else None,
                attn_output=loader.linear([p + "attn_output.weight"], [(h, nh * d)]),
                ffn_norm=loader.vector(p + "ffn_norm.weight", h),
                gate_up=loader.linear([p + "ffn_gate.weight", p + "ffn_up.weight"], [(f, h), (f, h)]),
                down=loader.linear([p + "ffn_down.weight"], [(h, f)]),
            ))  # fmt: skip
        loader.require("token_embd.weight", (vocab_size, h))
        head_name = "output.weight" if "output.weight" in file.tensors else "token_embd.weight"
        factors = loader.vector("rope_freqs.weight", config.rope_dim // 2) if "rope_freqs.weight" in file.tensors else None
        positions = min(config.context_length, max_positions or config.context_length)
        head = OutputHead(loader.linear([head_name], [(vocab_size, h)]), Embedding(file, head_name))
        return cls(
            config, Embedding(file, "token_embd.weight"), layers, loader.vector("output_norm.weight", h),
            head, Rope(config, positions, factors), loader.mode, loader.fallback_reason,
        )  # fmt: skip

    @property
    def max_positions(self) -> int:
        return self.rope.turns.shape[0]

    def new_cache(self, max_tokens: int | None = None) -> KVCache:
        c = self.config
        return KVCache(c.layers, c.kv_heads, c.head_dim, min(max_tokens or self.max_positions, self.max_positions))

    @torch.inference_mode()
    def forward(self, token_ids: Sequence[int], cache: KVCache, *, all_logits: bool = False) -> torch.Tensor:
        """Run `token_ids` after what `cache` holds; logits [T, V] (or [1, V] for the last token)."""
        start, t = cache.length, len(token_ids)
        if t == 0:
            raise GenerationError("nothing to run: no tokens")
        if start + t > cache.max_tokens:
            raise GenerationError(f"the context is full: {start + t} tokens exceed the limit of {cache.max_tokens}")
        cache.reserve(start + t)
        x = self._decode(token_ids[0], cache, start) if t == 1 else self._prefill(token_ids, cache, start)  # [T, H]
        cache.length = start + t
        if not all_logits:
            x = x[-1:]
        return self.head.whole(rms_norm(x, self.output_norm, self.eps)).float()  # [T or 1, V]

    def _prefill(self, token_ids: Sequence[int], cache: KVCache, start: int) -> torch.Tensor:  # -> float32 [T, H]
        c, t = self.config, len(token_ids)
        end = start + t
        nh, nkv, d = c.heads, c.kv_heads, c.head_dim
        k_end = (nh + nkv) * d
        # query i sees keys 0 .. start + i
        mask = None if start == 0 else torch.arange(end)[None, :] <= torch.arange(start, end)[:, None]  # [T, S]
        eps, turns = self.eps, self.rope.table(start, t)  # turns: complex64 [T, 1, D/2]
        x = self.embedding(token_ids)  # float32 [T, H], the residual stream
        for layer, keys, values in zip(self.layers, cache.keys, cache.values):  # [NKV, capacity, D] each
            qkv = layer.qkv.whole(rms_norm(x, layer.attn_norm, eps, layer.qkv.input_dtype)).float()  # [T, (NH + 2 NKV) D]
            qk = qkv[:, :k_end].view(t, nh + nkv, d)
            if layer.q_norm is not None and layer.k_norm is not None:
                qk = torch.cat([rms_norm(qk[:, :nh], layer.q_norm, eps), rms_norm(qk[:, nh:], layer.k_norm, eps)], dim=1)
            qk = Rope.apply(qk, turns)  # [T, NH + NKV, D]
            keys.narrow(1, start, t).copy_(qk[:, nh:].transpose(0, 1))  # [NKV, T, D]
            values.narrow(1, start, t).copy_(qkv[:, k_end:].view(t, nkv, d).transpose(0, 1))
            attended = F.scaled_dot_product_attention(
                qk[:, :nh].transpose(0, 1)[None], keys[None, :, :end], values[None, :, :end],  # [1, NH, T, D], [1, NKV, S, D]
                attn_mask=mask, is_causal=mask is None, enable_gqa=nh != nkv,
            )[0].transpose(0, 1).reshape(t, nh * d)  # [T, NH * D]  # fmt: skip
            x.add_(layer.attn_output.whole(attended))
            gate, up = layer.gate_up(rms_norm(x, layer.ffn_norm, eps, layer.gate_up.input_dtype))  # [T, F] each
            x.add_(layer.down.whole(swiglu(gate, up, layer.down.input_dtype)))
        return x

    def _decode(self, token_id: int, cache: KVCache, position: int) -> torch.Tensor:  # -> float32 [1, H]
        """One token: the prefill's arithmetic in fewer, smaller ops (decode is bound by per-op costs).

        RoPE writes each key straight into the cache; queries turn by `query_turns`, which carry the
        attention scale when it is a power of two (exact, so the scores are the same numbers).
        """
        c = self.config
        nh, nkv, d = c.heads, c.kv_heads, c.head_dim
        k_end, end, eps = (nh + nkv) * d, position + 1, self.eps
        turns, query_turns = self.rope.turns[position], self.query_turns[position]  # complex64 [D/2]
        x = self.embedding([token_id])  # float32 [1, H], the residual stream
        for layer, keys, values in zip(self.layers, cache.keys, cache.values):  # [NKV, capacity, D] each
            qkv = layer.qkv.whole(rms_norm(x, layer.attn_norm, eps, layer.qkv.input_dtype))[0]  # [(NH + 2 NKV) D]
            qk = qkv[:k_end].float().view(nh + nkv, d)
            if layer.q_norm is not None and layer.k_norm is not None:
                qk = torch.cat([rms_norm(qk[:nh], layer.q_norm, eps), rms_norm(qk[nh:], layer.k_norm, eps)])
            pairs = torch.view_as_complex(qk.view(nh + nkv, d // 2, 2))  # [NH + NKV, D/2]
            torch.mul(pairs[nh:], turns, out=torch.view_as_complex(keys[:, position].view(nkv, d // 2, 2)))
            values[:, position].copy_(qkv[k_end:].view(nkv, d))
            queries = torch.view_as_real(pairs[:nh] * query_turns).view(nkv, nh // nkv, d)  # grouped by shared KV head
            scores = torch.bmm(queries, keys[:, :end].transpose(1, 2))  # [NKV, NH/NKV, S]
            if self.score_scale != 1.0:
                scores.mul_(self.score_scale)
            attended = torch.bmm(torch.softmax(scores, dim=-1), values[:, :end])  # [NKV, NH/NKV, D]
            x.add_(layer.attn_output.whole(attended.view(1, nh * d).to(layer.attn_output.input_dtype)))
            gate, up = layer.gate_up(rms_norm(x, layer.ffn_norm, eps, layer.gate_up.input_dtype))  # [1, F] each
            x.add_(layer.down.whole(swiglu(gate, up, layer.down.input_dtype)))
        return x


def swiglu(gate: torch.Tensor, up: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:  # [T, F] -> [T, F] in `dtype`
    """silu(gate) * up in float32 (SwiGLU is sensitive to rounding), written in `dtype`."""
    activated = F.silu(gate.float())
    if dtype == torch.float32:
        return activated.mul_(up)
    return torch.mul(activated, up, out=torch.empty(activated.shape, dtype=dtype))
