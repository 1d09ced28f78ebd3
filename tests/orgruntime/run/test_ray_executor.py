"""The Ray executor on one local Ray instance shared by the module: every template's scripted run gives the
transcript of the asyncio executor (its golden file, which the golden test checks against the asyncio run)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from orgruntime import create_org, load_org
from orgruntime.run import AgentFailed, AgentPlaced, FixedAnswers, LLMCallFinished, RunConfig, Runner, TokenDelta, load_events, read_info, render_transcript
from orgruntime.run._executor import ray_executor
from tests.orgruntime.run.orgs import CHAIN_SCRIPT, chain_org, write_script

ray = pytest.importorskip("ray")
GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "runs"
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False, _node_ip_address="127.0.0.1")
    yield
    ray.shutdown()


def run(org, config: RunConfig, task: str, runs_dir: Path):
    async def main():
        stream = Runner(config).stream(org, task, runs_dir=runs_dir)
        return stream, [event async for event in stream]

    return asyncio.run(asyncio.wait_for(main(), 120))


TEMPLATES = sorted(path.name for path in GOLDEN.iterdir() if path.is_dir())


def test_every_templates_scripted_run_on_ray_gives_the_asyncio_transcript(tmp_path: Path) -> None:
    """The three runs go at once, over the same hosts: their histories must not mix."""

    async def one(template: str):
        case = GOLDEN / template
        root = create_org(tmp_path / template, template, git=False)
        config = RunConfig(model=f"scripted/{case / 'script.yaml'}", human=FixedAnswers(["Approved: refund the double charge."]), executor=ray_executor())
        stream = Runner(config).stream(load_org(root), (case / "task.txt").read_text().strip(), runs_dir=root / ".orgide" / "runs")
        return case, stream, [event async for event in stream]

    async def main():
        return await asyncio.gather(*(one(template) for template in TEMPLATES))

    results = asyncio.run(asyncio.wait_for(main(), 240))
    assert len(results) == len(TEMPLATES) >= 3
    for case, stream, events in results:
        assert "\n".join(render_transcript(events)) + "\n" == (case / "expected.txt").read_text(encoding="utf-8"), case.name
        assert stream.outcome is not None and stream.outcome.status == "completed"
        info = read_info(stream.run_dir)
        assert info["executor"] == "ray" and all(where for where in info["placement"].values())
        assert [event.seq for event in load_events(stream.run_dir).events] == [event.seq for event in events if not isinstance(event, TokenDelta)]


def test_a_chain_on_ray_streams_text_keeps_the_log_and_reuses_the_hosts(tmp_path: Path) -> None:
    host = ray.get_actor("orgide-agent-host-0")  # made by the template runs, which have forgotten their histories
    assert ray.get(host.__ray_call__.remote(lambda actor: len(actor.histories))) == 0
    org = chain_org(write_script(tmp_path, CHAIN_SCRIPT))
    stream, events = run(org, RunConfig(executor=ray_executor(hosts=1)), "make hello", tmp_path / "runs")
    assert stream.outcome is not None and stream.outcome.result == "hello.py shipped"
    assert "".join(event.text for event in events if isinstance(event, TokenDelta) and event.agent == "reviewer") == "Looks good"
    assert (stream.run_dir / "workspace" / "hello.py").read_text() == "print('hi')"  # tools run where the workspace is
    logged = load_events(stream.run_dir)
    assert logged.torn_tail is None
    assert [type(event).__name__ for event in logged.events] == [type(event).__name__ for event in events if not isinstance(event, TokenDelta)]
    assert sum(isinstance(event, LLMCallFinished) for event in logged.events) == 7
    node = ray.get_runtime_context().get_node_id()[:8]
    placement = read_info(stream.run_dir)["placement"]
    assert set(placement) == {"ceo", "engineer", "reviewer"} and all(where.endswith(node) for where in placement.values())
    assert {event.agent_id: event.where for event in events if isinstance(event, AgentPlaced)} == placement
    assert sum(isinstance(event, AgentPlaced) for event in logged.events) == 3  # placed once each, nobody moved
    assert ray.get(host.__ray_call__.remote(lambda actor: len(actor.histories))) == 0


def test_local_models_answer_on_ray_hosts_that_register_the_built_in_engine(tmp_path: Path) -> None:
    """Without the host setup, a host cannot answer local/ models (the engine is registered in the driver only);
    with kernels' registration as the setup, its answers are the in-process run's, token for token. (The tiny
    random model answers with no action, so both runs end `failed` after two unreadable answers.)"""
    from kernels import TinyModelSpec, register_litellm_provider, write_tiny_llama_gguf

    from orgruntime._model import Agent, ModelDefaults, Org

    model = write_tiny_llama_gguf(tmp_path / "tiny.gguf", TinyModelSpec(context=2048))
    org = Org(name="Solo", entry="solo", defaults=ModelDefaults(model=f"local/{model}", max_tokens=40, temperature=0.0), agents=(Agent(id="solo", prompt="Answer."),))

    _, unregistered = run(org, RunConfig(executor=ray_executor(hosts=1)), "say hi", tmp_path / "bare")
    [failure] = [event.error for event in unregistered if isinstance(event, AgentFailed)]
    assert "local/ models need the built-in engine, which is not registered in this process" in failure

    register_litellm_provider()  # for the in-process run to compare with
    _, local = run(org, RunConfig(), "say hi", tmp_path / "local")
    stream, on_ray = run(org, RunConfig(executor=ray_executor(hosts=1, host_setup=register_litellm_provider)), "say hi", tmp_path / "ray")
    answers = [(event.text, event.completion_tokens) for event in on_ray if isinstance(event, LLMCallFinished)]
    assert answers and answers == [(event.text, event.completion_tokens) for event in local if isinstance(event, LLMCallFinished)]
    assert render_transcript(on_ray) == render_transcript(local)
    import uuid

    from orgruntime.run._ray_executor import _setup_key

    setup_host = ray.get_actor(f"orgide-agent-host-0-{uuid.uuid5(uuid.NAMESPACE_URL, _setup_key(register_litellm_provider)).hex[:8]}")
    assert ray.get(setup_host.where.remote(), timeout=30) == read_info(stream.run_dir)["placement"]["solo"]
