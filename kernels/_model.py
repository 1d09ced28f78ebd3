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

from kernels import _fused_cpu as fused
from kernels._config import ModelConfig, config_from_metadata
from kernels._cpu_attention import attend_contiguous
from kernels._decode_layers import DecodeAttention, DecodeLayers
from kernels._errors import GenerationError
from kernels._gguf_file import GGUFFile
from kernels._heap import map_large_blocks_apart
from kernels._kernel_jobs import rest
from kernels._kv_cache import KVCache
from kernels._prefill_attention import prefill_attention
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

    # The forward turns pairs in kernels/_fused_cpu.py from `turns` as a (cos, sin) table; `apply` is the
    # same rotation in plain torch: the reference that tests check those kernels and the Triton ones against.
    def table(self, start: int, count: int) -> torch.Tensor:  # complex64 [T, 1, D/2]
        return self.turns[start : start + count, None, :]

    @staticmethod
    def apply(x: torch.Tensor, turns: torch.Tensor) -> torch.Tensor:  # float32 [T, heads, D] -> [T, heads, D]
        t, heads, d = x.shape
        pairs = torch.view_as_complex(x.reshape(t, heads, d // 2, 2))  # [T, heads, D/2]
        return torch.view_as_real(pairs * turns).view(t, heads, d)


class LlamaModel:
    def __init__(self, config: ModelConfig, embedding: Embedding, layers: list[Layer], output_norm: torch.Tensor,
                 head: OutputHead, rope: Rope, linear_mode: LinearMode, fallback_reason: str = "") -> None:  # fmt: skip
        self.config = config
        self.embedding = embedding
        self.layers = layers
        self.output_norm = output_norm
        self.head = head
        self.rope = rope
        scale = config.head_dim**-0.5
        exact = math.frexp(scale)[0] == 0.5  # a power of two: folding it into the queries changes no bits
        self.key_table = fused.rotary_table(rope.turns)  # float32 [P, D/2, 2]: (cos, sin), shares rope.turns' memory
        self.query_table = fused.rotary_table(rope.turns * scale) if exact else self.key_table  # for one token's queries
        self.score_scale = 1.0 if exact else scale
        self.linear_mode = linear_mode  # "fused" unless the self-test on load failed
        self.fallback_reason = fallback_reason
        # a generated token's layers in one compiled call where the layers allow it (None: op by op, as a prompt runs)
        self.decode_layers = DecodeLayers.of(layers, config)

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
        """Run `token_ids` after what `cache` holds; logits [T, V] (or [1, V] for the last token).

        The small ops between the matmuls are the fused kernels of kernels/_fused_cpu.py: each
        layer's residual add and RMSNorm in one call, its attention prologue (QK-norm, RoPE, the
        KV cache writes) in one, SwiGLU in one.
        """
        c, start, t = self.config, cache.length, len(token_ids)
        if t == 0:
            raise GenerationError("nothing to run: no tokens")
        if start + t > cache.max_tokens:
            raise GenerationError(f"the context is full: {start + t} tokens exceed the limit of {cache.max_tokens}")
        cache.reserve(start + t)
        positions = np.arange(start, start + t, dtype=np.int64)  # [T], also each row's cache slot
        # a generated token (one token after others) attends in its own leaner way, its queries turned by the scaled
        # table; a prompt, even of one token, as prompts do (kernels/_prefill_attention.py)
        decode = t == 1 and start > 0
        query_table = self.query_table if decode else self.key_table
        eps = c.norm_eps
        x = self.embedding(token_ids)  # float32 [T, H], the residual stream
        residual: torch.Tensor | None = None  # the last layer output not yet added to x
        if decode and self.decode_layers is not None:  # the same kernels in the same order, without Python between them
            attention = DecodeAttention.contiguous(start + 1, self.score_scale)
            residual = self.decode_layers.run(x, positions, positions, query_table, self.key_table, cache.keys, cache.values, attention)
        for layer, keys, values in zip(self.layers if residual is None else (), cache.keys, cache.values):  # [NKV, capacity, D] each
            qkv = layer.qkv.whole(fused.rms_norm(x, residual, layer.attn_norm, eps, layer.qkv.input_dtype))  # [T, (NH + 2 NKV) D]
            queries = fused.attention_inputs(qkv, c.heads, layer.q_norm, layer.k_norm, eps, positions,
                                             query_table, self.key_table, keys, values, positions)  # [T, NH, D]  # fmt: skip
            attended = self._decode_attention(queries, keys, values, start) if decode else self._prefill_attention(queries, keys, values, start)
            residual = layer.attn_output.whole(attended)  # [T, H]
            gate_up = layer.gate_up.whole(fused.rms_norm(x, residual, layer.ffn_norm, eps, layer.gate_up.input_dtype))  # [T, 2F]
            residual = layer.down.whole(fused.swiglu(gate_up, layer.down.input_dtype))  # [T, H]
        cache.length = start + t
        assert residual is not None  # a model has layers
        if not all_logits:
            x, residual = x[-1:], residual[-1:]
        return self.head.whole(fused.rms_norm(x, residual, self.output_norm, eps)).float()  # [T or 1, V]

    def _prefill_attention(self, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, start: int) -> torch.Tensor:
        """queries float32 [T, NH, D]; keys, values [NKV, capacity, D] holding positions 0 .. start + T -> [T, NH * D]."""
        c, t = self.config, queries.shape[0]
        end = start + t
        rest()  # torch's threads compute it: the kernels' workers sleep meanwhile
        return prefill_attention(  # causal: query i sees keys 0 .. start + i
            queries.transpose(0, 1)[None], keys[None, :, :end], values[None, :, :end], None,  # [1, NH, T, D], [1, NKV, S, D]
        )[0].transpose(0, 1).reshape(t, c.heads * c.head_dim)  # fmt: skip

    def _decode_attention(self, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, position: int) -> torch.Tensor:
        """One token's queries [1, NH, D], turned by `query_table` (carrying the attention scale when
        it is a power of two: exact) -> [1, NH * D]: the engine's decode kernel over the contiguous
        cache, so a sequence's numbers here and in the engine are the same bits."""
        nh, d = self.config.heads, self.config.head_dim
        q = queries.reshape(nh, d).contiguous().numpy()
        out = attend_contiguous(keys.numpy(), values.numpy(), q, position + 1, self.score_scale)  # [NH, D]
        return torch.from_numpy(out).view(1, nh * d)
