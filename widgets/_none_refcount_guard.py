"""Keeps None alive under PySide6 builds that return None from void methods without a reference.

PySide6 6.12 on Python 3.11 drops one reference to None on every call of a method that returns
nothing (QPainter.setPen, QGraphicsItem.update, ...); a long paint of a large org then frees None and
the interpreter aborts ("none_dealloc"). Python 3.12+ makes None immortal, so there it is harmless.
On 3.11 we measure the leak with a probe and, only if it is there, give None enough references
that no session can use them up.
"""

from __future__ import annotations

import ctypes
import sys

_RESERVE = 1 << 48  # far more void calls than any process makes


def none_refcount_leaks() -> bool:
    from PySide6.QtGui import QPen

    pen = QPen()
    before = sys.getrefcount(None)
    for _ in range(64):
        pen.setWidth(1)
    return sys.getrefcount(None) < before - 32


def guard_none_refcount() -> bool:
    """True when the guard was needed (and is now in place)."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython" or not none_refcount_leaks():
        return False
    refcount = ctypes.c_ssize_t.from_address(id(None))
    if refcount.value < _RESERVE:
        refcount.value += _RESERVE
    return True
