"""Joining a Ray cluster is bounded: a malformed address is refused before anything starts; an address where
nothing listens, or where something that is not Ray listens, fails the run within the connect deadline, with
the address in the reason."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from pathlib import Path

import importlib.util

import pytest

from orgruntime.run import RAY_DRIVER_SETTINGS, LLMCallFinished, RunConfig, Runner, load_events, ray_executor, read_info
from orgruntime.run._ray_address import parse_ray_address
from orgruntime.run._ray_connect import PROBE_TIMEOUT_S, Session
from orgruntime.run._ray_executor import CONNECT_TIMEOUT_S, RayExecutor, _ray
from tests.orgruntime.run.orgs import CHAIN_SCRIPT, chain_org, write_script

if importlib.util.find_spec("ray") is None:
    pytest.skip("ray is not installed (the optional extra cluster)", allow_module_level=True)
ray = _ray()  # imported as the executor imports it
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.mark.parametrize(
    ("address", "complaint"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("headnode", "needs a host and a port"),
        (":6379", "needs a host and a port"),
        ("10.0.0.5:", "port must be a number"),
        ("10.0.0.5:0", "port must be a number"),
        ("10.0.0.5:65536", "port must be a number"),
        ("10.0.0.5:63x9", "port must be a number"),
        ("http://10.0.0.5:6379", "only ray://"),
        ("head node:6379", "not a host name"),
        ("1.2.3:6379", "not a host name"),
        ("::1:6379", "brackets"),
        ("[::1:6379", "not a Ray address"),
    ],
)
def test_a_malformed_address_is_refused_before_anything_starts(address: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        ray_executor(address)
    with pytest.raises(ValueError, match=complaint):
        RayExecutor(address)


@pytest.mark.parametrize("address", ["10.0.0.5:6379", "head-1.cluster.example:6379", "ray://10.0.0.5:10001", "[::1]:6379", "localhost:6380"])
def test_well_formed_addresses_are_taken(address: str) -> None:
    assert str(parse_ray_address(address)) == address
    ray_executor(address)  # nothing connects yet


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_against(address: str, tmp_path: Path):
    org = chain_org(write_script(tmp_path, CHAIN_SCRIPT))

    async def main():
        stream = Runner(RunConfig(executor=ray_executor(address))).stream(org, "make hello", runs_dir=tmp_path / "runs")
        return stream, [event async for event in stream]

    stream, events = asyncio.run(asyncio.wait_for(main(), 120))
    return stream, events, events[-1].ts - events[0].ts  # from RunStarted (litellm is imported) to RunFinished


def assert_failed_cleanly(stream, events, address: str) -> None:
    assert stream.outcome is not None and stream.outcome.status == "failed"
    assert f"at {address}" in (stream.outcome.error or "")
    assert "the ray executor could not start: ExecutorError" in (stream.outcome.error or "")
    assert not any(isinstance(event, LLMCallFinished) for event in events)
    info = read_info(stream.run_dir)
    assert info["status"] == "failed" and info["error"] == stream.outcome.error
    assert load_events(stream.run_dir).torn_tail is None
    assert not ray.is_initialized()


def test_an_address_where_nothing_listens_fails_the_run_fast(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    stream, events, took = run_against(address, tmp_path)
    assert_failed_cleanly(stream, events, address)
    assert "no Ray cluster answers" in (stream.outcome.error or "")
    assert took < PROBE_TIMEOUT_S + 15  # importing ray takes seconds on a loaded machine


def test_an_address_where_something_else_listens_fails_within_the_connect_deadline(tmp_path: Path) -> None:
    """A TCP listener that accepts and never speaks: the probe passes, ray.init does not get through."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    threading.Thread(target=accept, daemon=True).start()
    address = f"127.0.0.1:{listener.getsockname()[1]}"
    try:
        stream, events, took = run_against(address, tmp_path)
    finally:
        stop.set()
        listener.close()
        for connection in accepted:
            connection.close()
    assert_failed_cleanly(stream, events, address)
    assert took < CONNECT_TIMEOUT_S + 15
    # an abandoned ray.init is left to give up on its own thread; it must not outlive this test by much
    assert Session.lock.acquire(timeout=90)
    Session.lock.release()
    assert not ray.is_initialized()


def test_the_driver_is_set_to_outlive_a_vanished_cluster_unless_the_user_chose(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ray's core ends a driver whose cluster is unreachable for 60 s; the CLI's and the IDE's runs must fail instead."""
    (name, value), = RAY_DRIVER_SETTINGS.items()
    monkeypatch.setenv(name, "")
    monkeypatch.delenv(name)
    _ray()
    assert os.environ[name] == value and int(value) > 365 * 24 * 3600
    monkeypatch.setenv(name, "120")
    _ray()
    assert os.environ[name] == "120"
