"""`orgide run`, `orgide runs`, `orgide replay` and `orgide resume`: running orgs headless and reading their logs."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

from rich.console import Console
from rich.live import Live
from rich.table import Table

from orgruntime import Budget, GitError, Org, OrgError, TrustStore, load_org
from orgruntime.run import (
    HumanInputRequested,
    LocalExecutor,
    RunStarted,
    NoHumans,
    Provenance,
    RunConfig,
    RunError,
    Runner,
    RunStream,
    event_to_line,
    list_runs,
    load_events,
    ray_executor,
    read_info,
    render_transcript,
)
from orgruntime.run._log import is_run_id
from orgruntime.vcs import head_commit, is_dirty

from ide.cli._folders import existing_folder
from ide.cli._run_view import LiveRunView

EXIT_OK, EXIT_NO, EXIT_USAGE = 0, 1, 2
RUNS_DIR = Path(".orgide") / "runs"


def register(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser("run", help="run an org on a task", description="Run an org headless. Exit 0 when the run completes, 1 otherwise.")
    run.add_argument("path", help="the org folder")
    run.add_argument("--task", required=True, help="the task, sent by the user to the entry agent")
    _add_run_options(run)
    run.add_argument("--model", help="use this model (a litellm id, e.g. scripted/script.yaml) for every agent")
    run.add_argument("--max-steps", type=_positive_int, help="the run's limit of model calls")
    run.add_argument("--max-tokens", type=_positive_int, help="the run's limit of tokens")
    run.add_argument("--max-cost", type=_positive_float, help="the run's limit of cost in USD")
    run.add_argument("--max-seconds", type=_positive_float, help="the run's limit of wall time")
    run.add_argument("--max-concurrency", type=_positive_int, help="agents working at once")
    run.set_defaults(handler=_run)

    runs = subparsers.add_parser("runs", help="list an org's runs", description="List the runs logged under PATH/.orgide/runs.")
    runs.add_argument("path", help="the org folder")
    runs.add_argument("--json", action="store_true", help="one JSON object per run")
    runs.set_defaults(handler=_runs)

    replay = subparsers.add_parser("replay", help="print a run's transcript from its log", description="Render a run's transcript from its log.")
    replay.add_argument("path", help="the org folder")
    replay.add_argument("run_id", metavar="RUN", help="the run id (see `orgide runs`)")
    replay.add_argument("--json", action="store_true", help="print the logged events, one per line")
    replay.set_defaults(handler=_replay)

    resume = subparsers.add_parser("resume", help="continue a run cut short", description="Continue a run from its log. Exit 0 when it completes.")
    resume.add_argument("path", help="the org folder")
    resume.add_argument("run_id", metavar="RUN", help="the run id (see `orgide runs`)")
    _add_run_options(resume)
    resume.set_defaults(handler=_resume)


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--human", choices=("stdin", "deny"), default="stdin", help="how human seats answer (default: stdin)")
    parser.add_argument("--trusted", action="store_true", help="trust this org for this run: allow run_python and its tools (orgs the IDE trusts are trusted anyway)")
    parser.add_argument("--api-base", help="send model calls to this OpenAI-compatible base URL")
    parser.add_argument(
        "--model-server", dest="model_servers", action="append", default=[], type=_model_server, metavar="MODEL=URL",
        help="send calls of MODEL (a litellm id, e.g. openai/qwen2.5-7b) to the OpenAI-compatible server at URL; "
        "repeat it: several URLs for one model are load-balanced, and one that fails is skipped",
    )
    parser.add_argument("--executor", choices=("local", "ray"), help="where the agents' model calls run: in this process (local, the default) or on a Ray cluster")
    parser.add_argument("--ray-address", metavar="ADDRESS", help="the Ray cluster to run on, e.g. 10.0.0.5:6379 (implies --executor ray; without it, ray starts a local instance)")
    parser.add_argument("--json", action="store_true", help="print every event as one JSON line")


def _model_server(text: str) -> tuple[str, str]:
    model, equals, url = text.partition("=")
    model, url = model.strip(), url.strip()
    if not equals:
        raise argparse.ArgumentTypeError(f"{text!r} is not MODEL=URL (e.g. openai/qwen2.5-7b=http://10.0.0.7:8000/v1)")
    if not model:
        raise argparse.ArgumentTypeError(f"{text!r} names no model before '='")
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{url!r} has a bad port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"the server of {model}, {url!r}, is not an http(s) URL with a host")
    return model, url


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive whole number")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be a positive number")
    return value


class StdinHumans:
    """Shows the question on stderr and reads one line of answer from stdin (EOF: nobody is there).

    The line is read on a daemon thread, so a run stopped while a person thinks does not wait for Enter.
    """

    def __init__(self, console: Console) -> None:
        self._console = console
        self._lock = asyncio.Lock()
        self.live: Live | None = None  # the live view is held still while a person types

    async def answer(self, request: HumanInputRequested) -> str | None:
        async with self._lock:
            if self.live is not None:
                self.live.stop()
            try:
                return await self._ask(request)
            finally:
                if self.live is not None:
                    self.live.start()

    async def _ask(self, request: HumanInputRequested) -> str | None:
        self._console.print(f"\n[bold]{request.agent}[/bold] (a human seat) is asked by {request.sender}:\n{request.question}\nyour answer> ", end="")
        line = await _read_line()
        return line.rstrip("\n") if line else None


async def _read_line() -> str:
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[str] = loop.create_future()

    def read() -> None:
        try:
            line = sys.stdin.readline()
        except (OSError, ValueError):
            line = ""
        loop.call_soon_threadsafe(lambda: answer.done() or answer.set_result(line))

    threading.Thread(target=read, name="human seat input", daemon=True).start()
    return await answer


def _load(path: str, verb: str) -> tuple[Path, Org] | int:
    root = existing_folder(path, verb)
    if root is None:
        return EXIT_USAGE
    try:
        return root, load_org(root)
    except OrgError as problem:
        print(f"orgide {verb}: {problem}", file=sys.stderr)
        return EXIT_NO


def _provenance(root: Path) -> Provenance:
    try:
        return Provenance(org_path=str(root.resolve()), commit=head_commit(root), dirty=is_dirty(root))
    except (GitError, OSError):
        return Provenance(org_path=str(root.resolve()))


def _register_local_engine(org: Org, model: str | None) -> bool:
    """The composition root's job: let litellm answer local/ models from the built-in engine, when a run needs it.
    Whether it does (Ray hosts then register it too)."""
    models = [model] if model else [org.model_of(agent.id) or "" for agent in org.agents]
    if any(name.startswith("local/") for name in models):
        from kernels import register_litellm_provider

        register_litellm_provider()
        return True
    return False


def _config(args: argparse.Namespace, console: Console, budget: Budget | None = None, model: str | None = None, concurrency: int | None = None, local_models: bool = False) -> RunConfig:
    human = StdinHumans(console) if args.human == "stdin" else NoHumans()
    if args.executor == "local" and args.ray_address:
        print("orgide: --ray-address needs --executor ray (or no --executor)", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)
    try:
        executor = _executor(args, local_models)
    except ValueError as problem:  # a malformed address: nothing has started yet
        print(f"orgide: --ray-address: {problem}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None
    servers: dict[str, list[str]] = {}
    for server_model, url in args.model_servers:
        servers.setdefault(server_model, []).append(url)
    trusted = args.trusted or TrustStore().is_trusted(args.path)
    return RunConfig(
        model=model, budget=budget, max_concurrency=concurrency, trusted=trusted, api_base=args.api_base,
        model_servers={name: tuple(dict.fromkeys(urls)) for name, urls in servers.items()}, human=human, executor=executor,
    )


def _executor(args: argparse.Namespace, local_models: bool):
    if args.executor != "ray" and not args.ray_address:
        return LocalExecutor
    if local_models:  # each Ray host answers local/ models from its own built-in engine
        from kernels import register_litellm_provider

        return ray_executor(args.ray_address, host_setup=register_litellm_provider)
    return ray_executor(args.ray_address)


def _run(args: argparse.Namespace) -> int:
    loaded = _load(args.path, "run")
    if isinstance(loaded, int):
        return loaded
    root, org = loaded
    console = Console(stderr=args.json)
    budget = Budget(max_steps=args.max_steps, max_tokens=args.max_tokens, max_cost_usd=args.max_cost, max_seconds=args.max_seconds)
    local_models = _register_local_engine(org, args.model)
    runner = Runner(_config(args, console, budget, args.model, args.max_concurrency, local_models))
    stream = runner.stream(org, args.task, runs_dir=root / RUNS_DIR, provenance=_provenance(root), org_dir=root)
    return _consume(stream, args.json, console, runner.config.human)


def _resume(args: argparse.Namespace) -> int:
    loaded = _load(args.path, "resume")
    if isinstance(loaded, int):
        return loaded
    root, org = loaded
    run_dir = _run_dir(root, args.run_id, "resume")
    if isinstance(run_dir, int):
        return run_dir
    console = Console(stderr=args.json)
    try:
        models = read_info(run_dir).get("models") or {}
        local_models = _register_local_engine(org, next((m for m in models.values() if str(m).startswith("local/")), None))
        runner = Runner(_config(args, console, local_models=local_models))
        stream = runner.resume_stream(org, run_dir, org_dir=root)
    except RunError as problem:
        print(f"orgide resume: {problem}", file=sys.stderr)
        return EXIT_NO
    return _consume(stream, args.json, console, runner.config.human)


def _consume(stream: RunStream, as_json: bool, console: Console, human: object = None) -> int:
    def budget() -> dict:
        """The limits the run works under, from its run.json (written before its first event)."""
        try:
            return read_info(stream.run_dir).get("budget") or {} if stream.run_dir is not None else {}
        except RunError:
            return {}

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, stream.stop)
        loop.add_signal_handler(signal.SIGTERM, stream.stop)
        if as_json:
            async for event in stream:
                sys.stdout.write(event_to_line(event) + "\n")
                sys.stdout.flush()
            return
        with LiveRunView(console, {}) as view:
            if isinstance(human, StdinHumans):
                human.live = view.live
            async for event in stream:
                if isinstance(event, RunStarted):
                    view.view.budget = budget()
                view.show(event)

    asyncio.run(main())
    outcome = stream.outcome
    if outcome is None:
        return EXIT_NO
    if not as_json:
        console.print(f"run {outcome.run_id}: {outcome.status} (log: {outcome.run_dir})", style="bold")
    return EXIT_OK if outcome.status == "completed" else EXIT_NO


def _run_dir(root: Path, run_id: str, verb: str) -> Path | int:
    if not is_run_id(run_id):
        print(f"orgide {verb}: {run_id!r} is not a run id", file=sys.stderr)
        return EXIT_USAGE
    run_dir = root / RUNS_DIR / run_id
    if not run_dir.is_dir():
        print(f"orgide {verb}: no run {run_id} in {root / RUNS_DIR}", file=sys.stderr)
        return EXIT_NO
    return run_dir


def _runs(args: argparse.Namespace) -> int:
    root = existing_folder(args.path, "runs")
    if root is None:
        return EXIT_USAGE
    runs = list_runs(root / RUNS_DIR)
    if args.json:
        for info in runs:
            print(json.dumps(info, sort_keys=True))
        return EXIT_OK
    if not runs:
        print(f"no runs in {root / RUNS_DIR}")
        return EXIT_OK
    rows = []
    for info in runs:
        totals = info.get("totals") or {}
        commit = (info.get("commit") or "-")[:10] + ("+dirty" if info.get("dirty") else "")
        rows.append((
            str(info.get("run_id")), str(info.get("status")), str(info.get("started_at", "")),
            str(totals.get("steps", "")), str(totals.get("tokens", "")), f"{totals.get('cost_usd', 0.0):.4f}",
            commit, " ".join(str(info.get("task", "")).split())[:60],
        ))
    headers = ("run", "status", "started", "steps", "tokens", "cost $", "commit", "task")
    if not sys.stdout.isatty():  # plain columns for pipes and scripts
        for row in (headers, *rows):
            print("\t".join(row))
        return EXIT_OK
    table = Table(*headers)
    for row in rows:
        table.add_row(*row)
    Console().print(table)
    return EXIT_OK


def _replay(args: argparse.Namespace) -> int:
    root = existing_folder(args.path, "replay")
    if root is None:
        return EXIT_USAGE
    run_dir = _run_dir(root, args.run_id, "replay")
    if isinstance(run_dir, int):
        return run_dir
    try:
        loaded = load_events(run_dir)
    except RunError as problem:
        print(f"orgide replay: {problem}", file=sys.stderr)
        return EXIT_NO
    if args.json:
        for event in loaded.events:
            print(event_to_line(event))
    else:
        for line in render_transcript(loaded.events):
            print(line)
    if loaded.torn_tail is not None:
        print(f"orgide replay: the log ends in a torn line ({len(loaded.torn_tail)} bytes, dropped); the run was cut short", file=sys.stderr)
    return EXIT_OK
