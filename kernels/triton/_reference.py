"""Plain-torch references for the Triton kernels: the same signatures, the same results up to rounding.

They run on any device and are the CPU path's definition of each operation: the tests compare every
kernel against the function of the same name here. All arithmetic is float32; results come back in
the input's dtype.

Shapes: M rows (tokens), K inputs, N outputs, H hidden, F feed-forward width, T tokens, NH heads,
D head size, B sequences, QH query heads, KVH key/value heads, P pages, S page size, MP pages per
sequence.
"""

from __future__ import annotations

import torch

from kernels.triton._quant_weight import BLOCK, QuantWeight


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """`x / sqrt(mean(x**2) + eps) * weight` over the last dimension: x [..., H], weight [H]."""
    x32 = x.float()
    inverse_rms = torch.rsqrt(x32.pow(2).mean(dim=-1, keepdim=True) + eps)  # [..., 1]
    return (x32 * inverse_rms * weight.float()).to(x.dtype)


def rope(x: torch.Tensor, positions: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, *, style: str = "interleaved", rope_dim: int | None = None) -> torch.Tensor:
    """Rotary embedding: each rotated pair (a, b) of a head becomes (a cos - b sin, a sin + b cos).

    x [T, NH, D]; positions [T] int (each token's own position); cos, sin [max_positions, >= rope_dim/2]
    float32, any strides: pair i of position p turns by the angle whose cosine is cos[p, i] (for
    `kernels._model.Rope`, `t = torch.view_as_real(rope.turns)` gives cos = t[..., 0], sin = t[..., 1]).
    style "interleaved" pairs dims (2i, 2i+1), "neox" pairs (i, i + rope_dim/2); rope_dim (even,
    default min(D, 2 * cos.shape[1])) dims rotate, the rest pass unchanged.
    """
    head_dim = x.shape[-1]
    rope_dim = rope_dim or min(head_dim, 2 * cos.shape[1])
    half = rope_dim // 2
    if style == "interleaved":
        first, second = torch.arange(0, rope_dim, 2), torch.arange(1, rope_dim, 2)  # [r/2] each
    else:
        first, second = torch.arange(half), torch.arange(half, rope_dim)
    x32 = x.float()
    c, s = cos[positions.long(), :half][:, None, :], sin[positions.long(), :half][:, None, :]  # [T, 1, r/2]
    a, b = x32[..., first], x32[..., second]  # [T, NH, r/2]
    out = x32.clone()
    out[..., first], out[..., second] = a * c - b * s, a * s + b * c
    return out.to(x.dtype)


def swiglu(gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    """`silu(gate) * up` in float32: gate, up [M, F] -> [M, F] in gate's dtype."""
    return (torch.nn.functional.silu(gate.float()) * up.float()).to(gate.dtype)


def paged_decode_attention(
    q: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, block_table: torch.Tensor, seq_lens: torch.Tensor, scale: float
) -> torch.Tensor:
    """One query token per sequence against its paged keys and values.

    q [B, QH, D]; k_cache, v_cache [P, S, KVH, D]; block_table [B, MP] int32 (the pages of each
    sequence in order; entries past its length are ignored); seq_lens [B] int32. Token t of sequence
    b lives at page block_table[b, t // S], slot t % S. Query head h reads key/value head
    h // (QH / KVH). A sequence of length 0 gets zeros. Returns [B, QH, D] in q's dtype.
    """
    batch, q_heads, head_dim = q.shape
    page_size, kv_heads = k_cache.shape[1], k_cache.shape[2]
    group = q_heads // kv_heads
    out = torch.zeros(batch, q_heads, head_dim, dtype=torch.float32, device=q.device)
    for b in range(batch):
        length = int(seq_lens[b])
        if length == 0:
            continue
        pages = block_table[b, : -(-length // page_size)].long()  # [pages of b]
        keys = k_cache[pages].reshape(-1, kv_heads, head_dim)[:length].float()  # [L, KVH, D]
        values = v_cache[pages].reshape(-1, kv_heads, head_dim)[:length].float()
        keys = keys.repeat_interleave(group, dim=1).transpose(0, 1)  # [QH, L, D]
        values = values.repeat_interleave(group, dim=1).transpose(0, 1)
        scores = torch.einsum("hd,hld->hl", q[b].float(), keys) * scale  # [QH, L]
        out[b] = torch.einsum("hl,hld->hd", scores.softmax(dim=-1), values)
    return out.to(q.dtype)


def dequantize(weight: QuantWeight) -> torch.Tensor:
    """The float32 weights [N, K], computed as ggml does (equal to gguf-py's dequantisation)."""
    n, k = weight.out_features, weight.in_features
    d = weight.d.float()[..., None]  # [N, K/32, 1]
    if weight.qtype == "Q8_0":
        return (weight.qs.view(n, k // BLOCK, BLOCK).float() * d).view(n, k)
    packed = weight.qs.view(n, k // BLOCK, BLOCK // 2)  # [N, K/32, 16]
    codes = torch.cat([packed & 0x0F, packed >> 4], dim=-1).float()  # [N, K/32, 32]
    if weight.qtype == "Q4_0":
        return (d * (codes - 8.0)).view(n, k)
    assert weight.m is not None
    return (d * codes + weight.m.float()[..., None]).view(n, k)


def quant_matmul(x: torch.Tensor, weight: QuantWeight, bias: torch.Tensor | None = None) -> torch.Tensor:
    """`x @ w.T (+ bias)` in float32: x [M, K] -> [M, N] in x's dtype."""
    y = x.float() @ dequantize(weight).T  # [M, N]
    if bias is not None:
        y = y + bias.float()
    return y.to(x.dtype)


quant_gemv = quant_matmul  # the kernels' two shapes of the same product
quant_gemm = quant_matmul
