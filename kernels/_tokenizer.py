"""The tokenizer stored in GGUF metadata, rebuilt as a HF `tokenizers` tokenizer.

`tokenizer.ggml.model = gpt2`: byte-level BPE from the vocabulary and merges, pre-tokenised the
way `tokenizer.ggml.pre` names. `llama`: SentencePiece-style BPE whose merges come from the piece
scores (as transformers' LlamaConverter does), with byte fallback.

The tokenizer keeps no Python copy of the vocabulary: the token texts live in one UTF-8 blob
(`token_text`, `tokens` rebuild them on demand), so once it is built the metadata's string lists
(`METADATA_ARRAYS`, tens of MiB as Python objects) can be dropped from the file (`GGUFFile.forget`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

from kernels._errors import ModelFileError

CONTROL, USER_DEFINED = 3, 4
GPT2_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN2_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_SPLIT_PATTERNS = {"llama-bpe": LLAMA3_PATTERN, "llama3": LLAMA3_PATTERN, "qwen2": QWEN2_PATTERN, "qwen35": QWEN2_PATTERN}
_DIGIT_SPLITTING = {"smollm", "starcoder", "refact"}
METADATA_ARRAYS = ("tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.scores")


class GGUFTokenizer:
    """Encode and decode with the vocabulary of a GGUF file; knows its special tokens."""

    def __init__(self, metadata: Mapping[str, Any], path: str | Path = "<metadata>") -> None:
        kind = metadata.get("tokenizer.ggml.model")
        tokens = metadata.get("tokenizer.ggml.tokens")
        if not isinstance(tokens, list) or not tokens:
            raise ModelFileError(path, "no tokenizer.ggml.tokens in the metadata")
        types = list(metadata.get("tokenizer.ggml.token_type", [1] * len(tokens)))
        if len(types) != len(tokens):
            raise ModelFileError(path, "tokenizer.ggml.token_type and tokenizer.ggml.tokens differ in length")
        if kind == "gpt2":
            self.backend = _byte_level_bpe(tokens, metadata.get("tokenizer.ggml.merges", []), metadata, path)
        elif kind == "llama":
            self.backend = _sentencepiece_bpe(tokens, metadata, path)
        else:
            raise ModelFileError(path, f"tokenizer model {kind!r} is not supported (supported: gpt2, llama)")
        specials = [
            AddedToken(token, special=kind_ == CONTROL, normalized=False)
            for token, kind_ in zip(tokens, types, strict=True)
            if kind_ in (CONTROL, USER_DEFINED)
        ]
        self.backend.add_special_tokens([t for t in specials if t.special])
        self.backend.add_tokens([t for t in specials if not t.special])
        encoded = [token.encode("utf-8") for token in tokens]
        self._token_bytes = b"".join(encoded)
        self._token_ends = np.cumsum([len(piece) for piece in encoded], dtype=np.int64)  # [V]
        del encoded
        self.vocab_size = len(tokens)
        self.bos_id = _token_id(metadata, "bos", len(tokens), path)
        self.eos_id = _token_id(metadata, "eos", len(tokens), path)
        self.add_bos = bool(metadata.get("tokenizer.ggml.add_bos_token", kind == "llama")) and self.bos_id is not None
        ends = {_token_id(metadata, name, len(tokens), path) for name in ("eos", "eot", "eom")}
        self.stop_ids: frozenset[int] = frozenset(i for i in ends if i is not None)

    def token_text(self, token_id: int) -> str:
        if not 0 <= token_id < self.vocab_size:
            raise IndexError(f"token id {token_id} is outside the vocabulary of {self.vocab_size}")
        start = int(self._token_ends[token_id - 1]) if token_id else 0
        return self._token_bytes[start : int(self._token_ends[token_id])].decode("utf-8")

    @property
    def tokens(self) -> list[str]:
        """Every token's text, by id (a new list each time: keep it only while it is needed)."""
        text, ends = self._token_bytes, self._token_ends.tolist()
        return [text[start:end].decode("utf-8") for start, end in zip([0, *ends[:-1]], ends, strict=True)]

    @property
    def bos_token(self) -> str:
        return self.token_text(self.bos_id) if self.bos_id is not None else ""

    @property
    def eos_token(self) -> str:
        return self.token_text(self.eos_id) if self.eos_id is not None else ""

    def encode(self, text: str, *, add_bos: bool | None = None) -> list[int]:
        """Token ids of `text`; special tokens written in the text become their ids."""
        ids = self.backend.encode(text, add_special_tokens=False).ids
        if (self.add_bos if add_bos is None else add_bos) and self.bos_id is not None:
            ids = [self.bos_id, *ids]
        return ids

    def decode(self, ids: Sequence[int], *, skip_special: bool = True) -> str:
        return self.backend.decode(list(ids), skip_special_tokens=skip_special)


def _token_id(metadata: Mapping[str, Any], name: str, vocab_size: int, path: str | Path) -> int | None:
    value = metadata.get(f"tokenizer.ggml.{name}_token_id")
    if value is None:
        return None
    if not isinstance(value, int) or not 0 <= value < vocab_size:
        raise ModelFileError(path, f"tokenizer.ggml.{name}_token_id {value!r} is outside the vocabulary")
    return value


def _byte_level_bpe(tokens: list[str], merges: Sequence[str], metadata: Mapping[str, Any], path: str | Path) -> Tokenizer:
    pairs = []
    for merge in merges:
        left, space, right = merge.partition(" ")
        if not space:
            raise ModelFileError(path, f"tokenizer merge {merge!r} is not two tokens")
        pairs.append((left, right))
    vocab = {token: index for index, token in enumerate(tokens)}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=pairs, fuse_unk=False, ignore_merges=False))
    pre = metadata.get("tokenizer.ggml.pre", "default")
    if pre in _SPLIT_PATTERNS:
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(_SPLIT_PATTERNS[pre]), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
    else:
        steps = [pre_tokenizers.Digits(individual_digits=True)] if pre in _DIGIT_SPLITTING else []
        steps.append(pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True))
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence(steps)
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer


def _sentencepiece_bpe(tokens: list[str], metadata: Mapping[str, Any], path: str | Path) -> Tokenizer:
    scores = list(metadata.get("tokenizer.ggml.scores", [-float(i) for i in range(len(tokens))]))
    if len(scores) != len(tokens):
        raise ModelFileError(path, "tokenizer.ggml.scores and tokenizer.ggml.tokens differ in length")
    vocab = {token: index for index, token in enumerate(tokens)}
    candidates = []
    for piece, index in vocab.items():
        for cut in range(1, len(piece)):
            left, right = piece[:cut], piece[cut:]
            if left in vocab and right in vocab:
                candidates.append((-scores[index], vocab[left], vocab[right], left, right))
    candidates.sort()
    merges = [(left, right) for *_, left, right in candidates]
    unk_id = _token_id(metadata, "unknown", len(tokens), path)
    unk = tokens[unk_id] if unk_id is not None else None
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token=unk, fuse_unk=True, byte_fallback=True))
    prefix_space = bool(metadata.get("tokenizer.ggml.add_space_prefix", True))
    steps = [normalizers.Replace(" ", "▁")]
    undo = [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()]
    if prefix_space:
        steps.insert(0, normalizers.Prepend("▁"))
        undo.append(decoders.Strip(" ", 1, 0))
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.decoder = decoders.Sequence(undo)
    return tokenizer
