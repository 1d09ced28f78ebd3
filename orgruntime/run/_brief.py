"""What an agent is told: its prompt, a brief of the org around it, and the actions it may take."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from orgruntime._model import Agent, Org
from orgruntime.llm import ToolSpec
from orgruntime import contacts
from orgruntime.run._org_tools import OrgTool
from orgruntime.run._tools import needs_trust, tool_spec

SEND_MESSAGE = ToolSpec(
    name="send_message",
    description="Send a message to one of your contacts, or to someone who wrote to you.",
    parameters={
        "type": "object",
        "properties": {"to": {"type": "string", "description": "the agent id"}, "content": {"type": "string"}},
        "required": ["to", "content"],
    },
)
FINISH = ToolSpec(
    name="finish",
    description="Finish the task and give the user the result.",
    parameters={"type": "object", "properties": {"result": {"type": "string"}}, "required": ["result"]},
)
ACTIONS = ("send_message", "finish")


def offered_tools(org: Org, agent: Agent, *, trusted: bool, org_tools: Mapping[str, OrgTool] | None = None) -> tuple[ToolSpec, ...]:
    """The actions, then the agent's tools that can run: run_python and the org's tools only when trusted."""
    specs = [SEND_MESSAGE]
    if agent.id == org.entry:
        specs.append(FINISH)
    for name in agent.tools:
        spec = tool_spec(name, org_tools)
        if spec is not None and (trusted or not needs_trust(name)):
            specs.append(spec)
    return tuple(specs)


def system_prompt(org: Org, agent: Agent, tools: Sequence[ToolSpec]) -> str:
    lines = [agent.prompt.strip(), "", "## Your organisation"]
    role = f", {agent.role}" if agent.role else ""
    lines.append(f"You are {agent.display_name} (id: {agent.id}){role}, in the organisation {org.name}.")
    if org.description:
        lines.append(org.description.strip())
    agent_contacts = contacts(org, agent.id)
    if agent_contacts:
        lines.append("You may start a conversation with:")
        for contact_id in agent_contacts:
            contact = org.agent(contact_id)
            lines.append(f"- {contact.id} ({contact.display_name}){': ' + contact.role if contact.role else ''}")
    else:
        lines.append("You may not start conversations; you answer whoever writes to you.")
    lines.append("You may always reply to whoever sent you a message.")
    lines.append("A plain text answer (with no actions) is sent as your reply to the sender of the message that woke you.")
    if agent.id == org.entry:
        lines.append("You receive the task from the user. When it is done, call finish with the result (or answer the user in plain text).")
    lines.append("Your actions: " + ", ".join(tool.name for tool in tools) + ".")
    return "\n".join(lines).strip()
