"""The built-in tools. Each takes the run's workspace and the model's arguments and returns text;
anything wrong becomes a ToolError, whose message goes back to the agent."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orgruntime.llm import ToolSpec
from orgruntime.run._errors import ToolError
from orgruntime.run._org_tools import OrgTool, call_org_tool
from orgruntime.run._python_tool import PythonLimits, run_python
from orgruntime.run._workspace import confined_path, display, open_no_follow

MAX_READ_BYTES = 256 * 1024
MAX_WRITE_BYTES = 1024 * 1024
MAX_LISTED = 500


@dataclass(frozen=True, kw_only=True)
class ToolContext:
    workspace: Path | None
    python: PythonLimits = PythonLimits()
    org_tools: Mapping[str, OrgTool] = field(default_factory=dict)  # read only for trusted runs


ToolFunction = Callable[[ToolContext, Mapping[str, Any]], Awaitable[str]]


def _string(arguments: Mapping[str, Any], name: str, default: str | None = None) -> str:
    value = arguments.get(name, default)
    if not isinstance(value, str):
        raise ToolError(f"the argument {name!r} must be a string")
    return value


def _workspace(context: ToolContext) -> Path:
    if context.workspace is None:
        raise ToolError("this run has no workspace folder")
    return context.workspace


async def read_file(context: ToolContext, arguments: Mapping[str, Any]) -> str:
    path = confined_path(_workspace(context), _string(arguments, "path"))
    if not path.is_file():
        raise ToolError(f"{_string(arguments, 'path')} is not a file")
    descriptor = open_no_follow(path, os.O_RDONLY)
    with os.fdopen(descriptor, "rb") as handle:
        data = handle.read(MAX_READ_BYTES + 1)
    text = data[:MAX_READ_BYTES].decode("utf-8", errors="replace")
    return text + ("\n[... truncated]" if len(data) > MAX_READ_BYTES else "")


async def write_file(context: ToolContext, arguments: Mapping[str, Any]) -> str:
    workspace = _workspace(context)
    path = confined_path(workspace, _string(arguments, "path"))
    data = _string(arguments, "content").encode("utf-8")
    if len(data) > MAX_WRITE_BYTES:
        raise ToolError(f"the content is larger than {MAX_WRITE_BYTES} bytes")
    if path.is_dir():
        raise ToolError(f"{display(workspace, path)} is a folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    confined_path(workspace, display(workspace, path))  # the folders just made are still inside
    descriptor = open_no_follow(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    return f"wrote {len(data)} bytes to {display(workspace, path)}"


async def list_files(context: ToolContext, arguments: Mapping[str, Any]) -> str:
    workspace = _workspace(context)
    start = confined_path(workspace, _string(arguments, "path", "."), allow_root=True)
    if not start.is_dir():
        raise ToolError(f"{_string(arguments, 'path', '.')} is not a folder")
    root = workspace.resolve()
    names: list[str] = []
    for folder, subfolders, files in os.walk(start):
        subfolders[:] = sorted(name for name in subfolders if name.lower() != ".git" and not os.path.islink(os.path.join(folder, name)))
        for name in sorted(files):
            names.append(Path(folder, name).relative_to(root).as_posix())
            if len(names) >= MAX_LISTED:
                return "\n".join(names) + f"\n[... more than {MAX_LISTED} files]"
    return "\n".join(names) if names else "(no files)"


async def python_tool(context: ToolContext, arguments: Mapping[str, Any]) -> str:
    return await run_python(_workspace(context), _string(arguments, "code"), context.python)


_PATH = {"type": "string", "description": "a path relative to the workspace"}
TOOLS: Mapping[str, tuple[ToolSpec, ToolFunction]] = {
    "read_file": (
        ToolSpec(name="read_file", description="Read a text file from the workspace.", parameters={"type": "object", "properties": {"path": _PATH}, "required": ["path"]}),
        read_file,
    ),
    "write_file": (
        ToolSpec(
            name="write_file",
            description="Create or replace a text file in the workspace.",
            parameters={"type": "object", "properties": {"path": _PATH, "content": {"type": "string"}}, "required": ["path", "content"]},
        ),
        write_file,
    ),
    "list_files": (
        ToolSpec(name="list_files", description="List the files under a folder of the workspace.", parameters={"type": "object", "properties": {"path": _PATH}}),
        list_files,
    ),
    "run_python": (
        ToolSpec(
            name="run_python",
            description="Run a Python program in the workspace and get its output (time and memory are limited).",
            parameters={"type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"]},
        ),
        python_tool,
    ),
}


def needs_trust(name: str) -> bool:
    """run_python and every tool of the org's own run only in trusted runs."""
    return name == "run_python" or name not in TOOLS


def tool_spec(name: str, org_tools: Mapping[str, OrgTool] | None = None) -> ToolSpec | None:
    entry = TOOLS.get(name)
    if entry is not None:
        return entry[0]
    tool = (org_tools or {}).get(name)
    return tool.spec if tool is not None else None


async def call_tool(context: ToolContext, name: str, arguments: Mapping[str, Any]) -> str:
    entry = TOOLS.get(name)
    if entry is not None:
        return await entry[1](context, arguments)
    tool = context.org_tools.get(name)
    if tool is None:
        raise ToolError(f"there is no tool {name!r}")
    return await call_org_tool(tool, arguments, _workspace(context), context.python)
