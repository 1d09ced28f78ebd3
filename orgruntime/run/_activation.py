"""One agent's work: each step is chosen from the run state alone, so a resumed run picks up where the log ends."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from orgruntime.llm import ChatRequest, LLMError, ToolCall
from orgruntime.run._brief import ACTIONS, offered_tools, system_prompt
from orgruntime.run._budgets import check
from orgruntime.run._errors import ToolError
from orgruntime.run._events import (
    AgentActivated,
    AgentFailed,
    BudgetExceeded,
    HumanInputRequested,
    LLMCallFinished,
    MessageSent,
    TokenDelta,
    ToolCalled,
    ToolReturned,
)
from orgruntime.run._human import NO_HUMAN_ANSWER
from orgruntime.run._routing import USER, refusal
from orgruntime.run._tools import needs_trust

if TYPE_CHECKING:
    from orgruntime.run._engine import Engine

MAX_INVALID_ANSWERS = 2


async def work(engine: Engine, agent_id: str) -> None:
    """Run (or continue) one activation of `agent_id` until it ends or the run's outcome is known."""
    agent = engine.state.agents[agent_id]
    if not agent.active:
        engine.emit(AgentActivated, agent=agent_id, message_ids=tuple(message.id for message in agent.inbox))
    if engine.org.agent(agent_id).is_human:
        await _ask_human(engine, agent_id)
        return
    while agent.active and not engine.state.outcome_known:
        if agent.reply is not None:
            _deliver_reply(engine, agent_id, agent.reply)
            continue
        if not engine.pause.may_go(agent_id):  # paused: the next call waits; the state may change meanwhile
            await engine.pause.gate(agent_id)
            continue
        if agent.pending:
            await _perform(engine, agent_id, next(iter(agent.pending.values())))
        else:
            await _call_model(engine, agent_id)


def _deliver_reply(engine: Engine, agent_id: str, text: str) -> None:
    waker = engine.state.agents[agent_id].waker
    recipient = waker.sender if waker is not None else engine.org.entry
    engine.emit(MessageSent, sender=agent_id, recipient=recipient, content=text, message_id=engine.next_message_id())


async def _ask_human(engine: Engine, agent_id: str) -> None:
    agent = engine.state.agents[agent_id]
    waker = agent.waker
    if waker is None:
        return
    question = agent.turns[-1].text if agent.turns else waker.content  # type: ignore[union-attr]
    request = engine.emit(HumanInputRequested, agent=agent_id, sender=waker.sender, question=question, message_id=waker.id)
    answer = await engine.config.human.answer(request)
    if engine.state.outcome_known:
        return
    text = answer if answer and answer.strip() else NO_HUMAN_ANSWER
    engine.emit(MessageSent, sender=agent_id, recipient=waker.sender, content=text, message_id=engine.next_message_id())


async def _call_model(engine: Engine, agent_id: str) -> None:
    if _over_budget(engine, agent_id, before_call=True):
        return
    org_agent = engine.org.agent(agent_id)
    agent = engine.state.agents[agent_id]
    tools = offered_tools(engine.org, org_agent, trusted=engine.config.trusted, org_tools=engine.tool_context.org_tools)
    model = engine.models[agent_id]
    if not model:
        engine.emit(AgentFailed, agent=agent_id, error_type="NoModel", error="no model: set defaults.model in org.yaml, model in the agent, or --model")
        return
    request = ChatRequest(
        model=model,
        system=system_prompt(engine.org, org_agent, tools),
        turns=tuple(agent.turns),
        tools=tools,
        temperature=org_agent.temperature if org_agent.temperature is not None else engine.org.defaults.temperature,
        max_tokens=org_agent.max_tokens or engine.org.defaults.max_tokens,
        **_servers(engine, model),
        agent_id=agent_id,
    )

    def on_delta(text: str, attempt: int) -> None:
        engine.emit(TokenDelta, agent=agent_id, text=text, attempt=attempt)

    try:
        result = await engine.executor.chat(agent_id, request, on_delta, engine.config.retry)
    except LLMError as error:
        engine.emit(AgentFailed, agent=agent_id, error_type=type(error).__name__, error=str(error))
        return
    engine.emit(
        LLMCallFinished,
        agent=agent_id,
        model=model,
        text=result.text,
        tool_calls=result.tool_calls,
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        cost_usd=result.cost_usd,
        latency_s=result.latency_s,
        attempts=result.attempts,
        parse_error=result.parse_error,
    )
    if agent.invalid_answers >= MAX_INVALID_ANSWERS:
        engine.emit(AgentFailed, agent=agent_id, error_type="InvalidAnswer", error=f"the answer could not be read as actions twice: {result.parse_error}")
        return
    _over_budget(engine, agent_id, before_call=False)


