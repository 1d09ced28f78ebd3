"""A merge in progress, kept in the git folder so the app can be closed and reopened mid-merge."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from orgruntime._model import Channel
from orgruntime.vcs._codec import value_from_json, value_to_json
from orgruntime.vcs._conflicts import Conflict, ConflictKind
from orgruntime.vcs._errors import MergeStateError
from orgruntime.vcs._repo import git_path

STATE_FILE = "orgide-merge.json"
STATE_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class PendingMerge:
    ref: str  # what the user asked to merge, as typed
    base: str
    ours: str
    theirs: str
    message: str
    touched: tuple[str, ...] = ()  # every path the merge (or a resolution) wrote or deleted; abort restores them
    conflicts: tuple[Conflict, ...] = ()  # still unresolved
    resolved: tuple[str, ...] = ()  # ids, in the order they were resolved

    def with_touched(self, paths: tuple[str, ...] | list[str]) -> PendingMerge:
        return replace(self, touched=tuple(sorted({*self.touched, *paths})))

    def as_json(self) -> dict[str, object]:
        return {"ref": self.ref, "base": self.base, "ours": self.ours, "theirs": self.theirs,
                "conflicts": [c.as_json() for c in self.conflicts], "resolved": list(self.resolved)}


def _conflict_to_state(conflict: Conflict) -> dict[str, object]:
    return {**conflict.as_json(), "fallback_entry": conflict.fallback_entry,
            "channels": [value_to_json(c) for c in conflict.channels]}


def _conflict_from_state(data: dict) -> Conflict:
    channels = tuple(value_from_json(c) for c in data.get("channels", ()))
    assert all(isinstance(c, Channel) for c in channels)
    return Conflict(id=data["id"], kind=ConflictKind(data["kind"]), message=data["message"], agent=data.get("agent"),
                    field=data.get("field"), base=value_from_json(data.get("base")), ours=value_from_json(data.get("ours")),
                    theirs=value_from_json(data.get("theirs")), marked=data.get("marked"),
                    channels=channels, fallback_entry=data.get("fallback_entry"))  # type: ignore[arg-type]


def state_path(root: Path) -> Path:
    return git_path(root, STATE_FILE)


def save_pending(root: Path, pending: PendingMerge) -> None:
    data = {"version": STATE_VERSION, "ref": pending.ref, "base": pending.base, "ours": pending.ours,
            "theirs": pending.theirs, "message": pending.message, "touched": list(pending.touched),
            "conflicts": [_conflict_to_state(c) for c in pending.conflicts], "resolved": list(pending.resolved)}
    target = state_path(root)
    fd, temp_name = tempfile.mkstemp(prefix=".orgide-merge.", dir=target.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        json.dump(data, stream, indent=1)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(temp_name, target)


def load_pending(root: Path) -> PendingMerge | None:
    target = state_path(root)
    if not target.exists():
        return None
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unknown version {data.get('version')!r}")
        return PendingMerge(
            ref=data["ref"], base=data["base"], ours=data["ours"], theirs=data["theirs"], message=data["message"],
            touched=tuple(data["touched"]), conflicts=tuple(_conflict_from_state(c) for c in data["conflicts"]),
            resolved=tuple(data["resolved"]))
    except (ValueError, KeyError, TypeError, AssertionError) as problem:
        raise MergeStateError(f"{target}: the pending merge record is damaged ({problem}); "
                              "abort the merge with `orgide merge PATH --abort`") from problem


def clear_pending(root: Path) -> None:
    for name in (STATE_FILE, "MERGE_HEAD", "MERGE_MSG", "MERGE_MODE"):
        try:
            git_path(root, name).unlink()
        except FileNotFoundError:
            pass


def mark_git_merge(root: Path, theirs: str, message: str) -> None:
    """Tell git a merge is in progress (MERGE_HEAD), so `git status` shows it and the commit gets both parents."""
    git_path(root, "MERGE_HEAD").write_text(f"{theirs}\n", encoding="ascii")
    git_path(root, "MERGE_MSG").write_text(message if message.endswith("\n") else message + "\n", encoding="utf-8")
    git_path(root, "MERGE_MODE").write_text("", encoding="ascii")
