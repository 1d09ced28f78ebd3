"""A worker node of a two-node Ray cluster crashes mid-run (its processes SIGKILLed): the agents it hosted come
back on the head and the run completes without making a completed model call again, or it fails with the
reason; the log stays whole either way.

The cluster is started here (a head and a worker node, see ray_cluster.py); the agents' model is a slow
OpenAI-compatible server on 127.0.0.1 that keeps a ledger of every request. Every wait has a deadline: the
test ends within ~2 minutes whatever happens, and the cluster is gone afterwards."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import pytest

from orgruntime._model import Agent, Channel, ChannelKind, ModelDefaults, Org
from orgruntime.llm import RetryPolicy
from orgruntime.run import (
    EVENTS_FILE,
    AgentPlaced,
    LLMCallFinished,
    RunConfig,
    RunFinished,
    Runner,
    TokenDelta,
    event_from_json,
    read_info,
    render_transcript,
    ray_executor,
)
from tests.orgruntime.llm.fake_openai import Answer
from ide.cli import main as orgide_main
from tests.orgruntime.run.ray_cluster import SlowModelServer, TwoNodeCluster, wait_until

ray = pytest.importorskip("ray")
from orgruntime.run._ray_connect import Session  # noqa: E402
pytestmark = [pytest.mark.slow, pytest.mark.timeout(180), pytest.mark.filterwarnings("ignore::DeprecationWarning")]

WORKERS = ("w1", "w2", "w3", "w4")
MODEL = "openai/gpt-4o-mini"  # a model litellm knows to call tools natively
TEST_DEADLINE_S = 95
# short model-call limits: a lost call is found out by Ray (seconds), these only bound a host that hangs
RETRY = RetryPolicy(max_attempts=2, base_delay_s=0.1, max_wait_s=1, request_timeout_s=20, first_token_timeout_s=15, idle_timeout_s=10)


def fan_out_org() -> Org:
    return Org(
        name="Fan out",
        entry="lead",
        defaults=ModelDefaults(model=MODEL),
        channels=tuple(Channel(source="lead", target=worker, kind=ChannelKind.DELEGATES) for worker in WORKERS),
        agents=(Agent(id="lead", prompt="AGENT=lead."), *(Agent(id=worker, prompt=f"AGENT={worker}.") for worker in WORKERS)),
    )


SCRIPT = {
    "lead": [
        Answer(tool_calls=tuple(("send_message", {"to": worker, "content": "report"}) for worker in WORKERS)),
        Answer(tool_calls=(("finish", {"result": "everyone reported"}),)),
    ],
    **{worker: [Answer(text=f"{worker} reporting: all is well on this side of the cluster")] for worker in WORKERS},
}


def test_a_worker_node_killed_mid_run_its_agents_recover_on_the_head(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    deadline = started + TEST_DEADLINE_S  # each step gets what is left of it; cleaning up takes at most ~25 s more
    server = SlowModelServer(SCRIPT, piece_s=0.15)  # a worker's answer streams for ~3 s
    cluster = TwoNodeCluster()
    runs_dir = tmp_path / "org" / ".orgide" / "runs"
    killed: dict[str, float | str] = {}
    try:
        cluster.start(timeout=min(60, deadline - time.monotonic()))
        # joined here, so that the run starts once both nodes offer their resources (a node that has just
        # started may not take hosts yet); the executor joins this connection and leaves it open
        within(lambda: ray.init(address=cluster.address, log_to_driver=False, configure_logging=False, _node_ip_address="127.0.0.1"), min(30, deadline - time.monotonic()))
        wait_until(lambda: ray.cluster_resources().get("CPU") == 2, min(30, deadline - time.monotonic()), "the two nodes did not offer their CPUs")
        config = RunConfig(executor=ray_executor(cluster.address, hosts=2), model_servers={MODEL: (server.base_url,)}, api_key="sk-fake", retry=RETRY)

        async def main():
            stream = Runner(config).stream(fan_out_org(), "everyone report", runs_dir=runs_dir)
            events, where = [], {}
            async for event in stream:
                events.append(event)
                if isinstance(event, AgentPlaced):
                    where[event.agent_id] = event.where
                    if len(set(where.values())) == 2 and "head" not in killed:
                        killed["head"] = head_node_of(where)
                if isinstance(event, TokenDelta) and "at" not in killed and "head" in killed and not where[event.agent].endswith(str(killed["head"])):
                    cluster.kill_worker()  # an agent of the worker node is mid-answer: crash the node
                    killed.update(at=time.time(), agent=event.agent)
            return stream, events

        stream, events = asyncio.run(asyncio.wait_for(main(), max(1.0, deadline - time.monotonic())))
        assert ray.is_initialized() and Session.users == 0  # the run left the connection it did not make open
    finally:
        if ray.is_initialized():
            within(ray.shutdown, 10)
        cluster.stop()
        server.stop()
    assert not cluster.leftovers()

    assert "at" in killed, "the worker node was never killed (the hosts did not spread over both nodes?)"
    placed = [event for event in events if isinstance(event, AgentPlaced)]
    before = {event.agent_id: event.where for event in placed if event.ts < float(killed["at"])}
    assert len(set(before.values())) == 2 and set(before) == {"lead", *WORKERS}  # spread over both nodes
    assert stream.outcome is not None
    finished = [event for event in events if isinstance(event, LLMCallFinished)]
    if stream.outcome.status == "completed":
        assert stream.outcome.result == "everyone reported"
        moved = {event.agent_id for event in placed if event.ts > float(killed["at"])}
        assert killed["agent"] in moved  # placed again, on the head
        head = str(killed["head"])
        assert all(where.endswith(head) for where in read_info(stream.run_dir)["placement"].values())
        assert sorted((event.agent, event.model) for event in finished) == sorted([("lead", MODEL)] * 2 + [(worker, MODEL) for worker in WORKERS])
        lost = [request for request in server.requests if request.agent == killed["agent"]]
        assert len(lost) >= 2  # its answer was cut by the crash and asked for again
    else:
        assert stream.outcome.status == "failed" and "Ray host" in (stream.outcome.error or ""), stream.outcome
    # no completed model call was made again: nothing asked for an answer the run already had
    for event in finished:
        index = sum(1 for other in finished if other.agent == event.agent and other.seq < event.seq)
        late = [request for request in server.requests if (request.agent, request.index) == (event.agent, index) and request.started > event.ts]
        assert not late, f"{event.agent}'s answer {index} was asked for again after it was received"

    lines = (stream.run_dir / EVENTS_FILE).read_text(encoding="utf-8").splitlines()
    logged = [event_from_json(json.loads(line)) for line in lines]  # every line parses
    assert isinstance(logged[-1], RunFinished) and [event.seq for event in logged] == sorted({event.seq for event in logged})
    capsys.readouterr()
    assert orgide_main(["replay", str(tmp_path / "org"), stream.run_id]) == 0  # the CLI reads it (in this process: no second start-up)
    assert capsys.readouterr().out.splitlines() == render_transcript(logged)
    assert time.monotonic() - started < 120


def within(work, timeout: float) -> None:
    """`work()` on a daemon thread, given `timeout` seconds (a hung ray call cannot hold the test or its exit)."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as error:  # handed to the test
            failure.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"{getattr(work, '__name__', 'a ray call')} took over {timeout:g} s")
    if failure:
        raise failure[0]


def head_node_of(where: dict[str, str]) -> str:
    """The head's node id (the short form a placement ends with), asked of the cluster the run has joined."""
    [head] = [node["NodeID"][:8] for node in ray.nodes() if node.get("Alive") and "node:__internal_head__" in node.get("Resources", {})]
    assert any(place.endswith(head) for place in where.values())
    return head
