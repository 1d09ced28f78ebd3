"""Pause, resume and step: what the engine holds back while a person watches a run one activation at a time.

Paused, no activation starts, and a running activation waits before its next model or tool call (a call in
flight finishes). A step lets exactly one activation run to its end: one that was held mid-way if there is
one, else the next agent with mail; then the run is paused again. The changes are shown as RunPaused and
RunResumed events, which the engine emits; this object only keeps the flags and wakes whoever waits.
"""

from __future__ import annotations

import asyncio


class PauseControl:
    def __init__(self) -> None:
        self.paused = False  # holding: nothing new starts, except the stepping activation
        self.stepping: str | None = None  # the agent whose activation a step lets through
        self.step_wanted = False
        self._changed = asyncio.Event()

    def pause(self) -> bool:
        if self.paused:
            return False
        self.paused = True
        self._notify()
        return True

    def resume(self) -> bool:
        if not self.paused:
            return False
        self.paused, self.stepping, self.step_wanted = False, None, False
        self._notify()
        return True

    def want_step(self) -> bool:
        """Ask for one activation; False when not paused or a step is already under way."""
        if not self.paused or self.stepping is not None or self.step_wanted:
            return False
        self.step_wanted = True
        return True

    def let_through(self, agent_id: str) -> None:
        self.step_wanted, self.stepping = False, agent_id
        self._notify()

    def step_ended(self, agent_id: str) -> bool:
        """The stepping activation of `agent_id` ended: True when the run is now held again."""
        if self.stepping != agent_id:
            return False
        self.stepping = None
        return self.paused

    @property
    def holding(self) -> bool:
        """Paused with no step under way: the run's clock is stopped."""
        return self.paused and self.stepping is None

    def may_go(self, agent_id: str) -> bool:
        return not self.paused or self.stepping == agent_id

    async def gate(self, agent_id: str) -> None:
        """Return when `agent_id` may start its next call."""
        while not self.may_go(agent_id):
            await self._changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
