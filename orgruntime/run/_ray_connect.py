"""Joining Ray with deadlines: an address is probed before ray.init, which runs on a daemon thread that the
caller stops waiting for at a deadline; runs in one process share one connection (`Session`). Takes the ray
module from the Ray executor, the one module that imports it."""

from __future__ import annotations

import asyncio
import os
import queue
import socket
import threading
from collections.abc import Callable
from typing import Any

from orgruntime.run._errors import RunError
from orgruntime.run._ray_address import RayAddress

LOCAL_CPUS = 2
PROBE_TIMEOUT_S = 5.0  # a TCP connect to the address: nothing there fails here, fast
# ray.init retries a cluster that does not answer 20 times, up to 40 s each. While connecting, that is cut to one
# try (read when connecting), of up to 10 s for the cluster's id (IMPORT_SETTINGS: read when ray is imported, so
# set before it is, unless the user set them). The connect deadline holds either way; these let an abandoned
# try end sooner.
_CONNECT_SETTINGS = {"RAY_gcs_server_port_wait_time_s": "1"}
IMPORT_SETTINGS = {"RAY_py_gcs_connect_timeout_s": "10", "RAY_USAGE_STATS_ENABLED": "0"}
# Ray's core ends a driver process whose cluster has been unreachable for this long (60 s by default). The driver
# (the CLI's run, the IDE) must outlive a cluster that vanishes: its runs then fail with the reason, as every wait
# on the cluster is bounded by the executor. Read when the driver first joins or starts a cluster.
DRIVER_SETTINGS = {"RAY_gcs_rpc_server_reconnect_timeout_s": str(10 * 365 * 24 * 3600)}


class ExecutorError(RunError):
    """The cluster could not run an agent's work (no cluster, a host that cannot come back)."""


async def on_daemon_thread(work: Callable[[], Any], timeout: float, late: Callable[[Any], None] | None = None) -> Any:
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


class Session:
    """This process's use of Ray: runs share one connection; the one this module made ends with its last run."""

    lock = threading.Lock()
    users = 0
    started_here = False
    hosts: dict[tuple[str, int, str], Any] = {}  # (session, index, setup) -> handle: hosts outlive a run (and keep their imports)

    @classmethod
    def acquire(cls, ray: Any, address: RayAddress | None) -> None:
        """Called on a daemon thread: joins (or starts) Ray under the lock."""
        with cls.lock:
            if not ray.is_initialized():
                _init(ray, address)
                cls.started_here, cls.hosts = True, {}
            cls.users += 1

    @classmethod
    def shutdown(cls, ray: Any) -> None:
        """Shut down the Ray instance this module made; then its parent thread may end."""
        try:
            ray.shutdown()
        finally:
            _LocalParent.stop()

    @classmethod
    def release(cls) -> bool:
        """Whether Ray should now be shut down (the last run on a connection this module made has closed)."""
        with cls.lock:
            cls.users = max(0, cls.users - 1)
            if cls.users == 0 and cls.started_here:
                cls.started_here, cls.hosts = False, {}
                return True
            return False


class _LocalParent:
    """The thread that starts a local Ray instance, kept alive until the instance is shut down: Ray's processes
    are told to die with the thread that started them (Linux's PR_SET_PDEATHSIG is per thread), so a start on a
    short-lived thread would take the new cluster down with that thread. A daemon thread, so it never holds up
    the process's exit (and the cluster's processes then go with it)."""

    stopped = threading.Event()

    @classmethod
    def start(cls, ray: Any) -> None:
        started: queue.Queue[BaseException | None] = queue.Queue(maxsize=1)
        cls.stopped = stopped = threading.Event()

        def parent() -> None:
            try:
                ray.init(address="local", num_cpus=LOCAL_CPUS, include_dashboard=False, log_to_driver=False,
                         configure_logging=False, _node_ip_address="127.0.0.1")  # fmt: skip
            except BaseException as error:  # handed to the caller
                started.put(error)
                return
            started.put(None)
            stopped.wait()

        threading.Thread(target=parent, name="orgide ray parent", daemon=True).start()
        error = started.get()
        if error is not None:
            raise error

    @classmethod
    def stop(cls) -> None:
        cls.stopped.set()


def _init(ray: Any, address: RayAddress | None) -> None:
    if address is None:
        _LocalParent.start(ray)
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
        if _caused_by(error, ray.exceptions.AuthenticationError):
            raise ExecutorError(
                f"the Ray cluster at {address} wants its token: set RAY_AUTH_MODE=token, with the cluster's token in "
                "RAY_AUTH_TOKEN or ~/.ray/auth_token"
            ) from None
        raise ExecutorError(f"cannot join the Ray cluster at {address}: {type(error).__name__}: {first_line(error)}") from None
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)


def _caused_by(error: BaseException | None, kind: type[BaseException]) -> bool:
    seen = 0
    while error is not None and seen < 20:
        if isinstance(error, kind) or kind.__name__ in str(error):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


def first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [repr(error)])[0][:300]
