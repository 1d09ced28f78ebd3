"""The org chart is the policy: who an agent may write to."""

from __future__ import annotations

from collections.abc import Set

from orgruntime import contacts, may_message
from orgruntime._model import Org

USER = "user"


def refusal(org: Org, sender: str, recipient: str, repliable: Set[str]) -> str | None:
    """Why `sender` may not send to `recipient`, or None when the route is allowed."""
    if recipient == sender:
        return "an agent cannot send a message to itself"
    if recipient in repliable:
        return None
    if recipient == USER:
        return "only the entry agent answers the user (with finish, or a plain answer to the task)"
    if not org.has_agent(recipient):
        return f"there is no agent {recipient!r} in this org"
    if may_message(org, sender, recipient):
        return None
    allowed = sorted({*contacts(org, sender), *repliable})
    return f"{recipient} is not one of your contacts; you may write to: {', '.join(allowed) or 'nobody'}"
