"""The Ray executor: the agents' model calls run on a Ray cluster (the one module of orgide that imports ray).

Agents live on named host actors (an actor is a process: one per agent would not scale to hundreds of agents), spread
over the cluster's nodes; each host holds the conversation histories of its agents, so a call ships only the
turns the host has not seen. The runner keeps the schedule, the events and the log; it streams each answer's
text back as it is generated. Tools run in the runner's process, where the run's workspace folder is.

Every wait on the cluster has a deadline: connecting (a probe of the address, then ray.init on a daemon thread),
starting the hosts, each piece of an answer, and closing. Faults: when a host dies (its worker or node is
killed, or it stops answering and is killed here), Ray restarts it, on another node if its node is gone; its
agents' histories are sent again from the runner's state, which is folded from the run log, and the call in
flight is made again. A call whose answer was never received is not a completed call, so none is repeated.
When the host is not back within `recovery_s`, the call fails with ExecutorError and the run ends `failed`.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from orgruntime.llm import ChatRequest, ChatResult, RetryPolicy
from orgruntime.run._errors import RunError
from orgruntime.run._executor import DeltaSink
from orgruntime.run._ray_address import RayAddress, parse_ray_address
from orgruntime.run._tools import ToolContext, call_tool

DEFAULT_HOSTS = 2
LOCAL_CPUS = 2
MAX_HOST_RESTARTS = 3
PROBE_TIMEOUT_S = 5.0  # a TCP connect to the address: nothing there fails here, fast
CONNECT_TIMEOUT_S = 20.0  # ray.init against a cluster
LOCAL_START_TIMEOUT_S = 120.0  # ray.init starting a local instance (slow on a loaded machine)
HOST_START_TIMEOUT_S = 60.0  # the hosts' first answer: they are scheduled, started and have run the host setup
RECOVERY_S = 90.0  # how long a call waits for its lost host to come back
ANSWER_GRACE_S = 30.0  # beyond the retry policy's own limits, before a silent host is taken for stuck
CLOSE_TIMEOUT_S = 15.0
# ray.init retries a cluster that does not answer 20 times, up to 40 s each. While connecting, that is cut to one
# try (read when connecting), of up to 10 s for the cluster's id (read when ray is imported, so set before it is,
# unless the user set it). The connect deadline holds either way; these let an abandoned try end sooner.
_CONNECT_SETTINGS = {"RAY_gcs_server_port_wait_time_s": "1"}
_IMPORT_SETTINGS = {"RAY_py_gcs_connect_timeout_s": "10", "RAY_USAGE_STATS_ENABLED": "0"}

HostSetup = Callable[[], None]


class ExecutorError(RunError):
    """The cluster could not run an agent's work (no cluster, a host that cannot come back)."""


class _HostLost(Exception):
    """The host's process is gone or stuck: the call is made again once the host is back."""


def _ray() -> Any:
    if "ray" not in sys.modules:
        for name, value in _IMPORT_SETTINGS.items():
            os.environ.setdefault(name, value)
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import ray

    return ray


class AgentHost:
    """A Ray actor holding the histories of some agents and making their model calls. `setup` (picklable) runs
    once in the host's process before any call, and again after Ray restarts it: e.g. registering a litellm provider."""

    def __init__(self, setup: HostSetup | None = None) -> None:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
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


