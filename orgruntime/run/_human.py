"""Human seats: a message to an agent of kind human waits for a person's answer."""

from __future__ import annotations

import asyncio
from typing import Protocol

from orgruntime.run._events import HumanInputRequested

NO_HUMAN_ANSWER = "No human is available to answer."


class HumanResponder(Protocol):
    async def answer(self, request: HumanInputRequested) -> str | None:
        """The person's answer, or None when nobody is there to give one."""
        ...


class NoHumans:
    """Answers every question with "nobody is available"."""

    async def answer(self, request: HumanInputRequested) -> str | None:
        return None


class FixedAnswers:
    """Gives the listed answers in order, then None: a scripted person for tests and demos."""

    def __init__(self, answers: list[str]) -> None:
        self._answers = list(answers)

    async def answer(self, request: HumanInputRequested) -> str | None:
        return self._answers.pop(0) if self._answers else None


class HumanDesk:
    """Questions wait at the desk until someone answers them: the responder an interactive front end uses.

    The run shows each question as a HumanInputRequested event; the front end later calls
    `respond(event.question_id, text)` (or `decline(question_id)`: nobody is there). A question stops waiting
    when its run is stopped. One desk may serve several runs at once. Call from the event loop's thread.
    """

    def __init__(self) -> None:
        self._waiting: dict[str, tuple[HumanInputRequested, asyncio.Future[str | None]]] = {}

    async def answer(self, request: HumanInputRequested) -> str | None:
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._waiting[request.question_id] = (request, future)
        try:
            return await future
        finally:
            self._waiting.pop(request.question_id, None)

    def respond(self, question_id: str, text: str) -> bool:
        """Give the answer; False when no such question waits (answered already, or its run ended)."""
        return self._settle(question_id, text)

    def decline(self, question_id: str) -> bool:
        """Nobody will answer: the agent that asked is told no human is available."""
        return self._settle(question_id, None)

    @property
    def questions(self) -> tuple[HumanInputRequested, ...]:
        """The questions now waiting, oldest first."""
        return tuple(request for request, future in self._waiting.values() if not future.done())

    def _settle(self, question_id: str, text: str | None) -> bool:
        entry = self._waiting.get(question_id)
        if entry is None or entry[1].done():
            return False
        entry[1].set_result(text)
        return True
