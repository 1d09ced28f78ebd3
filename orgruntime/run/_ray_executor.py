"""The Ray executor: the agents' model calls run on a Ray cluster (the one module of orgide that imports ray).

Agents live on host actors (an actor is a process: one per agent would not scale to hundreds of agents), placed
round the cluster's live nodes; each host holds the conversation histories of its agents, so a call ships only
the turns the host has not seen. The runner keeps the schedule, the events and the log; it streams each answer's
text back as it is generated. Tools run in the runner's process, where the run's workspace folder is.

Every wait on the cluster has a deadline: joining it (see _ray_connect), starting the hosts, each piece of an
answer, and closing. Faults: a host whose process dies is restarted by Ray on its node; a host whose node is gone
is replaced here by a new one on a live node; a host that stops answering is killed and restarted. Either way its
agents' histories are sent again from the runner's state, which is folded from the run log, and the call in
flight is made again: a call whose answer was never received is not a completed call, so none is repeated.
When a host is not back within `recovery_s`, the call fails with ExecutorError and the run ends `failed`.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from orgruntime.llm import ChatRequest, ChatResult, RetryPolicy
from orgruntime.run._executor import DeltaSink
from orgruntime.run._ray_address import parse_ray_address
from orgruntime.run._ray_connect import DRIVER_SETTINGS, IMPORT_SETTINGS, ExecutorError, Session, first_line, on_daemon_thread
from orgruntime.run._tools import ToolContext, call_tool

DEFAULT_HOSTS = 2
MAX_HOST_RESTARTS = 3
CONNECT_TIMEOUT_S = 30.0  # ray.init against a cluster (a driver's start takes 10-15 s on a loaded machine)
LOCAL_START_TIMEOUT_S = 120.0  # ray.init starting a local instance (slow on a loaded machine)
HOST_START_TIMEOUT_S = 60.0  # the hosts' first answer: they are scheduled, started and have run the host setup
RECOVERY_S = 90.0  # how long a call waits for its lost host to come back
ANSWER_GRACE_S = 30.0  # beyond the retry policy's own limits, before a silent host is taken for stuck
CLOSE_TIMEOUT_S = 15.0

HostSetup = Callable[[], None]


class _HostLost(Exception):
    """The host's process is gone or stuck (args: reason, attempts of text seen); `gone`: its node is, too."""

    def __init__(self, reason: str, seen: int, gone: bool = False) -> None:
        super().__init__(reason, seen)
        self.reason, self.seen, self.gone = reason, seen, gone


def _ray() -> Any:
    if "ray" not in sys.modules:
        for name, value in IMPORT_SETTINGS.items():
            os.environ.setdefault(name, value)
    for name, value in DRIVER_SETTINGS.items():  # unless the user set them
        os.environ.setdefault(name, value)
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import ray

    return ray


class AgentHost:
    """A Ray actor holding the histories of some agents and making their model calls. `setup` (picklable) runs
    once in the host's process before any call, and again after Ray restarts it: e.g. registering a litellm provider."""

    def __init__(self, setup: HostSetup | None = None) -> None:
        from orgruntime.llm import prepare

        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        prepare()  # litellm's import takes seconds: while the host starts, not in its first call
        if setup is not None:
            setup()
        self.histories: dict[tuple[str, str], list[Any]] = {}  # (run key, agent id) -> turns

    def where(self) -> str:
        import ray

        return f"{socket.gethostname()}:{ray.get_runtime_context().get_node_id()[:8]}"

    def forget(self, run_key: str) -> None:
        for key in [key for key in self.histories if key[0] == run_key]:
            del self.histories[key]

    async def chat(self, run_key: str, agent_id: str, offset: int, new_turns: tuple[Any, ...], request: ChatRequest, policy: RetryPolicy, attempt_base: int):
        """Yields ("delta", text, attempt) for each piece of text, then ("result", ChatResult), ("error", LLMError)
        or ("gap", held) when it does not hold the `offset` turns the runner thinks it holds."""
        from dataclasses import replace

        from orgruntime.llm import stream_chat

        history = self.histories.setdefault((run_key, agent_id), [])
        if offset == 0:
            history.clear()  # the whole history is sent
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


def _setup_key(setup: HostSetup | None) -> str:
    return "" if setup is None else f"{getattr(setup, '__module__', '')}.{getattr(setup, '__qualname__', repr(setup))}"


async def _live_nodes(ray: Any) -> list[str]:
    try:
        return await on_daemon_thread(lambda: sorted(node["NodeID"] for node in ray.nodes() if node.get("Alive")), HOST_START_TIMEOUT_S)
    except asyncio.TimeoutError:
        raise ExecutorError(f"the Ray cluster did not list its nodes within {HOST_START_TIMEOUT_S:g} s") from None


