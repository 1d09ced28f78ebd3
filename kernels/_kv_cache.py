"""The key/value cache of one sequence: contiguous per layer, grown in chunks as the text grows."""

from __future__ import annotations

import torch

GROWTH = 256


class KVCache:
    def __init__(self, layers: int, kv_heads: int, head_dim: int, max_tokens: int) -> None:
        self.shape = (layers, kv_heads, head_dim)
        self.max_tokens = max_tokens
        self.length = 0  # tokens stored
        self.keys = torch.empty(layers, kv_heads, 0, head_dim)  # [L, KV, capacity, D]
        self.values = torch.empty(layers, kv_heads, 0, head_dim)

    @property
    def capacity(self) -> int:
        return self.keys.shape[2]

    def reserve(self, tokens: int) -> None:
        """Make room for `tokens` tokens in all (capacity rounded up, at most `max_tokens`)."""
        if tokens <= self.capacity:
            return
        capacity = min(self.max_tokens, -(-tokens // GROWTH) * GROWTH)
        layers, kv_heads, head_dim = self.shape
        for name in ("keys", "values"):
            grown = torch.empty(layers, kv_heads, capacity, head_dim)
            grown[:, :, : self.length] = getattr(self, name)[:, :, : self.length]
            setattr(self, name, grown)

    def truncate(self, length: int) -> None:
        self.length = min(self.length, length)

    @property
    def nbytes(self) -> int:
        return self.keys.numel() * self.keys.element_size() * 2
