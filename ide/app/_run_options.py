"""Run options of this machine (not of the org): the executor, the Ray address, and model servers.

They live in the IDE's settings and reach the run engine as RunConfig fields. Checking them is pure:
each check returns the problem as a sentence, or None when the input is fine.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from orgruntime.run import Executor

LOCAL, RAY = "local", "ray"
EXECUTORS = (LOCAL, RAY)
EXECUTOR_TITLES = {LOCAL: "Local (asyncio)", RAY: "Ray"}
RAY_INSTALL_HINT = "Ray is not installed. Install the cluster extra: pip install 'orgide[cluster]'"
_URL_SEPARATORS = re.compile(r"[\s,]+")


@dataclass(frozen=True)
class RunOptions:
    executor: str = LOCAL
    ray_address: str = ""  # "" starts a local Ray instance
    model_servers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # model id -> OpenAI-compatible base URLs


def ray_available() -> bool:
    """Whether ray can be imported (found without importing it: the import alone takes seconds)."""
    return importlib.util.find_spec("ray") is not None


def ray_address_problem(text: str) -> str | None:
    """None for "" (a local instance), host:port or ray://host:port; else what is wrong (the run engine's own check)."""
    from orgruntime.run import ray_executor

    if not text.strip():
        return None
    try:
        ray_executor(text.strip())
    except ValueError as problem:
        return str(problem)
    return None


def server_url_problem(url: str) -> str | None:
    """None for an http(s) URL with a host (and a valid port, if any); else what is wrong."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError as error:
        return f"'{url}' is not a valid URL: {error}"
    if parts.scheme not in ("http", "https"):
        return f"'{url}' is not an http:// or https:// URL"
    if not parts.hostname:
        return f"'{url}' has no host"
    return None


def split_urls(text: str) -> list[str]:
    return [url for url in _URL_SEPARATORS.split(text.strip()) if url]


def parse_server_rows(rows: Iterable[tuple[str, str]]) -> tuple[dict[str, tuple[str, ...]], list[tuple[int, str]]]:
    """Table rows (model id, URLs separated by spaces or commas) -> (servers, problems as (row number, sentence)).

    Rows are numbered from 1, as the table shows them; a row left wholly empty is no row. A bad row is
    never dropped quietly: it is a problem, and the caller keeps what the person typed."""
    servers: dict[str, tuple[str, ...]] = {}
    problems: list[tuple[int, str]] = []
    for number, (model_text, urls_text) in enumerate(rows, start=1):
        model, urls = model_text.strip(), split_urls(urls_text)
        if not model and not urls:
            continue
        problem = _row_problem(model, urls, servers)
        if problem:
            problems.append((number, problem))
        else:
            servers[model] = tuple(dict.fromkeys(urls))
    return servers, problems


def _row_problem(model: str, urls: list[str], servers: Mapping[str, object]) -> str | None:
    if not model:
        return "name the model these servers serve"
    if any(character.isspace() for character in model):
        return f"the model id '{model}' contains spaces"
    if model in servers:
        return f"{model} is already listed; put all its server URLs in one row"
    if not urls:
        return f"give {model} at least one server URL"
    bad = [problem for problem in map(server_url_problem, urls) if problem]
    return "; ".join(bad) or None


def executor_factory(options: RunOptions, *, uses_local_models: bool = False) -> Callable[[], Executor]:
    """RunConfig.executor for these options. On Ray, a run with `local/` models has each host register the
    built-in engine with litellm in its own process (with the engine's default settings), and this process
    is set to outlive its cluster (orgruntime.run.RAY_DRIVER_SETTINGS, applied by the executor)."""
    from orgruntime.run import LocalExecutor, ray_executor

    if options.executor != RAY:
        return LocalExecutor
    address = options.ray_address.strip() or None
    if uses_local_models:
        from kernels import register_litellm_provider

        return ray_executor(address, host_setup=register_litellm_provider)
    return ray_executor(address)
