"""Keeps True and False alive under PySide6 builds whose Signal.emit returns a bool without a reference.

PySide6 6.12 on Python 3.11 drops one reference to True on every `signal.emit(...)` made from Python
(the same family of bug as widgets._none_refcount_guard, which covers None). True starts with a few
thousand references, so a console that emits a signal per update would free True within minutes and
the interpreter would abort ("bool_dealloc"). Python 3.12+ makes both immortal. On 3.11 we measure
the leak with a probe and, only if it is there, give True and False references no session can use up.
"""

from __future__ import annotations

import ctypes
import sys

_RESERVE = 1 << 48


def emit_leaks_true() -> bool:
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(64):
        probe.ping.emit()
    return sys.getrefcount(True) < before - 32


def guard_bool_refcounts() -> bool:
    """True when the guard was needed (and is now in place)."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython" or not emit_leaks_true():
        return False
    for value in (True, False):
        refcount = ctypes.c_ssize_t.from_address(id(value))
        if refcount.value < _RESERVE:
            refcount.value += _RESERVE
    return True
