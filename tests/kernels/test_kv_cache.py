"""The single-sequence KV cache grows a layer at a time and keeps what it holds."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch

from kernels._heap import _LIBC
from kernels._kv_cache import GROWTH, KVCache


def test_growing_keeps_every_layers_tokens_and_stops_at_the_limit() -> None:
    cache = KVCache(layers=3, kv_heads=2, head_dim=4, max_tokens=GROWTH + 10)
    cache.reserve(5)
    assert cache.capacity == GROWTH
    for index in range(3):
        cache.keys[index][:, :5] = torch.arange(40.0).view(2, 5, 4) + index
        cache.values[index][:, :5] = -torch.arange(40.0).view(2, 5, 4) - index
    cache.length = 5
    cache.reserve(GROWTH + 3)
    assert cache.capacity == GROWTH + 10  # rounded up to the next GROWTH, but never past max_tokens
    assert cache.nbytes == 3 * 2 * 2 * (GROWTH + 10) * 4 * 4
    for index in range(3):
        assert cache.keys[index].shape == (2, GROWTH + 10, 4)
        assert torch.equal(cache.keys[index][:, :5], torch.arange(40.0).view(2, 5, 4) + index)
        assert torch.equal(cache.values[index][:, :5], -torch.arange(40.0).view(2, 5, 4) - index)
    cache.truncate(2)
    assert cache.length == 2


@pytest.mark.skipif(_LIBC is None, reason="glibc only")
def test_freed_large_blocks_leave_the_process_at_once() -> None:
    """After map_large_blocks_apart, large temporaries freed between small allocations are not kept resident."""
    script = textwrap.dedent("""
        import torch
        from kernels._heap import map_large_blocks_apart
        def rss():
            return int(open("/proc/self/statm").read().split()[1]) * 4096
        assert map_large_blocks_apart()
        warm = torch.ones(1 << 18); del warm  # a freed large block: glibc would raise its threshold here
        before = rss()
        kept, large = [], []
        for _ in range(64):
            large.append(torch.ones(1 << 18))  # 1 MiB each, touched
            kept.append(torch.ones(16))  # small blocks between them pin the heap
        del large
        print((rss() - before) / 2**20)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert float(done.stdout) < 8, done.stdout  # 64 MiB were allocated and freed