async def _on_daemon_thread(work: Callable[[], Any], timeout: float, late: Callable[[Any], None] | None = None) -> Any:
    """`work()` on a daemon thread, waited for `timeout` seconds (asyncio.TimeoutError after that). A thread that
    overruns is left to finish (it never holds up the process's exit); `late(result)` then cleans up its result."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[Any] = loop.create_future()

    def deliver(ok: bool, value: Any) -> None:
        if waiter.done():  # the waiter gave up meanwhile
            if ok and late is not None:
                threading.Thread(target=late, args=(value,), name="orgide ray cleanup", daemon=True).start()
        elif ok:
            waiter.set_result(value)
        else:
            waiter.set_exception(value)

    def run() -> None:
        try:
            ok, value = True, work()
        except BaseException as error:  # handed to the waiter
            ok, value = False, error
        try:
            loop.call_soon_threadsafe(deliver, ok, value)
        except RuntimeError:  # the loop is closed: nobody waits any more
            if ok and late is not None:
                late(value)

    threading.Thread(target=run, name="orgide ray", daemon=True).start()
    return await asyncio.wait_for(waiter, timeout)


class _Session:
    """This process's use of Ray: runs share one connection; the one this module made ends with its last run."""

    lock = threading.Lock()
    users = 0
    started_here = False
    hosts: dict[tuple[str, int, str], Any] = {}  # (session, index, setup) -> handle: hosts outlive a run (and keep their imports)

    @classmethod
    def acquire(cls, address: RayAddress | None) -> None:
        """Called on a daemon thread: joins (or starts) Ray under the lock."""
        ray = _ray()
        with cls.lock:
            if not ray.is_initialized():
                _init(ray, address)
                cls.started_here, cls.hosts = True, {}
            cls.users += 1

    @classmethod
    def release(cls) -> bool:
        """Whether Ray should now be shut down (the last run on a connection this module made has closed)."""
        with cls.lock:
            cls.users = max(0, cls.users - 1)
            if cls.users == 0 and cls.started_here:
                cls.started_here, cls.hosts = False, {}
                return True
            return False


def _init(ray: Any, address: RayAddress | None) -> None:
    if address is None:
        ray.init(address="local", num_cpus=LOCAL_CPUS, include_dashboard=False, log_to_driver=False, configure_logging=False, _node_ip_address="127.0.0.1")
        return
    try:
        socket.create_connection((address.host, address.port), timeout=PROBE_TIMEOUT_S).close()
    except OSError as error:
        raise ExecutorError(f"no Ray cluster answers at {address}: {error.strerror or error}") from None
    local_only = {"_node_ip_address": "127.0.0.1"} if address.is_loopback else {}  # a cluster on this machine is reached on loopback
    saved = {name: os.environ.get(name) for name in _CONNECT_SETTINGS}
    os.environ.update({name: value for name, value in _CONNECT_SETTINGS.items() if saved[name] is None})
    try:
        ray.init(address=str(address), log_to_driver=False, configure_logging=False, **local_only)
    except ExecutorError:
        raise
    except Exception as error:  # ray says ConnectionError, RuntimeError, ValueError ... for a cluster it cannot join
        raise ExecutorError(f"cannot join the Ray cluster at {address}: {type(error).__name__}: {_first_line(error)}") from None
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [repr(error)])[0][:300]


