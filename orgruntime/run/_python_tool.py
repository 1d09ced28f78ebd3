"""run_python: a program in a separate process, with time, memory and output limits and a bare environment."""

from __future__ import annotations

import sys
from pathlib import Path

from orgruntime.run._errors import ToolError
from orgruntime.run._sandbox import PythonLimits, run_limited

__all__ = ["PythonLimits", "run_python"]


async def run_python(workspace: Path, code: str, limits: PythonLimits) -> str:
    if len(code) > limits.max_code_chars:
        raise ToolError(f"the program is longer than {limits.max_code_chars} characters")
    if "\x00" in code:
        raise ToolError("the program contains a NUL byte")
    finished = await run_limited([sys.executable, "-I", "-c", code], workspace=workspace, limits=limits)
    body = finished.output.decode("utf-8", errors="replace") + ("\n[... output truncated]" if finished.output_truncated else "")
    if finished.returncode != 0:
        return f"exit status {finished.returncode}\n{body}"
    return body or "(no output)"
