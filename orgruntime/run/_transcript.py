"""A run's transcript as text lines: who told whom what, which tools ran, how it ended."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import assert_never

from orgruntime.run._events import (
    AgentActivated,
    AgentFailed,
    AgentPlaced,
    BudgetExceeded,
    Event,
    HumanInputRequested,
    LLMCallFinished,
    MessageSent,
    RunFinished,
    RunPaused,
    RunResumed,
    RunStarted,
    TokenDelta,
    ToolCalled,
    ToolReturned,
)


def render_transcript(events: Iterable[Event]) -> list[str]:
    """Stable lines, free of times, costs and ids, so that two runs of the same script compare equal."""
    lines: list[str] = []
    for event in events:
        match event:
            case RunStarted(task=task, resumed=False):
                lines.append(f"task: {task}")
            case MessageSent(sender=sender, recipient=recipient, content=content):
                lines.append(f"{sender} -> {recipient}: {content}")
            case ToolCalled(agent=agent, name=name, arguments=arguments):
                lines.append(f"[{agent}] {name} {json.dumps(arguments, ensure_ascii=False, sort_keys=True)}")
            case ToolReturned(agent=agent, name=name, ok=ok, result=result):
                lines.append(f"[{agent}] {name} {'->' if ok else 'x>'} {result}")
            case HumanInputRequested(agent=agent, sender=sender):
                lines.append(f"[{agent}] asks a person (for {sender})")
            case BudgetExceeded(scope=scope, limit=limit, used=used, allowed=allowed):
                lines.append(f"budget: {scope} reached {limit} ({used:g} of {allowed:g})")
            case AgentFailed(agent=agent, error_type=error_type, error=error):
                lines.append(f"[{agent}] failed: {error_type}: {error}")
            case RunFinished(status=status, result=result, error=error):
                lines.append(f"finished: {status}" + (f": {result}" if result is not None else "") + (f" ({error})" if error else ""))
            case RunStarted() | AgentActivated() | TokenDelta() | LLMCallFinished() | RunPaused() | RunResumed() | AgentPlaced():
                pass
            case _:
                assert_never(event)
    return lines
