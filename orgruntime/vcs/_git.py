"""The one module of orgruntime that runs git (through GitPython's `Git.execute`, never a shell).

Every call runs with settings injected as command-line-scope config (GIT_CONFIG_COUNT/KEY/VALUE, so no
value is ever parsed out of argv) that neutralise whatever the repository's own config asks for:
hooks point at an empty folder, fsmonitor is off, no pager, no external diff, every filter named in
the config is emptied and made optional, credential helpers and the ssh command come only from the
user's global/system config, the askpass and proxy commands are emptied, and only the file, https,
http, ssh and git transports are allowed (never `ext::` or `fd::`). The work tree and git folder are
passed explicitly, so `core.worktree` in a hostile config cannot redirect writes.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from orgruntime.vcs._errors import GitCommandFailed, NotARepositoryError

ALLOWED_PROTOCOLS = ("file", "https", "http", "ssh", "git")
_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class GitResult:
    returncode: int
    stdout: bytes
    stderr: str

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", errors="surrogateescape")


def run(root: Path, *args: str, stdin: bytes | None = None, check: bool = True, network: bool = False,
        extra_config: Sequence[tuple[str, str]] = (), progress: Callable[[str], None] | None = None) -> GitResult:
    """Run `git ARGS` on the repository whose work tree is `root` (which must hold `.git`).

    `extra_config` comes before the neutralising settings, so it can never switch them back on.
    `progress` receives each line git writes to stderr as it comes (for `--progress` output).
    """
    git_dir = root / ".git"
    if not git_dir.exists():
        raise NotARepositoryError(f"{root} is not the root of a git repository (no .git)")
    env = {"GIT_DIR": str(git_dir), "GIT_WORK_TREE": str(root)}
    config = [*extra_config, *_neutralising_config(network), *_filter_overrides(root, env)]
    return _execute(root, args, config, env, stdin, check, progress)


def run_outside(cwd: Path, *args: str, check: bool = True, network: bool = False,
                progress: Callable[[str], None] | None = None) -> GitResult:
    """Run `git ARGS` that make a repository (init, clone) from `cwd`, with no repository around it."""
    _refuse_redirecting_environment(("GIT_DIR", "GIT_WORK_TREE"))
    env = {"GIT_CEILING_DIRECTORIES": str(cwd.parent)}
    return _execute(cwd, args, _neutralising_config(network), env, None, check, progress)


# Set by a git process around us (orgide run from a hook or alias): they would point git at other files.
_REDIRECTING = ("GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR",
                "GIT_NAMESPACE")


def _refuse_redirecting_environment(extra: Sequence[str] = ()) -> None:
    found = [name for name in (*_REDIRECTING, *extra) if os.environ.get(name)]
    if found:
        raise GitCommandFailed(["(environment)"], 2, f"refusing to run git while {', '.join(found)} "
                               "is set in the environment (is orgide running inside a git hook?)")


def _execute(cwd: Path, args: Sequence[str], config: Sequence[tuple[str, str]], env: dict[str, str],
             stdin: bytes | None, check: bool, progress: Callable[[str], None] | None = None) -> GitResult:
    _refuse_redirecting_environment()
    from git.cmd import Git  # GitPython is imported on first use: importing orgruntime stays fast
    from git.exc import GitCommandNotFound

    full_env = {**_base_env(), **env, **_config_env(config)}
    command = [Git.GIT_PYTHON_GIT_EXECUTABLE or "git", "--no-pager", *args]
    with tempfile.TemporaryFile() as stream:
        if stdin is not None:
            stream.write(stdin)
            stream.seek(0)
        try:
            if progress is not None:
                process = Git(str(cwd)).execute(command, as_process=True, env=full_env, shell=False)
                status, out, err = _stream(process.proc, progress)
            else:
                status, out, err = Git(str(cwd)).execute(
                    command, istream=stream if stdin is not None else None, with_extended_output=True,
                    with_exceptions=False, stdout_as_string=False, strip_newline_in_stdout=False,
                    kill_after_timeout=_TIMEOUT_S, env=full_env, shell=False,
                )
        except GitCommandNotFound as missing:
            raise GitCommandFailed(list(args), 127, f"git is not installed or not on PATH: {missing}") from missing
    stderr = err.decode("utf-8", "replace") if isinstance(err, bytes) else str(err)
    result = GitResult(int(status), out if isinstance(out, bytes) else str(out).encode(), stderr)
    if check and result.returncode != 0:
        raise GitCommandFailed(list(args), result.returncode, stderr)
    return result


def _stream(process: subprocess.Popen, progress: Callable[[str], None]) -> tuple[int, bytes, bytes]:
    """Hand each stderr line (progress lines end in a carriage return) to `progress` while git runs."""
    out: list[bytes] = []
    reader = threading.Thread(target=lambda: out.append(process.stdout.read()), daemon=True)
    reader.start()
    watchdog = threading.Timer(_TIMEOUT_S, process.kill)
    watchdog.start()
    err = bytearray()
    pending = b""
    try:
        while chunk := process.stderr.read1(4096):
            err += chunk
            pending += chunk
            *lines, pending = re.split(rb"[\r\n]", pending)
            for line in lines:
                if line.strip():
                    progress(line.decode("utf-8", "replace"))
        if pending.strip():
            progress(pending.decode("utf-8", "replace"))
        status = process.wait()
    except BaseException:
        process.kill()
        raise
    finally:
        watchdog.cancel()
    reader.join()
    return status, b"".join(out), bytes(err)


def _base_env() -> dict[str, str]:
    return {
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_PAGER": "cat",
        "PAGER": "cat",
        "GIT_EDITOR": ":",
        "GIT_SEQUENCE_EDITOR": ":",
        "GIT_PROTOCOL_FROM_USER": "0",
        "GIT_ALLOW_PROTOCOL": ":".join(ALLOWED_PROTOCOLS),
        "GIT_OPTIONAL_LOCKS": "0",
        "GIT_MERGE_AUTOEDIT": "no",
        "GIT_LITERAL_PATHSPECS": "1",
    }


def _config_env(config: Sequence[tuple[str, str]]) -> dict[str, str]:
    env = {"GIT_CONFIG_COUNT": str(len(config))}
    for index, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


def _neutralising_config(network: bool) -> list[tuple[str, str]]:
    config = [
        ("core.hooksPath", str(_empty_hooks_folder())),
        ("core.fsmonitor", "false"),
        ("core.untrackedCache", "false"),
        ("core.pager", "cat"),
        ("core.askPass", ""),
        ("core.gitProxy", ""),
        ("core.alternateRefsCommand", ""),
        ("core.sshCommand", (_trusted_values("core.sshCommand") or ("ssh",))[-1]),
        ("diff.external", ""),
        ("commit.gpgSign", "false"),
        ("tag.gpgSign", "false"),
        ("log.showSignature", "false"),
        ("gpg.program", "gpg"),
        ("gpg.ssh.program", "ssh-keygen"),
        ("gpg.x509.program", "gpgsm"),
        ("gc.auto", "0"),
        ("maintenance.auto", "false"),
        ("submodule.recurse", "false"),
        ("fetch.recurseSubmodules", "false"),
        ("protocol.allow", "never"),
        *((f"protocol.{name}.allow", "always") for name in ALLOWED_PROTOCOLS),
        ("protocol.ext.allow", "never"),
        ("protocol.fd.allow", "never"),
        ("credential.helper", ""),
    ]
    if network:
        config.extend(("credential.helper", helper) for helper in _trusted_values("credential.helper"))
    return config


_filter_cache: dict[str, tuple[tuple[int, int], list[tuple[str, str]]]] = {}


def _filter_overrides(root: Path, env: dict[str, str]) -> list[tuple[str, str]]:
    """Empties every `filter.NAME.*` command the repository's config (with its includes) defines.

    Remembered per repository until its config file changes (size or modification time)."""
    config = Path(env["GIT_DIR"]) / "config"
    try:
        info = config.stat()
        stamp = (info.st_mtime_ns, info.st_size)
    except OSError:
        stamp = (0, -1)
    cached = _filter_cache.get(str(config))
    if cached is not None and cached[0] == stamp and stamp[1] >= 0:
        return cached[1]
    listed = _execute(root, ["config", "--null", "--name-only", "--get-regexp", r"^filter\."],
                      _neutralising_config(False), env, None, check=False)
    names = {key.rsplit(".", 1)[0] for key in listed.text.split("\0") if key.count(".") >= 2}
    overrides: list[tuple[str, str]] = []
    for name in sorted(names):
        overrides += [(f"{name}.clean", ""), (f"{name}.smudge", ""), (f"{name}.process", ""), (f"{name}.required", "false")]
    _filter_cache[str(config)] = (stamp, overrides)
    return overrides


@functools.cache
def _trusted_values(key: str) -> tuple[str, ...]:
    """A key's values from the user's system and global config only (never a repository's)."""
    values: list[str] = []
    root = Path(os.path.abspath(os.sep))
    for scope in ("--system", "--global"):
        result = _execute(root, ["config", scope, "--null", "--get-all", key], [], {"GIT_CEILING_DIRECTORIES": str(root)},
                          None, check=False)
        values += [value for value in result.text.split("\0") if value]
    return tuple(values)


@functools.cache
def _empty_hooks_folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="orgide-no-hooks-"))
