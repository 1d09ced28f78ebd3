"""Keeping the C heap from holding memory the model no longer uses (glibc; elsewhere these do nothing).

glibc serves a large block from a fresh mapping, but after the first such block is freed it raises
its threshold to that size and serves later ones from the heap, where freed blocks stay resident:
a prefill's float temporaries then hold tens of MiB for good, and the peak grows by what the
heap keeps. A fixed threshold keeps every block of at least `LARGE_BLOCK` bytes in a mapping of
its own, returned to the system when it is freed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any

LARGE_BLOCK = 128 * 1024  # glibc's own starting threshold
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number in glibc's malloc.h


def _libc() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
    except OSError:  # not glibc: nothing to do
        return None


_LIBC = _libc()


def return_freed_memory() -> None:
    """Hand the C heap's free pages back to the system (glibc keeps them after conversion temporaries)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def map_large_blocks_apart() -> bool:
    """Serve blocks of LARGE_BLOCK bytes or more from their own mappings from now on (process-wide, idempotent)."""
    return _LIBC is not None and bool(_LIBC.mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK))
