"""Counters of the server's work since it started, safe to update from worker threads."""

from __future__ import annotations

import threading
import time
from typing import Any

from kernels.server._bridge import Outcome


class ServerStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started = time.time()
        self.running = 0
        self.finished = {"completed": 0, "cancelled": 0, "failed": 0}
        self.prompt_tokens = 0
        self.completion_tokens = 0

    def generation_started(self) -> None:
        with self._lock:
            self.running += 1

    def generation_finished(self, outcome: Outcome) -> None:
        with self._lock:
            self.running -= 1
            self.finished[outcome] += 1

    def count_tokens(self, prompt: int, completion: int) -> None:
        with self._lock:
            self.prompt_tokens += prompt
            self.completion_tokens += completion

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "uptime_seconds": round(time.time() - self.started, 3),
                "running": self.running,
                **self.finished,
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
            }
