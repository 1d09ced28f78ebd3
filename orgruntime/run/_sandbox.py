"""A program in a separate process, with time, memory and output limits and a bare environment:
what run_python and the org's own tools run in."""

from __future__ import annotations

import asyncio
import os
import resource
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from orgruntime.run._errors import ToolError


@dataclass(frozen=True, kw_only=True)
class PythonLimits:
    seconds: float = 10.0
    memory_bytes: int = 512 * 1024 * 1024
    output_bytes: int = 64 * 1024
    max_code_chars: int = 100_000


@dataclass(frozen=True)
class Finished:
    returncode: int
    output: bytes  # stdout, with stderr merged in unless asked to keep it apart
    output_truncated: bool
    errors: bytes = b""  # stderr, when kept apart
    errors_truncated: bool = False


def bare_environment(workspace: Path) -> dict[str, str]:
    """Nothing inherited: no API keys, no proxies, no PYTHONPATH."""
    return {"PATH": os.defpath, "HOME": str(workspace), "LANG": "C.UTF-8", "PYTHONIOENCODING": "utf-8", "PYTHONDONTWRITEBYTECODE": "1"}


def _limit(memory_bytes: int, seconds: float) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    cpu = int(seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


async def run_limited(argv: Sequence[str], *, workspace: Path, limits: PythonLimits, stdin: bytes | None = None, separate_errors: bool = False) -> Finished:
    """Run `argv` in `workspace`; ToolError when it runs longer than `limits.seconds` (it is killed, with its children)."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=workspace,
        env=bare_environment(workspace),
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE if separate_errors else asyncio.subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=lambda: _limit(limits.memory_bytes, limits.seconds),
    )
    assert process.stdout is not None
    try:
        readers = [_read_limited(process.stdout, limits.output_bytes)]
        if separate_errors:
            assert process.stderr is not None
            readers.append(_read_limited(process.stderr, limits.output_bytes))
        if stdin is not None:
            assert process.stdin is not None
            readers.append(_feed(process.stdin, stdin))
        outputs = await asyncio.wait_for(asyncio.gather(*readers), limits.seconds)
        returncode = await asyncio.wait_for(process.wait(), limits.seconds)
    except asyncio.TimeoutError:
        _kill_group(process.pid)
        await process.wait()
        raise ToolError(f"the program ran longer than {limits.seconds:g} s and was stopped") from None
    except BaseException:
        _kill_group(process.pid)
        await process.wait()
        raise
    output, output_truncated = outputs[0]
    errors, errors_truncated = outputs[1] if separate_errors else (b"", False)
    return Finished(returncode, output, output_truncated, errors, errors_truncated)


async def _feed(pipe: asyncio.StreamWriter, data: bytes) -> tuple[bytes, bool]:
    try:
        pipe.write(data)
        await pipe.drain()
        pipe.close()
    except (BrokenPipeError, ConnectionResetError):  # the program did not read it all: its exit says why
        pass
    return b"", False


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