def _setup_key(setup: HostSetup | None) -> str:
    return "" if setup is None else f"{getattr(setup, '__module__', '')}.{getattr(setup, '__qualname__', repr(setup))}"


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
        self.placement_epoch = 0
        self._tool_context: ToolContext | None = None
        self._run_key = uuid.uuid4().hex

    async def open(self, agent_ids: tuple[str, ...], tool_context: ToolContext) -> None:
        self._tool_context = tool_context
        ray = _ray()
        timeout = LOCAL_START_TIMEOUT_S if self.address is None else CONNECT_TIMEOUT_S
        try:
            await _on_daemon_thread(lambda: _Session.acquire(self.address), timeout, late=lambda _: _Session.release() and ray.shutdown())
        except asyncio.TimeoutError:
            what = "a local Ray instance did not start" if self.address is None else f"the Ray cluster at {self.address} did not answer"
            raise ExecutorError(f"{what} within {timeout:g} s") from None
        self._joined = True
        count = min(self.hosts, max(1, len(agent_ids)))
        self._hosts = [self._host(ray, index) for index in range(count)]
        try:
            self._where = list(await asyncio.wait_for(asyncio.gather(*(self._first_where(ray, index) for index in range(count))), HOST_START_TIMEOUT_S))
        except asyncio.TimeoutError:
            raise ExecutorError(f"the Ray hosts did not start within {HOST_START_TIMEOUT_S:g} s (does the cluster have a live node?)") from None
        self._host_index = {agent_id: index % count for index, agent_id in enumerate(agent_ids)}
        self.placement_epoch += 1

    def _host(self, ray: Any, index: int, fresh: bool = False) -> Any:
        """Host `index` of this driver's job for this setup, made on first use (a non-detached actor dies with its
        last handle, so one is kept). `fresh`: the kept one is dead for good; make another."""
        setup = _setup_key(self.host_setup)
        context = ray.get_runtime_context()
        key = (f"{context.get_node_id()}/{context.get_job_id()}", index, setup)
        if fresh or key not in _Session.hosts:
            remote_host = ray.remote(max_restarts=MAX_HOST_RESTARTS, max_task_retries=0, num_cpus=0, scheduling_strategy="SPREAD")(AgentHost)
            suffix = f"-{uuid.uuid5(uuid.NAMESPACE_URL, setup).hex[:8]}" if setup else ""
            options = {"name": f"orgide-agent-host-{index}{suffix}", "get_if_exists": True} if not fresh else {}
            _Session.hosts[key] = remote_host.options(**options).remote(self.host_setup)
        return _Session.hosts[key]

    async def _first_where(self, ray: Any, index: int) -> str:
        try:
            return await self._hosts[index].where.remote()
        except ray.exceptions.ActorDiedError:  # a kept host that used up its restarts
            self._hosts[index] = self._host(ray, index, fresh=True)
            return await self._hosts[index].where.remote()

    async def chat(self, agent_id: str, request: ChatRequest, on_delta: DeltaSink, policy: RetryPolicy) -> ChatResult:
        loop = asyncio.get_running_loop()
        index = self._host_index[agent_id]
        deadline = loop.time() + self.recovery_s
        attempt_base = 0
        pause = 0.25
        while True:
            offset = self._synced.get(agent_id, 0)
            if offset > len(request.turns):
                offset = 0
            try:
                item = await self._stream(index, agent_id, offset, request, policy, attempt_base, on_delta)
            except _HostLost as lost:
                self._synced[agent_id] = 0  # a restarted host holds nothing
                attempt_base += lost.args[1]  # the text of the lost call starts afresh, as for a retry
                if loop.time() + pause > deadline:
                    raise ExecutorError(f"the Ray host of {agent_id} was lost and did not come back within {self.recovery_s:g} s: {lost.args[0]}") from None
                await asyncio.sleep(pause)
                pause = min(pause * 2, 4.0)
                await self._refresh_placement(index)
                continue
            match item:
                case ("gap", _):
                    self._synced[agent_id] = 0
                    await self._refresh_placement(index)  # the host lost its histories: it was restarted
                case ("error", error):
                    self._synced[agent_id] = len(request.turns)
                    raise error
                case ("result", result):
                    self._synced[agent_id] = len(request.turns)
                    return result

    async def _stream(self, index: int, agent_id: str, offset: int, request: ChatRequest, policy: RetryPolicy, attempt_base: int, on_delta: DeltaSink) -> tuple[Any, ...]:
        """One try on the host: its deltas go to `on_delta`; returns the last item. _HostLost(reason, attempts seen)."""
        ray = _ray()
        host = self._hosts[index]
        silence = policy.request_timeout_s + policy.max_wait_s + policy.first_token_timeout_s + ANSWER_GRACE_S
        lost = (ray.exceptions.RayActorError, ray.exceptions.NodeDiedError, ray.exceptions.WorkerCrashedError, ray.exceptions.ObjectLostError, ray.exceptions.ActorUnschedulableError, ray.exceptions.RpcError)
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
        except lost as error:
            raise _HostLost(f"{type(error).__name__}: {_first_line(error)}", seen) from None
        except ray.exceptions.RayTaskError as error:
            raise ExecutorError(f"the Ray host of {agent_id} failed: {_first_line(error)}") from None
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
        if _Session.release():
            try:
                await _on_daemon_thread(ray.shutdown, CLOSE_TIMEOUT_S)
            except asyncio.TimeoutError:
                pass  # left to finish on its daemon thread
