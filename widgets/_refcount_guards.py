"""Keeps None, True and False alive under PySide6 builds that hand them back without a reference.

PySide6 6.12 on Python 3.11 has two leaks of the same family:
- every call of a method that returns nothing (QPainter.setPen, QGraphicsItem.update, ...) drops one
  reference to None, so a long paint of a large org frees None ("none_dealloc");
- every `signal.emit(...)` made from Python drops one reference to True, so a console that emits a
  signal per update frees True within minutes ("bool_dealloc").
Python 3.12+ makes these objects immortal, so there it is harmless. On 3.11 we measure each leak with
a probe and, only if it is there, give the objects references that no session can use up.
"""

from __future__ import annotations

import ctypes
import sys

_RESERVE = 1 << 48  # far more calls than any process makes


def none_refcount_leaks() -> bool:
    from PySide6.QtGui import QPen

    pen = QPen()
    before = sys.getrefcount(None)
    for _ in range(64):
        pen.setWidth(1)
    return sys.getrefcount(None) < before - 32


def emit_leaks_true() -> bool:
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(64):
        probe.ping.emit()
    return sys.getrefcount(True) < before - 32


def guard_refcounts() -> tuple[str, ...]:
    """The names of the objects that needed the guard (and now have it)."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return ()
    guarded: list[object] = []
    if none_refcount_leaks():
        guarded.append(None)
    if emit_leaks_true():
        guarded.extend((True, False))
    for value in guarded:
        refcount = ctypes.c_ssize_t.from_address(id(value))
        if refcount.value < _RESERVE:
            refcount.value += _RESERVE
    return tuple(repr(value) for value in guarded)