def _servers(engine: Engine, model: str) -> dict[str, Any]:
    """Where `model` is served, with the run's key for those servers; a model served by its provider (no server
    configured) gets no key from the run, so a server's token never reaches a provider (litellm uses the provider's own)."""
    servers = tuple(engine.config.model_servers.get(model, ()))
    key = engine.config.api_key
    if len(servers) > 1:
        return {"api_bases": servers, "api_key": key}
    base = servers[0] if servers else engine.config.api_base
    return {"api_base": base, "api_key": key if base else None}


def _over_budget(engine: Engine, agent_id: str, *, before_call: bool) -> bool:
    breach = check(engine.state, engine.budget, engine.org.agent(agent_id).budget, agent_id, time.time(), before_call=before_call)
    if breach is None:
        return False
    engine.emit(BudgetExceeded, scope=breach.scope, limit=breach.limit, used=breach.used, allowed=breach.allowed)
    return True


async def _perform(engine: Engine, agent_id: str, call: ToolCall) -> None:
    org_agent = engine.org.agent(agent_id)
    if call.arguments is None:
        _refuse(engine, agent_id, call, f"the arguments of {call.name} are not a JSON object: {call.raw_arguments[:200]!r}")
        return
    if call.name == "send_message":
        _send(engine, agent_id, call, call.arguments)
        return
    if call.name == "finish":
        if agent_id != engine.org.entry:
            _refuse(engine, agent_id, call, "only the entry agent can finish the run; send your result to whoever asked you")
            return
        result = call.arguments.get("result")
        if not isinstance(result, str):
            _refuse(engine, agent_id, call, "finish needs a string argument 'result'")
            return
        engine.emit(MessageSent, sender=agent_id, recipient=USER, content=result, message_id=engine.next_message_id(), call_id=call.id)
        return
    if call.name not in org_agent.tools:
        _refuse(engine, agent_id, call, f"you have no tool {call.name!r}; your actions are: {', '.join([*ACTIONS, *org_agent.tools])}")
        return
    if needs_trust(call.name) and not engine.config.trusted:
        what = "run_python" if call.name == "run_python" else f"the org's tool {call.name} (tools/{call.name}.py)"
        _refuse(engine, agent_id, call, f"{what} only runs in a trusted org; nothing was run")
        return
    if needs_trust(call.name) and call.name != "run_python":
        org_tool = engine.tool_context.org_tools.get(call.name)
        if org_tool is None or org_tool.spec is None:
            _refuse(engine, agent_id, call, org_tool.problem if org_tool is not None and org_tool.problem else f"the org has no tool file tools/{call.name}.py")
            return
    if call.id not in engine.state.agents[agent_id].started:  # begun before a crash: its outcome is unknown, so run it again
        engine.emit(ToolCalled, agent=agent_id, call_id=call.id, name=call.name, arguments=dict(call.arguments))
    try:
        output = await engine.executor.call_tool(agent_id, call.name, call.arguments)
    except ToolError as error:
        engine.emit(ToolReturned, agent=agent_id, call_id=call.id, name=call.name, ok=False, result=f"error: {error}")
        return
    except OSError as error:
        engine.emit(ToolReturned, agent=agent_id, call_id=call.id, name=call.name, ok=False, result=f"error: {error.strerror or error}")
        return
    except Exception as error:  # a tool's own failure goes back to the agent; it never ends the run
        engine.emit(ToolReturned, agent=agent_id, call_id=call.id, name=call.name, ok=False, result=f"error: {type(error).__name__}: {error}")
        return
    engine.emit(ToolReturned, agent=agent_id, call_id=call.id, name=call.name, ok=True, result=output)


def _send(engine: Engine, agent_id: str, call: ToolCall, arguments: Mapping[str, Any]) -> None:
    recipient, content = arguments.get("to"), arguments.get("content")
    if not isinstance(recipient, str) or not isinstance(content, str):
        _refuse(engine, agent_id, call, "send_message needs string arguments 'to' and 'content'")
        return
    reason = refusal(engine.org, agent_id, recipient, engine.state.agents[agent_id].repliable)
    if reason is not None:
        _refuse(engine, agent_id, call, reason)
        return
    engine.emit(MessageSent, sender=agent_id, recipient=recipient, content=content, message_id=engine.next_message_id(), call_id=call.id)


def _refuse(engine: Engine, agent_id: str, call: ToolCall, reason: str) -> None:
    engine.emit(ToolReturned, agent=agent_id, call_id=call.id, name=call.name, ok=False, result=f"refused: {reason}")
