"""A float reference forward, written apart from the fast path: gguf-py reads and dequantises the
weights, plain torch does the math in float64 over the whole sequence, no cache, rotary embedding
in complex numbers. Tests compare the engine against it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from gguf import GGUFReader
from gguf import quants as gguf_quants


class ReferenceModel:
    def __init__(self, path: Path, dtype: torch.dtype = torch.float64) -> None:
        self.dtype = dtype
        reader = GGUFReader(path)
        self.arch = bytes(reader.fields["general.architecture"].parts[-1]).decode()

        def field(key: str, default: float | None = None) -> float:
            entry = reader.fields.get(f"{self.arch}.{key}")
            return default if entry is None else entry.parts[-1][0].item()

        self.hidden = int(field("embedding_length"))
        self.layers = int(field("block_count"))
        self.heads = int(field("attention.head_count"))
        self.kv_heads = int(field("attention.head_count_kv", self.heads))
        self.eps = float(field("attention.layer_norm_rms_epsilon"))
        self.base = float(field("rope.freq_base", 10000.0))
        self.head_dim = self.hidden // self.heads
        self.weights: dict[str, torch.Tensor] = {}
        for tensor in reader.tensors:
            values = gguf_quants.dequantize(np.asarray(tensor.data), tensor.tensor_type)
            shape = tuple(int(d) for d in reversed(tensor.shape.tolist()))
            self.weights[tensor.name] = torch.from_numpy(values.reshape(shape)).to(dtype)

    def w(self, name: str) -> torch.Tensor:
        return self.weights[name]

    def norm(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return x / torch.sqrt((x * x).mean(-1, keepdim=True) + self.eps) * weight

    def rotate(self, x: torch.Tensor) -> torch.Tensor:  # x [T, heads, D]
        t, _, d = x.shape
        freqs = self.base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)  # angles in float64 always
        turns = torch.polar(torch.ones(t, d // 2, dtype=torch.float64), torch.arange(t, dtype=torch.float64)[:, None] * freqs)
        if self.arch == "llama":  # adjacent pairs
            pairs = torch.view_as_complex(x.reshape(t, -1, d // 2, 2).contiguous())
            return torch.view_as_real(pairs * turns[:, None, :].to(pairs.dtype)).reshape(x.shape)
        half = d // 2  # the two halves of each head
        pairs = torch.complex(x[..., :half], x[..., half:]) * turns[:, None, :].to(torch.complex(x[..., :1], x[..., :1]).dtype)
        return torch.cat([pairs.real, pairs.imag], dim=-1)

    @torch.inference_mode()
    def logits(self, tokens: list[int]) -> torch.Tensor:  # -> [T, V]
        t, d = len(tokens), self.head_dim
        x = self.w("token_embd.weight")[tokens]
        causal = torch.ones(t, t, dtype=torch.bool).tril()
        for i in range(self.layers):
            p = f"blk.{i}."
            h = self.norm(x, self.w(p + "attn_norm.weight"))
            q, k, v = (h @ self.w(p + f"attn_{n}.weight").T for n in "qkv")
            if p + "attn_q.bias" in self.weights:
                q, k, v = q + self.w(p + "attn_q.bias"), k + self.w(p + "attn_k.bias"), v + self.w(p + "attn_v.bias")
            q, k, v = q.view(t, self.heads, d), k.view(t, self.kv_heads, d), v.view(t, self.kv_heads, d)
            if p + "attn_q_norm.weight" in self.weights:
                q, k = self.norm(q, self.w(p + "attn_q_norm.weight")), self.norm(k, self.w(p + "attn_k_norm.weight"))
            q, k = self.rotate(q), self.rotate(k)
            repeat = self.heads // self.kv_heads
            k, v = k.repeat_interleave(repeat, dim=1), v.repeat_interleave(repeat, dim=1)
            scores = torch.einsum("qhd,khd->hqk", q, k) / d**0.5
            attention = torch.softmax(scores.masked_fill(~causal, float("-inf")), dim=-1)
            out = torch.einsum("hqk,khd->qhd", attention, v).reshape(t, -1)
            x = x + out @ self.w(p + "attn_output.weight").T
            h = self.norm(x, self.w(p + "ffn_norm.weight"))
            gate, up = h @ self.w(p + "ffn_gate.weight").T, h @ self.w(p + "ffn_up.weight").T
            x = x + (torch.nn.functional.silu(gate) * up) @ self.w(p + "ffn_down.weight").T
        head = self.weights.get("output.weight", self.w("token_embd.weight"))
        return self.norm(x, self.w("output_norm.weight")) @ head.T
