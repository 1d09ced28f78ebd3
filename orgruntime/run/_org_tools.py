'''Org-defined tools: `tools/<name>.py` in the org folder, found by reading the files, never by running them.

A tool file looks like this:

    """Look up the weather for a city.

    The module docstring is the description the model is given.
    """

    PARAMETERS = {  # a JSON schema of an object (optional: no arguments); a plain literal
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    }

    def run(city: str) -> str:  # the arguments as keywords; returns text (other values are sent as JSON)
        ...

- The file name is the tool's name, `^[a-z][a-z0-9_]{0,63}$`, and may not be a built-in tool or action.
  Files whose name starts with `_` are helpers a tool may import, not tools.
- Nothing of the org's code runs in this process: the files are parsed with `ast` and PARAMETERS is read
  with `ast.literal_eval`. The code read when the run starts is the code that runs.
- A call runs only in a trusted run, in its own process with run_python's limits (time, memory, output),
  the workspace as its folder and a bare environment (no API keys). What the tool prints is kept apart
  from its result and shown only when it fails.
'''

from __future__ import annotations

import ast
import json
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orgruntime._model import BUILTIN_TOOLS
from orgruntime.llm import ToolSpec
from orgruntime.run._errors import ToolError
from orgruntime.run._sandbox import PythonLimits, run_limited

TOOLS_DIR = "tools"
MAX_TOOL_FILE_BYTES = 512 * 1024
MAX_DESCRIPTION_CHARS = 2000
TOOL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
RESERVED = frozenset({"send_message", "finish", *BUILTIN_TOOLS})
NO_PARAMETERS: Mapping[str, Any] = {"type": "object", "properties": {}}


@dataclass(frozen=True, kw_only=True)
class OrgTool:
    """One tools/<name>.py: its spec when it is usable, else the problem that keeps it from being offered."""

    name: str
    path: Path
    source: str = ""
    spec: ToolSpec | None = None
    problem: str | None = None


def discover_org_tools(org_dir: Path) -> dict[str, OrgTool]:
    """Every tools/*.py of the org in `org_dir`, by name (helpers starting with `_` left out)."""
    folder = org_dir / TOOLS_DIR
    if not folder.is_dir() or folder.is_symlink():
        return {}
    try:
        names = sorted(entry.name for entry in os.scandir(folder) if entry.name.endswith(".py") and not entry.name.startswith("_"))
    except OSError:
        return {}
    tools = {}
    for file_name in names:
        tool = read_org_tool(folder / file_name)
        tools[tool.name] = tool
    return tools


def read_org_tool(path: Path) -> OrgTool:
    name = path.name[:-3]
    if not TOOL_NAME.match(name):
        return OrgTool(name=name, path=path, problem=f"{name!r} is not a tool name (lowercase letters, digits and _, starting with a letter)")
    if name in RESERVED:
        return OrgTool(name=name, path=path, problem=f"{name!r} is the name of a built-in tool or action")
    try:
        source = _read_source(path)
        spec = _spec_from_source(name, source)
    except ToolError as problem:
        return OrgTool(name=name, path=path, problem=f"{TOOLS_DIR}/{path.name}: {problem}")
    return OrgTool(name=name, path=path, source=source, spec=spec)


