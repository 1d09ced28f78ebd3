"""run_python: a program in a separate process, with time, memory and output limits and a bare environment."""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from orgruntime.run._errors import ToolError


@dataclass(frozen=True, kw_only=True)
class PythonLimits:
    seconds: float = 10.0
    memory_bytes: int = 512 * 1024 * 1024
    output_bytes: int = 64 * 1024
    max_code_chars: int = 100_000


def _bare_environment(workspace: Path) -> dict[str, str]:
    """Nothing inherited: no API keys, no proxies, no PYTHONPATH."""
    return {"PATH": os.defpath, "HOME": str(workspace), "LANG": "C.UTF-8", "PYTHONIOENCODING": "utf-8", "PYTHONDONTWRITEBYTECODE": "1"}


def _limit(memory_bytes: int, seconds: float) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    cpu = int(seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


async def run_python(workspace: Path, code: str, limits: PythonLimits) -> str:
    if len(code) > limits.max_code_chars:
        raise ToolError(f"the program is longer than {limits.max_code_chars} characters")
    if "\x00" in code:
        raise ToolError("the program contains a NUL byte")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-I",
        "-c",
        code,
        cwd=workspace,
        env=_bare_environment(workspace),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=lambda: _limit(limits.memory_bytes, limits.seconds),
    )
    assert process.stdout is not None
    try:
        output = await asyncio.wait_for(_read_limited(process.stdout, limits.output_bytes), limits.seconds)
        code_returned = await asyncio.wait_for(process.wait(), limits.seconds)
    except asyncio.TimeoutError:
        _kill_group(process.pid)
        await process.wait()
        raise ToolError(f"the program ran longer than {limits.seconds:g} s and was stopped") from None
    except BaseException:
        _kill_group(process.pid)
        await process.wait()
        raise
    text, truncated = output
    body = text.decode("utf-8", errors="replace") + ("\n[... output truncated]" if truncated else "")
    if code_returned != 0:
        return f"exit status {code_returned}\n{body}"
    return body or "(no output)"


async def _read_limited(stream: asyncio.StreamReader, limit: int) -> tuple[bytes, bool]:
    data = bytearray()
    truncated = False
    while chunk := await stream.read(65536):
        room = limit - len(data)
        if room > 0:
            data += chunk[:room]
        if len(chunk) > room:
            truncated = True
    return bytes(data), truncated


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
