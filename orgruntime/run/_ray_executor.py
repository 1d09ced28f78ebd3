"""The Ray executor: the agents' model calls run on a Ray cluster (the one module of orgide that imports ray).

Agents live on named host actors (an actor is a process: one per agent would not scale to hundreds of agents), spread
over the cluster's nodes; each host holds the conversation histories of its agents, so a call ships only the
turns the host has not seen. The runner keeps the schedule, the events and the log; it streams each answer's
text back as it is generated.

Faults: when a host dies (its worker or node is killed), Ray restarts it, on another node if its node is gone;
its agents' histories are sent again from the runner's state, which is folded from the run log, and the call
in flight is made again. A call whose answer was never received is not a completed call, so none is repeated.
When the host cannot come back, the call fails with ExecutorError and the run ends `failed` with the reason.
Tools run in the runner's process, where the run's workspace folder is.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Mapping
from typing import Any

from orgruntime.llm import ChatRequest, ChatResult, RetryPolicy
from orgruntime.run._errors import RunError
from orgruntime.run._executor import DeltaSink
from orgruntime.run._tools import ToolContext, call_tool

DEFAULT_HOSTS = 2
LOCAL_CPUS = 2
MAX_HOST_RESTARTS = 3
CALL_RETRIES = 3  # calls lost to a dead host, made again once it is back


class ExecutorError(RunError):
    """The cluster could not run an agent's work (no cluster, a host that cannot come back)."""


class HistoryGap(Exception):
    """A host was asked to extend a history it does not hold (it was restarted): send the whole history."""


def _ray() -> Any:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import ray

    return ray


class AgentHost:
    """A Ray actor holding the histories of some agents and making their model calls."""

    def __init__(self) -> None:
        self.histories: dict[tuple[str, str], list[Any]] = {}  # (run key, agent id) -> turns

    def where(self) -> str:
        import ray

        return f"{socket.gethostname()}:{ray.get_runtime_context().get_node_id()[:8]}"

    def forget(self, run_key: str) -> None:
        for key in [key for key in self.histories if key[0] == run_key]:
            del self.histories[key]

    async def chat(self, run_key: str, agent_id: str, offset: int, new_turns: tuple[Any, ...], request: ChatRequest, policy: RetryPolicy, attempt_base: int):
        """Yields ("delta", text, attempt) for each piece of text, then ("result", ChatResult) or ("gap", held)."""
        from dataclasses import replace

        from orgruntime.llm import stream_chat

        history = self.histories.setdefault((run_key, agent_id), [])
        if offset != len(history):
            yield ("gap", len(history))
            return
        history.extend(new_turns)
        queue: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()

        async def call() -> None:
            try:
                result = await stream_chat(replace(request, turns=tuple(history)), lambda text, attempt: queue.put_nowait(("delta", text, attempt_base + attempt)), policy)
                queue.put_nowait(("result", result))
            except Exception as error:  # an LLMError goes back to the runner as it is
                queue.put_nowait(("error", error))

        task = asyncio.create_task(call())
        try:
            while True:
                item = await queue.get()
                yield item
                if item[0] != "delta":
                    return
        finally:
            task.cancel()


_kept_hosts: dict[tuple[str, int], Any] = {}  # (job, index) -> handle: hosts outlive a run (and keep their imports)


def _kept_host(ray: Any, remote_host: Any, index: int) -> Any:
    """Host `index` of this driver's job, made on first use; a non-detached actor dies with its last handle, so one is kept here."""
    key = (ray.get_runtime_context().get_job_id(), index)
    if key not in _kept_hosts:
        _kept_hosts[key] = remote_host.options(name=f"orgide-agent-host-{index}", get_if_exists=True).remote()
    return _kept_hosts[key]