def _read_source(path: Path) -> str:
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise ToolError(f"cannot be read: {error.strerror}") from None
    with os.fdopen(descriptor, "rb") as handle:
        data = handle.read(MAX_TOOL_FILE_BYTES + 1)
    if len(data) > MAX_TOOL_FILE_BYTES:
        raise ToolError(f"larger than {MAX_TOOL_FILE_BYTES // 1024} KB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ToolError("not UTF-8 text") from None


def _spec_from_source(name: str, source: str) -> ToolSpec:
    try:
        module = ast.parse(source, filename=f"{TOOLS_DIR}/{name}.py")
    except (SyntaxError, ValueError) as error:
        line = f" (line {error.lineno})" if isinstance(error, SyntaxError) and error.lineno else ""
        raise ToolError(f"not valid Python{line}: {getattr(error, 'msg', error)}") from None
    except (RecursionError, MemoryError):
        raise ToolError("nested too deeply to read") from None
    description = " ".join((ast.get_docstring(module) or "").split())
    if not description:
        raise ToolError("has no module docstring (it is the description the model is given)")
    if not any(isinstance(node, ast.FunctionDef) and node.name == "run" for node in module.body):
        raise ToolError("defines no top-level `def run(...)`")
    parameters = _parameters(module)
    return ToolSpec(name=name, description=description[:MAX_DESCRIPTION_CHARS], parameters=parameters)


def _parameters(module: ast.Module) -> Mapping[str, Any]:
    value: ast.expr | None = None
    for node in module.body:
        if isinstance(node, ast.Assign) and any(isinstance(target, ast.Name) and target.id == "PARAMETERS" for target in node.targets):
            value = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == "PARAMETERS":
            value = node.value
    if value is None:
        return NO_PARAMETERS
    try:
        parameters = ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise ToolError("PARAMETERS must be a plain literal (a dict of JSON values)") from None
    if not isinstance(parameters, dict) or parameters.get("type", "object") != "object":
        raise ToolError('PARAMETERS must be a JSON schema of an object: {"type": "object", "properties": {...}}')
    try:
        json.dumps(parameters)
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError

        Draft202012Validator.check_schema(parameters)
    except (TypeError, ValueError) as error:
        raise ToolError(f"PARAMETERS is not JSON: {error}") from None
    except SchemaError as error:
        raise ToolError(f"PARAMETERS is not a valid JSON schema: {error.message}") from None
    return {"type": "object", **parameters}


def check_arguments(tool: OrgTool, arguments: Mapping[str, Any]) -> None:
    assert tool.spec is not None
    from jsonschema import Draft202012Validator

    errors = sorted(Draft202012Validator(dict(tool.spec.parameters)).iter_errors(dict(arguments)), key=lambda error: list(error.path))
    if errors:
        where = "/".join(str(part) for part in errors[0].path)
        raise ToolError(f"bad arguments for {tool.name}{' at ' + where if where else ''}: {errors[0].message}")


# Runs in the tool's own process: reads {"name", "source", "arguments", "tools_dir"} from stdin, sends what
# the tool prints to stderr and writes {"ok": ..., "result" | "error": ...} to the real stdout.
_HOST = r"""
import json, os, sys, traceback
request = json.loads(sys.stdin.buffer.read().decode("utf-8"))
result_fd = os.dup(1)
os.dup2(2, 1)
sys.path.insert(0, request["tools_dir"])
def reply(answer):
    with os.fdopen(result_fd, "w", encoding="utf-8") as out:
        json.dump(answer, out)
try:
    namespace = {"__name__": "orgtool_" + request["name"], "__file__": request["path"]}
    exec(compile(request["source"], request["path"], "exec"), namespace)
    value = namespace["run"](**request["arguments"])
    if not isinstance(value, str):
        value = "(no result)" if value is None else json.dumps(value, ensure_ascii=False, default=str)
    reply({"ok": True, "result": value})
except BaseException as error:
    traceback.print_exc()
    reply({"ok": False, "error": type(error).__name__ + ": " + str(error)})
"""


async def call_org_tool(tool: OrgTool, arguments: Mapping[str, Any], workspace: Path, limits: PythonLimits) -> str:
    """Run the tool on `arguments` in its own process; ToolError for anything that goes wrong."""
    if tool.spec is None:
        raise ToolError(tool.problem or f"{tool.name} is not a usable tool")
    check_arguments(tool, arguments)
    request = {"name": tool.name, "path": str(tool.path), "source": tool.source, "arguments": dict(arguments), "tools_dir": str(tool.path.parent)}
    finished = await run_limited(
        [sys.executable, "-I", "-c", _HOST],
        workspace=workspace,
        limits=limits,
        stdin=json.dumps(request).encode("utf-8"),
        separate_errors=True,
    )
    printed = finished.errors.decode("utf-8", errors="replace").strip()
    try:
        answer = json.loads(finished.output.decode("utf-8")) if not finished.output_truncated else None
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        detail = printed[-2000:] or f"exit status {finished.returncode}"
        if finished.output_truncated:
            detail = f"its result is larger than {limits.output_bytes} bytes"
        raise ToolError(f"the tool {tool.name} ended without a result: {detail}")
    if not answer.get("ok"):
        raise ToolError(f"the tool {tool.name} failed: {answer.get('error')}" + (f"\n{printed[-2000:]}" if printed else ""))
    return str(answer.get("result", ""))
