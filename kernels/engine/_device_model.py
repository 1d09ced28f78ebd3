"""The model's weights on a GPU for the Triton path, loaded straight from the GGUF file's raw blocks.

Q4_0, Q4_1 and Q8_0 weights stay quantised (`kernels.triton.QuantWeight`, the file's bytes
repacked); q/k/v and gate/up are stacked into one weight each, so one kernel computes them. Other
formats (Q4_K, Q5_K, Q6_K, F16, BF16, F32) have no fused kernel: they are dequantised once, into a
16-bit matrix (F32 and BF16 keep their own type; float32 on a float32 model, the interpreter's).
Norms, biases and rotary angles are float32. The token embedding stays in its quantised form and
rows are dequantised when looked up (exact float32, as the CPU path's); a tied output head reads
the same weight.

Precision: the residual stream is float32. Up to GEMV_MAX_M rows (decode) the linears take float32
activations (the GEMV's arithmetic is float32 anyway; activations are a sliver of the bytes); above
it (prefill) they take `dtype` (bfloat16 on a GPU: tensor-core dots, no float16 overflow). The
output head always takes float32, so logits are not rounded to 16 bits. The KV cache is `dtype`.

The runner (kernels/engine/_runner.py) reads these objects as it reads a `LlamaModel`: `embedding`,
`layers` (attn_norm, qkv, q_norm, k_norm, attn_output, ffn_norm, gate_up, down), `output_norm`,
`head`, `rope.turns`, `config`, `max_positions`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from gguf import GGMLQuantizationType as Q

import kernels.triton as kt
from kernels._config import ModelConfig, config_from_metadata
from kernels._gguf_file import GGUFFile
from kernels._model import Rope, rotary_pair_order
from kernels._quants import dequantize
from kernels._weights import WeightLoader

FUSED_TYPES = (Q.Q4_0, Q.Q4_1, Q.Q8_0)
DENSE_ROWS = 4096  # rows dequantised at a time: never a float32 copy of a whole large weight
Part = kt.QuantWeight | torch.Tensor  # a fused-kernel weight, or a dense [N, K] matrix


def linear_part(part: Part, x: torch.Tensor, bias: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor:
    """float32 x [M, K] -> float32 [M, N]."""
    if isinstance(part, kt.QuantWeight):
        if x.shape[0] <= kt.GEMV_MAX_M or dtype == torch.float32:
            return kt.quant_matmul(x, part, bias)
        return kt.quant_matmul(x.to(dtype), part, bias).float()
    y = F.linear(x.to(part.dtype), part).float()
    return y if bias is None else y.add_(bias)


@dataclass(frozen=True)
class DeviceLinear:
    """Weights computed side by side (stacked where their formats allow); `sizes` splits the output."""

    parts: tuple[Part, ...]
    biases: tuple[torch.Tensor | None, ...]
    sizes: tuple[int, ...]
    dtype: torch.dtype  # the activations' width above GEMV_MAX_M rows

    def whole(self, x: torch.Tensor) -> torch.Tensor:  # float32 [M, K] -> float32 [M, sum(sizes)]
        outputs = [linear_part(p, x, b, self.dtype) for p, b in zip(self.parts, self.biases, strict=True)]
        return outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=-1)

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.whole(x).split(self.sizes, dim=-1)

    @property
    def input_dtype(self) -> torch.dtype:  # what `whole` takes (it narrows for its kernels itself)
        return torch.float32

    @property
    def nbytes(self) -> int:
        return sum(p.nbytes if isinstance(p, kt.QuantWeight) else p.numel() * p.element_size() for p in self.parts)


class DeviceEmbedding:
    """Token embeddings: rows of the (quantised) weight, dequantised to float32 when looked up."""

    def __init__(self, weight: Part) -> None:
        self.weight = weight
        self.device = weight.device

    def __call__(self, token_ids: Sequence[int]) -> torch.Tensor:  # -> float32 [T, H]
        ids = torch.tensor(list(token_ids), dtype=torch.long, device=self.device)
        w = self.weight
        if isinstance(w, kt.QuantWeight):
            rows = kt.QuantWeight(w.qtype, w.qs[ids], w.d[ids], None if w.m is None else w.m[ids])
            return kt.reference.dequantize(rows)
        return w[ids].float()


@dataclass(frozen=True)
class DeviceLayer:
    attn_norm: torch.Tensor  # [H]
    qkv: DeviceLinear  # H -> NH*D + 2*NKV*D; q and k rows of each head in rotary pair order
    q_norm: torch.Tensor | None  # [D] (Qwen3), in rotary pair order
    k_norm: torch.Tensor | None
    attn_output: DeviceLinear  # NH*D -> H
    ffn_norm: torch.Tensor
    gate_up: DeviceLinear  # H -> 2*F
    down: DeviceLinear  # F -> H


class DeviceModel:
    def __init__(self, config: ModelConfig, embedding: DeviceEmbedding, layers: list[DeviceLayer], output_norm: torch.Tensor,
                 head: DeviceLinear, rope: Rope, device: torch.device, dtype: torch.dtype, description: str) -> None:  # fmt: skip
        self.config = config
        self.embedding = embedding
        self.layers = layers
        self.output_norm = output_norm
        self.head = head
        self.rope = rope  # its turns on the device
        self.device = device
        self.dtype = dtype
        self.description = description

    @property
    def max_positions(self) -> int:
        return self.rope.turns.shape[0]

    def bytes_per_token(self) -> int:
        """Weight bytes one decode step reads (every linear and the head; embedding rows are negligible)."""
        linears = [linear for layer in self.layers for linear in (layer.qkv, layer.attn_output, layer.gate_up, layer.down)]
        return sum(linear.nbytes for linear in linears) + self.head.nbytes

    @classmethod
    def load(cls, file: GGUFFile, vocab_size: int, device: torch.device | str, description: str = "",
             *, max_positions: int | None = None, dtype: torch.dtype | None = None) -> DeviceModel:  # fmt: skip
        device = torch.device(device)
        dtype = dtype or (torch.float32 if device.type == "cpu" else torch.bfloat16)
        if dtype not in (torch.float16, torch.bfloat16, torch.float32):
            raise ValueError(f"the Triton path computes in float16, bfloat16 or float32, not {dtype}")
        config = config_from_metadata(file.metadata, vocab_size, file.path)
        weights = _Weights(file, device, dtype)
        h, d, nh, nkv, f = config.hidden, config.head_dim, config.heads, config.kv_heads, config.ffn
        pair = rotary_pair_order(config)  # [D]
        q_order, k_order = [(np.arange(heads)[:, None] * d + pair[None, :]).reshape(-1) for heads in (nh, nkv)]
        layers = []
        for index in range(config.layers):
            p = f"blk.{index}."
            qkv = [p + "attn_q.weight", p + "attn_k.weight", p + "attn_v.weight"]
            layers.append(DeviceLayer(
                attn_norm=weights.vector(p + "attn_norm.weight", h),
                qkv=weights.linear(qkv, [(nh * d, h), (nkv * d, h), (nkv * d, h)], [q_order, k_order, None],
                                   [n.replace(".weight", ".bias") for n in qkv] if config.qkv_bias else []),
                q_norm=weights.vector(p + "attn_q_norm.weight", d, pair) if config.qk_norm else None,
                k_norm=weights.vector(p + "attn_k_norm.weight", d, pair) if config.qk_norm else None,
                attn_output=weights.linear([p + "attn_output.weight"], [(h, nh * d)]),
                ffn_norm=weights.vector(p + "ffn_norm.weight", h),
                gate_up=weights.linear([p + "ffn_gate.weight", p + "ffn_up.weight"], [(f, h), (f, h)]),
                down=weights.linear([p + "ffn_down.weight"], [(h, f)]),
            ))  # fmt: skip
        embedding = weights.matrix("token_embd.weight", (vocab_size, h))
        if "output.weight" in file.tensors:
            head = weights.linear(["output.weight"], [(vocab_size, h)], dtype=torch.float32)
        else:  # tied: the head reads the embedding's weight
            head = DeviceLinear((embedding,), (None,), (vocab_size,), torch.float32)
        factors = weights.vector("rope_freqs.weight", config.rope_dim // 2) if "rope_freqs.weight" in file.tensors else None
        rope = Rope(config, min(config.context_length, max_positions or config.context_length), None if factors is None else factors.cpu())
        rope.turns = rope.turns.to(device)
        return cls(config, DeviceEmbedding(embedding), layers, weights.vector("output_norm.weight", h), head, rope,
                   device, dtype, description or f"triton on {device}")  # fmt: skip


class _Weights:
    """Tensors of the file as device tensors, one at a time from its raw bytes (the mapped pages dropped after)."""

    def __init__(self, file: GGUFFile, device: torch.device, dtype: torch.dtype) -> None:
        self.file = file
        self.device = device
        self.dtype = dtype
        self.checks = WeightLoader(file, "fallback")  # shape checks and float32 vectors only: it packs nothing

    def vector(self, name: str, size: int, order: np.ndarray | None = None) -> torch.Tensor:  # float32 [size]
        return self.checks.vector(name, size, order).to(self.device)

    def matrix(self, name: str, shape: tuple[int, int], order: np.ndarray | None = None) -> Part:
        self.checks.require(name, shape)
        qtype = self.file.tensors[name].qtype
        rows, cols = shape
        raw = self.file.tensor_bytes(name).reshape(rows, -1)  # [N, bytes per row], memory-mapped
        if order is not None:
            raw = raw[order]
        if qtype in FUSED_TYPES:
            blocks = torch.from_numpy(np.array(raw, dtype=np.uint8, copy=True)).to(self.device)
            weight: Part = kt.pack_quant_weight(blocks, qtype, shape)
        else:
            weight = torch.empty(rows, cols, dtype=self._dense_dtype(qtype), device=self.device)
            for start in range(0, rows, DENSE_ROWS):
                block = raw[start : start + DENSE_ROWS]
                values = dequantize(np.ascontiguousarray(block).reshape(-1), qtype, (len(block), cols))  # float32
                weight[start : start + len(block)] = torch.from_numpy(values).to(self.device)
        self.file.release_pages(name)
        return weight

    def _dense_dtype(self, qtype: Q) -> torch.dtype:
        if qtype == Q.F32 or self.dtype == torch.float32:
            return torch.float32
        return torch.bfloat16 if qtype == Q.BF16 else torch.float16

    def linear(self, names: Sequence[str], shapes: Sequence[tuple[int, int]], orders: Sequence[np.ndarray | None] | None = None,
               bias_names: Sequence[str] = (), dtype: torch.dtype | None = None) -> DeviceLinear:  # fmt: skip
        orders = list(orders) if orders is not None else [None] * len(names)
        weights = [self.matrix(n, s, o) for n, s, o in zip(names, shapes, orders, strict=True)]
        biases = [self.vector(b, s[0], o) for b, s, o in zip(bias_names, shapes, orders, strict=True)] if bias_names else None
        parts: list[Part] = []
        part_biases: list[torch.Tensor | None] = []
        start = 0
        for run in _stackable_runs(weights):
            rows = sum(_rows(w) for w in run)
            parts.append(run[0] if len(run) == 1 else _stack(run))
            part_biases.append(None if biases is None else torch.cat(biases)[start : start + rows].contiguous())
            start += rows
        return DeviceLinear(tuple(parts), tuple(part_biases), tuple(s[0] for s in shapes), dtype or self.dtype)


def _rows(weight: Part) -> int:
    return weight.out_features if isinstance(weight, kt.QuantWeight) else weight.shape[0]


def _stack(run: list[Part]) -> Part:
    if isinstance(run[0], kt.QuantWeight):
        return kt.concat_quant_weights([w for w in run if isinstance(w, kt.QuantWeight)])
    return torch.cat([w for w in run if isinstance(w, torch.Tensor)])


def _stackable_runs(weights: list[Part]) -> list[list[Part]]:
    """Consecutive weights one kernel can compute together: one quant type (or one dense dtype) and one K."""
    runs: list[list[Part]] = []
    for weight in weights:
        if runs and _key(runs[-1][-1]) == _key(weight):
            runs[-1].append(weight)
        else:
            runs.append([weight])
    return runs


def _key(weight: Part) -> tuple[str, int]:
    if isinstance(weight, kt.QuantWeight):
        return weight.qtype, weight.in_features
    return str(weight.dtype), weight.shape[1]
