"""Strict checks for every name and URL the git wrapper passes on; nothing git could read as an option."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from orgruntime.vcs._errors import UnsafeNameError

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BRANCH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./+-]{0,199}")
_REMOTE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
_REVISION = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./+~^-]{0,254}")
_HOST = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}|\[[0-9A-Fa-f:.]+\]")
_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}")
_SCP_LIKE = re.compile(r"(?:(?P<user>[^@/:]+)@)?(?P<host>[^@/:]+):(?P<path>.*)")
URL_SCHEMES = ("https", "http", "ssh", "git", "file")


def _common(kind: str, text: str) -> None:
    if not isinstance(text, str) or not text:
        raise UnsafeNameError(f"empty {kind}")
    if _CONTROL.search(text):
        raise UnsafeNameError(f"{kind} {text!r} contains a control character")
    if text.startswith("-"):
        raise UnsafeNameError(f"{kind} {text!r} starts with '-'")


def _ref_shape(kind: str, text: str) -> None:
    if ".." in text or "//" in text or "/." in text or "@{" in text:
        raise UnsafeNameError(f"{kind} {text!r} contains '..', '//', '/.' or '@{{'")
    if text.endswith((".lock", "/", ".")):
        raise UnsafeNameError(f"{kind} {text!r} ends with '.lock', '/' or '.'")


def check_branch_name(name: str) -> str:
    _common("branch name", name)
    if not _BRANCH.fullmatch(name):
        raise UnsafeNameError(f"branch name {name!r} may use only letters, digits and _ . / + -")
    _ref_shape("branch name", name)
    if name == "HEAD":
        raise UnsafeNameError("a branch cannot be called HEAD")
    return name


def check_remote_name(name: str) -> str:
    _common("remote name", name)
    if not _REMOTE.fullmatch(name) or ".." in name:
        raise UnsafeNameError(f"remote name {name!r} may use only letters, digits and _ . -")
    return name


def check_revision(rev: str) -> str:
    """A branch, tag, commit id or `NAME~N` / `NAME^` form; no ranges, no `:path`, no `@{...}`."""
    _common("revision", rev)
    if not _REVISION.fullmatch(rev):
        raise UnsafeNameError(f"revision {rev!r} may use only letters, digits and _ . / + ~ ^ -")
    _ref_shape("revision", rev)
    return rev


def check_repo_path(path: str) -> str:
    """A path inside the repository as git prints it: relative, forward slashes, no `..`, no `.git`."""
    _common("path", path)
    parts = path.split("/")
    if path.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise UnsafeNameError(f"path {path!r} is not a plain relative path")
    if parts[0].lower() == ".git":
        raise UnsafeNameError(f"path {path!r} is inside .git")
    return path


def check_clone_source(source: str) -> str:
    """An existing local folder (returned absolute) or a URL with an allowed scheme (returned as given).

    Refused: transport helpers (`ext::`, `fd::`, any `X::Y`), anything starting with '-', control
    characters, hosts or users that begin with '-', unknown schemes.
    """
    _common("source", source)
    local = Path(source).expanduser()
    if "://" not in source and local.is_dir():
        return str(local.resolve())
    if "::" in source:
        raise UnsafeNameError(f"source {source!r} names a git transport helper; only paths and URLs are allowed")
    if any(ch.isspace() for ch in source):
        raise UnsafeNameError(f"URL {source!r} contains whitespace")
    if "://" in source:
        parts = urlsplit(source)
        if parts.scheme.lower() not in URL_SCHEMES:
            raise UnsafeNameError(f"URL scheme {parts.scheme!r} is not allowed (use one of {', '.join(URL_SCHEMES)})")
        if parts.scheme.lower() == "file":
            return source
        host = parts.hostname or ""
        if not host or not _HOST.fullmatch(host if not host.count(":") else f"[{host}]"):
            raise UnsafeNameError(f"URL {source!r} has no valid host")
        if parts.username is not None and not _USER.fullmatch(parts.username):
            raise UnsafeNameError(f"URL {source!r} has an invalid user name")
        if parts.path.startswith("/-") or parts.path.startswith("-"):
            raise UnsafeNameError(f"URL {source!r} has a path that starts with '-'")
        return source
    scp = _SCP_LIKE.fullmatch(source)
    if scp and "/" not in source.split(":", 1)[0]:
        user, host, path = scp.group("user"), scp.group("host"), scp.group("path")
        if (user is not None and not _USER.fullmatch(user)) or not _HOST.fullmatch(host):
            raise UnsafeNameError(f"source {source!r} has an invalid user or host")
        if not path or path.startswith("-"):
            raise UnsafeNameError(f"source {source!r} has an empty path or one starting with '-'")
        return source
    raise UnsafeNameError(f"source {source!r} is neither an existing folder nor a URL")
