"""The org chart is the policy: who an agent may write to."""

from __future__ import annotations

from collections.abc import Set

from orgruntime._model import ChannelKind, Org

USER = "user"


def channel_contacts(org: Org, agent_id: str) -> tuple[str, ...]:
    """Agents `agent_id` may start a conversation with, in channel order."""
    found: dict[str, None] = {}
    for channel in org.channels:
        if channel.source == agent_id:
            found[channel.target] = None
        elif channel.kind is ChannelKind.PEERS and channel.target == agent_id:
            found[channel.source] = None
    found.pop(agent_id, None)
    return tuple(found)


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
    if recipient in channel_contacts(org, sender):
        return None
    allowed = sorted({*channel_contacts(org, sender), *repliable})
    return f"{recipient} is not one of your contacts; you may write to: {', '.join(allowed) or 'nobody'}"
