"""A first-class test fake: a tiny random Llama-family GGUF, written with gguf-py's GGUFWriter.

It carries everything a real model file does (architecture metadata, a byte-level BPE vocabulary
with merges and special tokens, a ChatML chat template), so tests drive the real loading,
tokenising and forward code on a model of a few hundred kilobytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType, GGUFWriter
from gguf import quants as gguf_quants

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
MERGE_WORDS = ("the", "and", "ing", "hello", "world", "you", "is", "Ġthe", "Ġa", "Ġis")


@dataclass(frozen=True)
class TinyModelSpec:
    """The shape of a tiny model. `architecture` is llama, qwen2 (QKV bias) or qwen3 (QK-norm)."""

    architecture: str = "llama"
    hidden: int = 64
    layers: int = 2
    heads: int = 4
    kv_heads: int = 2
    ffn: int = 128
    context: int = 256
    rope_base: float = 10000.0
    tied_embeddings: bool = True
    weight_type: GGMLQuantizationType = GGMLQuantizationType.Q4_1
    embedding_type: GGMLQuantizationType = GGMLQuantizationType.Q8_0
    seed: int = 0
    tensor_types: tuple[tuple[str, GGMLQuantizationType], ...] = ()  # per weight name (e.g. "attn_v"), over weight_type

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads


def byte_level_alphabet() -> list[str]:
    """GPT-2's printable stand-ins for the 256 byte values, in byte order."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    table = dict(zip(printable, codes, strict=True))
    return [chr(table[byte]) for byte in range(256)]


def tiny_vocabulary() -> tuple[list[str], list[int], list[str]]:
    """(tokens, token types, merges) of a small byte-level BPE vocabulary."""
    tokens = list(SPECIAL_TOKENS) + byte_level_alphabet()
    merges: list[str] = []
    known = set(tokens)
    for word in MERGE_WORDS:
        current = word[0]
        for char in word[1:]:
            merged = current + char
            if merged not in known:
                merges.append(f"{current} {char}")
                tokens.append(merged)
                known.add(merged)
            current = merged
    types = [3] * len(SPECIAL_TOKENS) + [1] * (len(tokens) - len(SPECIAL_TOKENS))
    return tokens, types, merges


def _quantized(values: np.ndarray, qtype: GGMLQuantizationType) -> np.ndarray:
    if qtype == GGMLQuantizationType.F32:
        return values.astype(np.float32)
    if qtype == GGMLQuantizationType.F16:
        return values.astype(np.float16)
    return gguf_quants.quantize(values.astype(np.float32), qtype)


def write_tiny_llama_gguf(path: str | Path, spec: TinyModelSpec = TinyModelSpec()) -> Path:
    """Write a random model of `spec` to `path` and return the path."""
    path = Path(path)
    rng = np.random.default_rng(spec.seed)
    tokens, types, merges = tiny_vocabulary()
    arch = spec.architecture
    writer = GGUFWriter(str(path), arch)
    writer.add_string("general.name", f"tiny-{arch}")
    writer.add_uint32(f"{arch}.context_length", spec.context)
    writer.add_uint32(f"{arch}.embedding_length", spec.hidden)
    writer.add_uint32(f"{arch}.block_count", spec.layers)
    writer.add_uint32(f"{arch}.feed_forward_length", spec.ffn)
    writer.add_uint32(f"{arch}.attention.head_count", spec.heads)
    writer.add_uint32(f"{arch}.attention.head_count_kv", spec.kv_heads)
    writer.add_float32(f"{arch}.attention.layer_norm_rms_epsilon", 1e-5)
    writer.add_float32(f"{arch}.rope.freq_base", spec.rope_base)
    writer.add_uint32(f"{arch}.vocab_size", len(tokens))
    writer.add_string("tokenizer.ggml.model", "gpt2")
    writer.add_string("tokenizer.ggml.pre", "smollm")
    writer.add_array("tokenizer.ggml.tokens", tokens)
    writer.add_array("tokenizer.ggml.token_type", types)
    writer.add_array("tokenizer.ggml.merges", merges)
    writer.add_uint32("tokenizer.ggml.bos_token_id", 1)
    writer.add_uint32("tokenizer.ggml.eos_token_id", 2)
    writer.add_uint32("tokenizer.ggml.padding_token_id", 2)
    writer.add_bool("tokenizer.ggml.add_bos_token", False)
    writer.add_string("tokenizer.chat_template", CHATML_TEMPLATE)

    def matrix(rows: int, cols: int, scale: float) -> np.ndarray:
        return (rng.standard_normal((rows, cols)) * scale).astype(np.float32)

    def norm(size: int) -> np.ndarray:
        return (1.0 + 0.1 * rng.standard_normal(size)).astype(np.float32)

    h, kv = spec.hidden, spec.kv_heads * spec.head_dim
    weight = spec.weight_type
    writer.add_tensor("token_embd.weight", _quantized(matrix(len(tokens), h, 1.0), spec.embedding_type), raw_dtype=spec.embedding_type)
    for layer in range(spec.layers):
        prefix = f"blk.{layer}."
        for name, rows, cols in (
            ("attn_q", h, h), ("attn_k", kv, h), ("attn_v", kv, h), ("attn_output", h, h),
            ("ffn_gate", spec.ffn, h), ("ffn_up", spec.ffn, h), ("ffn_down", h, spec.ffn),
        ):  # fmt: skip
            kind = dict(spec.tensor_types).get(name, weight)
            writer.add_tensor(prefix + name + ".weight", _quantized(matrix(rows, cols, cols**-0.5), kind), raw_dtype=kind)
        writer.add_tensor(prefix + "attn_norm.weight", norm(h))
        writer.add_tensor(prefix + "ffn_norm.weight", norm(h))
        if arch == "qwen2":
            for name, size in (("attn_q", h), ("attn_k", kv), ("attn_v", kv)):
                writer.add_tensor(prefix + name + ".bias", (0.1 * rng.standard_normal(size)).astype(np.float32))
        if arch == "qwen3":
            writer.add_tensor(prefix + "attn_q_norm.weight", norm(spec.head_dim))
            writer.add_tensor(prefix + "attn_k_norm.weight", norm(spec.head_dim))
    writer.add_tensor("output_norm.weight", norm(h))
    if not spec.tied_embeddings:
        writer.add_tensor("output.weight", _quantized(matrix(len(tokens), h, h**-0.5), weight), raw_dtype=weight)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
