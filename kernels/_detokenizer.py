"""Streaming detokenisation: text deltas that never split a UTF-8 character or a merged glyph."""

from __future__ import annotations

from kernels._tokenizer import GGUFTokenizer

REPLACEMENT = "\ufffd"


class StreamingDetokenizer:
    """Feed token ids one at a time; get back the text they add, once it is whole.

    It decodes a short window of recent tokens twice (with and without the newest ones) and emits
    the difference only when it does not end in a replacement character, i.e. an unfinished byte
    sequence (the approach of HF text-generation-inference).
    """

    def __init__(self, tokenizer: GGUFTokenizer) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.prefix_offset = 0
        self.read_offset = 0

    def push(self, token_id: int) -> str:
        self.ids.append(token_id)
        decode = self.tokenizer.decode
        prefix_text = decode(self.ids[self.prefix_offset : self.read_offset])
        new_text = decode(self.ids[self.prefix_offset :])
        if len(new_text) > len(prefix_text) and not new_text.endswith(REPLACEMENT):
            self.prefix_offset = self.read_offset
            self.read_offset = len(self.ids)
            return new_text[len(prefix_text) :]
        return ""

    def flush(self) -> str:
        """Whatever is still held back (an incomplete character becomes U+FFFD)."""
        prefix_text = self.tokenizer.decode(self.ids[self.prefix_offset : self.read_offset])
        new_text = self.tokenizer.decode(self.ids[self.prefix_offset :])
        self.prefix_offset = self.read_offset = len(self.ids)
        return new_text[len(prefix_text) :]
