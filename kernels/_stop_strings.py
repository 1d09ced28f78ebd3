"""Stop strings over streamed text: cut at the first stop, hold back what might become one."""

from __future__ import annotations

from collections.abc import Sequence


class StopStringFilter:
    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = tuple(stops)
        self.pending = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        """The part of the text seen so far that is safe to emit."""
        if self.stopped:
            return ""
        self.pending += text
        hits = [index for index in (self.pending.find(stop) for stop in self.stops) if index >= 0]
        if hits:
            self.stopped = True
            cut, self.pending = self.pending[: min(hits)], ""
            return cut
        hold = self._longest_stop_prefix_at_end()
        ready = self.pending[: len(self.pending) - hold]
        self.pending = self.pending[len(self.pending) - hold :]
        return ready

    def flush(self) -> str:
        rest, self.pending = ("" if self.stopped else self.pending), ""
        return rest

    def _longest_stop_prefix_at_end(self) -> int:
        longest = 0
        for stop in self.stops:
            for size in range(min(len(stop) - 1, len(self.pending)), longest, -1):
                if self.pending.endswith(stop[:size]):
                    longest = size
                    break
        return longest
