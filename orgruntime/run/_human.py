"""Human seats: a message to an agent of kind human waits for a person's answer."""

from __future__ import annotations

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
