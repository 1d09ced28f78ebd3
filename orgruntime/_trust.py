"""Which org folders the user trusts to run their code (org tools in `tools/*.py` and `run_python`).

Trust is remembered per resolved folder AND per origin: the URL of the remote the org's branch tracks
(None for an org with no remote, e.g. one made from a template). Re-pointing the remote, or moving the
folder, makes the org untrusted again. The store is a small JSON file in the user's config folder,
written atomically; a file that cannot be read trusts nothing and is kept aside (never overwritten).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from types import EllipsisType

import platformdirs

from orgruntime._errors import GitError
from orgruntime._files import write_atomic

TRUST_FILE_NAME = "trust.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class TrustEntry:
    folder: str  # resolved absolute path
    origin: str | None  # the tracked remote's URL, None for an org with no remote
    trusted_at: str


def default_trust_file() -> Path:
    return platformdirs.user_config_path("orgide") / TRUST_FILE_NAME


def origin_of(folder: str | os.PathLike[str]) -> str | None:
    """The URL (or folder) of the remote the org's current branch tracks; None when there is none."""
    from orgruntime.vcs import lineage

    try:
        return lineage(folder).upstream_url
    except (GitError, OSError):
        return None


def _key(folder: str | os.PathLike[str]) -> str:
    return str(Path(folder).expanduser().resolve())


class TrustStore:
    """The user's trust decisions. `path` defaults to `<user config>/orgide/trust.json`."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_trust_file()

    def entries(self) -> tuple[TrustEntry, ...]:
        return self._read()[0]

    def is_trusted(self, folder: str | os.PathLike[str], origin: str | None | EllipsisType = ...) -> bool:
        """Whether `folder` is trusted with its current origin (read from git unless `origin` is given)."""
        key = _key(folder)
        current = origin_of(key) if origin is ... else origin
        return any(entry.folder == key and entry.origin == current for entry in self.entries())

    def trust(self, folder: str | os.PathLike[str], origin: str | None | EllipsisType = ...) -> TrustEntry:
        key = _key(folder)
        entry = TrustEntry(folder=key, origin=origin_of(key) if origin is ... else origin,
                           trusted_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        kept = [e for e in self._entries_for_write() if e.folder != key]
        self._write([*kept, entry])
        return entry

    def revoke(self, folder: str | os.PathLike[str]) -> bool:
        """Forget any trust in `folder`; True if there was some."""
        key = _key(folder)
        entries = self._entries_for_write()
        kept = [e for e in entries if e.folder != key]
        if len(kept) == len(entries):
            return False
        self._write(kept)
        return True

    def _read(self) -> tuple[tuple[TrustEntry, ...], bool]:
        """(entries, whether the file is unreadable)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return (), False
        except (OSError, ValueError):
            return (), True
        if not isinstance(data, dict) or not isinstance(data.get("orgs"), list):
            return (), True
        entries = []
        for item in data["orgs"]:
            if (isinstance(item, dict) and isinstance(item.get("folder"), str)
                    and (item.get("origin") is None or isinstance(item.get("origin"), str))):
                entries.append(TrustEntry(item["folder"], item.get("origin"), str(item.get("trusted_at", ""))))
        return tuple(entries), False

    def _entries_for_write(self) -> list[TrustEntry]:
        entries, unreadable = self._read()
        if unreadable:  # keep what we could not read for the user to look at; start afresh
            os.replace(self.path, self.path.with_name(f"{self.path.name}.unreadable-{int(time.time())}"))
        return list(entries)

    def _write(self, entries: list[TrustEntry]) -> None:
        data = {"version": FORMAT_VERSION,
                "orgs": [{"folder": e.folder, "origin": e.origin, "trusted_at": e.trusted_at} for e in entries]}
        write_atomic(self.path, json.dumps(data, indent=2) + "\n")
