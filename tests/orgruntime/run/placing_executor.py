"""A test executor that runs everything here (the local executor) but says where each agent runs, as a cluster
executor does, and moves one agent after some model calls (as when its Ray host is restarted on another node)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orgruntime.llm import ChatRequest, ChatResult, RetryPolicy
from orgruntime.run import LocalExecutor
from orgruntime.run._tools import ToolContext


class PlacingExecutor:
    def __init__(self, where: Mapping[str, str], *, name: str, mover: str, moved_to: str, move_after: int = 3) -> None:
        self.name = name
        self.inner = LocalExecutor()
        self.where = dict(where)
        self.placement_epoch = 0
        self.calls = 0
        self.mover, self.moved_to, self.move_after = mover, moved_to, move_after

    async def open(self, agent_ids: tuple[str, ...], tool_context: ToolContext) -> None:
        await self.inner.open(agent_ids, tool_context)

    async def chat(self, agent_id: str, request: ChatRequest, on_delta: Any, policy: RetryPolicy) -> ChatResult:
        self.calls += 1
        if self.calls == self.move_after:
            self.where[self.mover] = self.moved_to
            self.placement_epoch += 1
        return await self.inner.chat(agent_id, request, on_delta, policy)

    async def call_tool(self, agent_id: str, name: str, arguments: Mapping[str, Any]) -> str:
        return await self.inner.call_tool(agent_id, name, arguments)

    def placement(self, agent_id: str) -> str:
        return self.where.get(agent_id, "")

    async def close(self) -> None:
        await self.inner.close()
