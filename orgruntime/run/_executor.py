"""Where an activation's work is executed: the seam between scheduling (the Engine) and execution.

The Engine decides everything about a run: who is activated, which step comes next, routing, budgets,
events and the log. What takes time — a model call and a tool call — goes through an Executor, which
may run it in this process (LocalExecutor, the default) or elsewhere (the Ray executor). An executor
returns results; it never emits events or touches the run state, so every executor yields the same
events for the same answers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from orgruntime.llm import ChatRequest, ChatResult, RetryPolicy, stream_chat
from orgruntime.run._ray_address import parse_ray_address
from orgruntime.run._tools import ToolContext, call_tool

DeltaSink = Callable[[str, int], None]


@runtime_checkable
class Executor(Protocol):
    """Executes the work of activations. One executor serves one run at a time (`open` ... `close`)."""

    name: str
    placement_epoch: int  # changes whenever any agent's placement changes: the runner then reads them again

    async def open(self, agent_ids: tuple[str, ...], tool_context: ToolContext) -> None:
        """Get ready for a run of these agents whose tools use `tool_context`."""

    async def chat(self, agent_id: str, request: ChatRequest, on_delta: DeltaSink, policy: RetryPolicy) -> ChatResult:
        """One model answer for `agent_id`, its text streamed into `on_delta(text, attempt)`; failures are LLMErrors."""

    async def call_tool(self, agent_id: str, name: str, arguments: Mapping[str, Any]) -> str:
        """Run one tool for `agent_id`; failures are ToolError, OSError or the tool's own exception."""

    def placement(self, agent_id: str) -> str:
        """Where `agent_id`'s work runs (a host, a node), for people to see."""

    async def close(self) -> None:
        """The run is over: release what `open` took."""


class LocalExecutor:
    """Everything in this process, on its event loop."""

    name = "local"
    placement_epoch = 0

    def __init__(self) -> None:
        self._tool_context: ToolContext | None = None

    async def open(self, agent_ids: tuple[str, ...], tool_context: ToolContext) -> None:
        self._tool_context = tool_context

    async def chat(self, agent_id: str, request: ChatRequest, on_delta: DeltaSink, policy: RetryPolicy) -> ChatResult:
        return await stream_chat(request, on_delta, policy)

    async def call_tool(self, agent_id: str, name: str, arguments: Mapping[str, Any]) -> str:
        assert self._tool_context is not None, "open() the executor before calling tools"
        return await call_tool(self._tool_context, name, arguments)

    def placement(self, agent_id: str) -> str:
        return "local"

    async def close(self) -> None:
        self._tool_context = None


def ray_executor(address: str | None = None, hosts: int | None = None, host_setup: Callable[[], None] | None = None) -> Callable[[], Executor]:
    """A RunConfig.executor running model calls on the Ray cluster at `address` (HOST:PORT or ray://HOST:PORT;
    None: a local Ray instance). `host_setup`, a picklable function (a module-level one), runs once in each host
    process before its first call, e.g. to register a litellm provider there. A malformed address is a ValueError
    here; a cluster that cannot be reached fails the run. ray is imported only when a run starts with it."""
    if address is not None:
        parse_ray_address(address)

    def make() -> Executor:
        from orgruntime.run._ray_executor import DEFAULT_HOSTS, RayExecutor

        return RayExecutor(address, hosts or DEFAULT_HOSTS, host_setup)

    return make
