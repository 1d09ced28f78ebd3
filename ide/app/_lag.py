"""Event-loop lag: how late a precise 10 ms timer fires on the Qt loop (which is also the asyncio loop).

Figures feed the status bar's tooltip and bench/bench_ide.py.
"""

from __future__ import annotations

import time
from collections import deque

from PySide6.QtCore import QObject, Qt, QTimer

INTERVAL_MS = 10


class LagMonitor(QObject):
    def __init__(self, parent: QObject | None = None, *, keep: int = 20_000) -> None:
        super().__init__(parent)
        self.samples: deque[float] = deque(maxlen=keep)  # seconds late, one per tick
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(INTERVAL_MS)
        self._timer.timeout.connect(self._tick)
        self._last: float | None = None

    def start(self) -> None:
        self._last = None
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def reset(self) -> None:
        self.samples.clear()
        self._last = None

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.samples.append(max(0.0, now - self._last - INTERVAL_MS / 1000))
        self._last = now

    def percentile(self, fraction: float) -> float:
        """The lag (seconds) that `fraction` of the ticks stayed under; 0 with no samples."""
        if not self.samples:
            return 0.0
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    def summary(self) -> str:
        return (f"event-loop lag p50 {self.percentile(0.5) * 1000:.1f} ms, p99 {self.percentile(0.99) * 1000:.1f} ms, "
                f"max {max(self.samples, default=0.0) * 1000:.1f} ms over {len(self.samples)} ticks")
