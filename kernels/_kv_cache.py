"""The key/value cache of one sequence: contiguous per layer, grown in chunks as the text grows.

Each layer's keys and values are a tensor of their own, so growing the cache copies one layer at
a time: the old and the new copies of only one layer are ever held together.
"""

from __future__ import annotations

import torch

GROWTH = 256


class KVCache:
    def __init__(self, layers: int, kv_heads: int, head_dim: int, max_tokens: int) -> None:
        self.shape = (layers, kv_heads, head_dim)
        self.max_tokens = max_tokens
        self.length = 0  # tokens stored
        self.keys = [torch.empty(kv_heads, 0, head_dim) for _ in range(layers)]  # L x [KV, capacity, D]
        self.values = [torch.empty(kv_heads, 0, head_dim) for _ in range(layers)]

    @property
    def capacity(self) -> int:
        return self.keys[0].shape[1] if self.keys else 0

    def reserve(self, tokens: int) -> None:
        """Make room for `tokens` tokens in all (capacity rounded up, at most `max_tokens`)."""
        if tokens <= self.capacity:
            return
        capacity = min(self.max_tokens, -(-tokens // GROWTH) * GROWTH)
        _, kv_heads, head_dim = self.shape
        for tensors in (self.keys, self.values):
            for index, old in enumerate(tensors):
                grown = torch.empty(kv_heads, capacity, head_dim)
                grown[:, : self.length] = old[:, : self.length]
                tensors[index] = grown

    def truncate(self, length: int) -> None:
        self.length = min(self.length, length)

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (*self.keys, *self.values))