class RayExecutor:
    """Model calls on a Ray cluster at `address` (None: a local Ray instance, started here and stopped at close)."""

    name = "ray"

    def __init__(self, address: str | None = None, hosts: int = DEFAULT_HOSTS) -> None:
        self.address, self.hosts = address, max(1, hosts)
        self._started_ray = False
        self._hosts: list[Any] = []
        self._host_index: dict[str, int] = {}  # agent id -> its host
        self._synced: dict[str, int] = {}  # turns of each agent its host holds
        self._where: list[str] = []  # host index -> where it runs
        self.placement_epoch = 0
        self._tool_context: ToolContext | None = None
        self._run_key = uuid.uuid4().hex

    async def open(self, agent_ids: tuple[str, ...], tool_context: ToolContext) -> None:
        self._tool_context = tool_context
        ray = _ray()
        if not ray.is_initialized():
            await asyncio.to_thread(self._init, ray)
        remote_host = ray.remote(max_restarts=MAX_HOST_RESTARTS, max_task_retries=0, num_cpus=0, scheduling_strategy="SPREAD")(AgentHost)
        self._hosts = [_kept_host(ray, remote_host, index) for index in range(min(self.hosts, max(1, len(agent_ids))))]
        self._where = list(await asyncio.gather(*(host.where.remote() for host in self._hosts)))
        self._host_index = {agent_id: index % len(self._hosts) for index, agent_id in enumerate(agent_ids)}
        self.placement_epoch += 1

    def _init(self, ray: Any) -> None:
        if self.address is None:
            ray.init(address="local", num_cpus=LOCAL_CPUS, include_dashboard=False, log_to_driver=False, configure_logging=False, _node_ip_address="127.0.0.1")
        else:
            loopback = self.address.rsplit(":", 1)[0] in ("127.0.0.1", "localhost")
            local_only = {"_node_ip_address": "127.0.0.1"} if loopback else {}  # a cluster on this machine is reached on loopback
            ray.init(address=self.address, log_to_driver=False, configure_logging=False, **local_only)
        self._started_ray = True

    async def chat(self, agent_id: str, request: ChatRequest, on_delta: DeltaSink, policy: RetryPolicy) -> ChatResult:
        ray = _ray()
        index = self._host_index[agent_id]
        host = self._hosts[index]
        attempt_base = seen = 0
        for lost in range(CALL_RETRIES + 1):
            offset = self._synced.get(agent_id, 0)
            if offset > len(request.turns):
                offset = 0
            try:
                async for reference in host.chat.remote(self._run_key, agent_id, offset, request.turns[offset:], request, policy, attempt_base):
                    item = await reference
                    match item:
                        case ("delta", text, attempt):
                            seen = max(seen, attempt)
                            on_delta(text, attempt)
                        case ("gap", _):
                            self._synced[agent_id] = 0
                            await self._refresh_placement(index)  # the host lost its histories: it was restarted
                            break
                        case ("error", error):
                            self._synced[agent_id] = len(request.turns)
                            raise error
                        case ("result", result):
                            self._synced[agent_id] = len(request.turns)
                            return result
            except ray.exceptions.RayActorError as error:
                self._synced[agent_id] = 0  # a restarted host holds nothing
                attempt_base = max(seen, attempt_base)  # text of the lost call is restarted, as for a retry
                if lost == CALL_RETRIES:
                    raise ExecutorError(f"the Ray host of {agent_id} died and did not come back: {error}") from None
                await asyncio.sleep(0.5 * (lost + 1))
                await self._refresh_placement(index)
        raise ExecutorError(f"the Ray host of {agent_id} kept losing its history")

    async def _refresh_placement(self, index: int) -> None:
        ray = _ray()
        try:
            where = await asyncio.wait_for(self._hosts[index].where.remote(), 30)
        except (ray.exceptions.RayActorError, asyncio.TimeoutError):
            return
        if where != self._where[index]:
            self._where[index] = where
            self.placement_epoch += 1

    async def call_tool(self, agent_id: str, name: str, arguments: Mapping[str, Any]) -> str:
        assert self._tool_context is not None, "open() the executor before calling tools"
        return await call_tool(self._tool_context, name, arguments)

    def placement(self, agent_id: str) -> str:
        index = self._host_index.get(agent_id)
        return self._where[index] if index is not None else ""

    async def close(self) -> None:
        ray = _ray()
        hosts, self._hosts = self._hosts, []
        if self._started_ray:
            _kept_hosts.clear()
            await asyncio.to_thread(ray.shutdown)
            self._started_ray = False
            return
        for host in hosts:
            try:
                await asyncio.wait_for(host.forget.remote(self._run_key), 10)
            except (ray.exceptions.RayError, asyncio.TimeoutError):  # a host that is gone holds nothing
                pass