class RayExecutor:
    """Model calls on a Ray cluster at `address` (None: a local Ray instance, started here and stopped at close)."""

    name = "ray"

    def __init__(self, address: str | None = None, hosts: int = DEFAULT_HOSTS, host_setup: HostSetup | None = None, recovery_s: float = RECOVERY_S) -> None:
        self.address = parse_ray_address(address) if address is not None else None
        self.hosts, self.host_setup, self.recovery_s = max(1, hosts), host_setup, recovery_s
        self._joined = False
        self._hosts: list[Any] = []
        self._host_index: dict[str, int] = {}  # agent id -> its host
        self._synced: dict[str, int] = {}  # turns of each agent its host holds
        self._where: list[str] = []  # host index -> where it runs
        self._moved: set[int] = set()  # hosts lost since their placement was last asked
        self.placement_epoch = 0
        self._tool_context: ToolContext | None = None
        self._run_key = uuid.uuid4().hex

    async def open(self, agent_ids: tuple[str, ...], tool_context: ToolContext) -> None:
        self._tool_context = tool_context
        ray = await asyncio.to_thread(_ray)  # importing ray takes seconds: not on the caller's loop (the IDE's UI thread)
        timeout = LOCAL_START_TIMEOUT_S if self.address is None else CONNECT_TIMEOUT_S
        try:
            await on_daemon_thread(lambda: Session.acquire(ray, self.address), timeout, late=lambda _: Session.release() and Session.shutdown(ray))
        except asyncio.TimeoutError:
            what = "a local Ray instance did not start" if self.address is None else f"the Ray cluster at {self.address} did not answer"
            raise ExecutorError(f"{what} within {timeout:g} s") from None
        self._joined = True
        count = min(self.hosts, max(1, len(agent_ids)))
        nodes = await _live_nodes(ray)
        self._hosts = [self._kept_host(ray, index, nodes) for index in range(count)]
        try:
            self._where = list(await asyncio.wait_for(asyncio.gather(*(self._first_where(ray, index) for index in range(count))), HOST_START_TIMEOUT_S))
        except asyncio.TimeoutError:
            raise ExecutorError(f"the Ray hosts did not start within {HOST_START_TIMEOUT_S:g} s (does the cluster have a live node?)") from None
        self._host_index = {agent_id: index % count for index, agent_id in enumerate(agent_ids)}
        self.placement_epoch += 1

    def _new_host(self, ray: Any, node: str | None, name: str | None = None) -> Any:
        """A host pinned to `node` (Ray restarts it there when its process dies; when the node dies it cannot come
        back and is replaced). Pinned, because Ray's soft node affinity does not spread hosts that take no CPU."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        strategy = NodeAffinitySchedulingStrategy(node, soft=False) if node else "DEFAULT"
        remote_host = ray.remote(max_restarts=MAX_HOST_RESTARTS, max_task_retries=0, num_cpus=0, scheduling_strategy=strategy)(AgentHost)
        options = {"name": name, "get_if_exists": True} if name else {}
        return remote_host.options(**options).remote(self.host_setup)

    def _session_key(self, ray: Any, index: int) -> tuple[str, int, str]:
        context = ray.get_runtime_context()
        return (f"{context.get_node_id()}/{context.get_job_id()}", index, _setup_key(self.host_setup))

    def _kept_host(self, ray: Any, index: int, nodes: list[str]) -> Any:
        """Host `index` of this driver's job for this setup, made on first use on the index-th live node (round the
        nodes); a non-detached actor dies with its last handle, so the session keeps one. Hosts outlive a run, and
        keep their imports (and loaded models)."""
        key = self._session_key(ray, index)
        if key not in Session.hosts:
            setup = _setup_key(self.host_setup)
            suffix = f"-{uuid.uuid5(uuid.NAMESPACE_URL, setup).hex[:8]}" if setup else ""
            Session.hosts[key] = self._new_host(ray, nodes[index % len(nodes)] if nodes else None, f"orgide-agent-host-{index}{suffix}")
        return Session.hosts[key]

    async def _replace_host(self, ray: Any, index: int, dead: Any) -> None:
        """A new host `index` on a live node, in place of `dead`, whose node is gone (unless that was done meanwhile)."""
        nodes = await _live_nodes(ray)
        if self._hosts[index] is not dead:
            return
        try:
            ray.kill(dead, no_restart=True)
        except Exception:  # noqa: BLE001  gone already
            pass
        self._hosts[index] = Session.hosts[self._session_key(ray, index)] = self._new_host(ray, nodes[index % len(nodes)] if nodes else None)
        self._moved.add(index)

    async def _first_where(self, ray: Any, index: int) -> str:
        try:
            return await self._hosts[index].where.remote()
        except (ray.exceptions.ActorDiedError, ray.exceptions.ActorUnschedulableError):  # a kept host that is gone for good
            await self._replace_host(ray, index, self._hosts[index])
            return await self._hosts[index].where.remote()

    async def chat(self, agent_id: str, request: ChatRequest, on_delta: DeltaSink, policy: RetryPolicy) -> ChatResult:
        ray = _ray()
        loop = asyncio.get_running_loop()
        index = self._host_index[agent_id]
        deadline = loop.time() + self.recovery_s
        attempt_base = 0
        pause = 0.25
        while True:
            offset = self._synced.get(agent_id, 0)
            if offset > len(request.turns):
                offset = 0
            host = self._hosts[index]
            try:
                item = await self._stream(host, agent_id, offset, request, policy, attempt_base, on_delta)
            except _HostLost as lost:
                self._synced[agent_id] = 0  # a restarted host holds nothing
                self._moved.add(index)  # where it comes back is asked once it answers again
                attempt_base += lost.seen  # the text of the lost call starts afresh, as for a retry
                if loop.time() + pause > deadline:
                    raise ExecutorError(f"the Ray host of {agent_id} was lost and did not come back within {self.recovery_s:g} s: {lost.reason}") from None
                if lost.gone:
                    await self._replace_host(ray, index, host)
                else:
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, 4.0)
                continue
            if index in self._moved or item[0] == "gap":  # back after a loss, or restarted unseen (it lost its histories)
                await self._refresh_placement(index)
            match item:
                case ("gap", _):
                    self._synced[agent_id] = 0
                case ("error", error):
                    self._synced[agent_id] = len(request.turns)
                    raise error
                case ("result", result):
                    self._synced[agent_id] = len(request.turns)
                    return result

    async def _stream(self, host: Any, agent_id: str, offset: int, request: ChatRequest, policy: RetryPolicy, attempt_base: int, on_delta: DeltaSink) -> tuple[Any, ...]:
        """One try on `host`: its deltas go to `on_delta`; returns the last item, or raises _HostLost."""
        ray = _ray()
        silence = policy.request_timeout_s + policy.max_wait_s + policy.first_token_timeout_s + ANSWER_GRACE_S
        exceptions = ray.exceptions
        gone = (exceptions.ActorDiedError, exceptions.ActorUnschedulableError, exceptions.NodeDiedError)
        lost = (exceptions.RayActorError, exceptions.WorkerCrashedError, exceptions.ObjectLostError, exceptions.RpcError)
        seen = 0
        generator = host.chat.remote(self._run_key, agent_id, offset, request.turns[offset:], request, policy, attempt_base)
        try:
            while True:
                reference = await asyncio.wait_for(generator.__anext__(), silence)
                item = await asyncio.wait_for(reference, silence)
                if item[0] != "delta":
                    return item
                seen = max(seen, item[2] - attempt_base)
                on_delta(item[1], item[2])
        except StopAsyncIteration:
            raise _HostLost("the host ended the answer without a result", seen) from None
        except asyncio.TimeoutError:
            ray.kill(host, no_restart=False)  # stuck: Ray restarts it
            raise _HostLost(f"no answer for {silence:g} s; the host was restarted", seen) from None
        except gone as error:
            raise _HostLost(f"{type(error).__name__}: {first_line(error)}", seen, gone=True) from None
        except lost as error:
            raise _HostLost(f"{type(error).__name__}: {first_line(error)}", seen) from None
        except exceptions.RayTaskError as error:
            raise ExecutorError(f"the Ray host of {agent_id} failed: {first_line(error)}") from None
        except asyncio.CancelledError:
            try:
                ray.cancel(generator)  # the run stopped: the host stops generating
            except Exception:  # noqa: BLE001  a host that is gone has nothing to stop
                pass
            raise

    async def _refresh_placement(self, index: int) -> None:
        ray = _ray()
        try:
            where = await asyncio.wait_for(self._hosts[index].where.remote(), HOST_START_TIMEOUT_S)
        except (ray.exceptions.RayError, asyncio.TimeoutError):
            return  # still gone: the next try finds out
        self._moved.discard(index)
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
        if not self._joined:
            return
        ray = _ray()
        hosts, self._hosts, self._joined = self._hosts, [], False

        async def forget(host: Any) -> None:
            try:
                await asyncio.wait_for(host.forget.remote(self._run_key), CLOSE_TIMEOUT_S)
            except (ray.exceptions.RayError, asyncio.TimeoutError):  # a host that is gone holds nothing
                pass

        await asyncio.gather(*(forget(host) for host in hosts))
        if Session.release():
            try:
                await on_daemon_thread(lambda: Session.shutdown(ray), CLOSE_TIMEOUT_S)
            except asyncio.TimeoutError:
                pass  # left to finish on its daemon thread
