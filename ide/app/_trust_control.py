"""Restricted mode: an org whose code the user has not trusted runs none of it, and says so in a banner.

Trust comes from the headless TrustStore (per folder and origin). A merge that changes the org's tools
or prompts takes trust in its tools back until the user looks and trusts it again.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from orgruntime import GitError, Org, TrustStore, origin_of
from orgruntime.vcs import history

from ide.app._banner import Banner

TOOLS_DIR = "tools"


def code_snapshot(folder: Path, org: Org) -> dict[str, str]:
    """What trust in an org covers: its tools' code and its agents' prompts (path or agent -> digest)."""
    snapshot = {}
    if (folder / TOOLS_DIR).is_dir():
        for path in sorted((folder / TOOLS_DIR).glob("*.py")):
            try:
                snapshot[f"tools/{path.name}"] = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                snapshot[f"tools/{path.name}"] = "unreadable"
    for agent in org.agents:
        snapshot[f"prompt:{agent.id}"] = hashlib.sha256(agent.prompt.encode()).hexdigest()
    return snapshot


class TrustController(QObject):
    changed = Signal(bool)  # trusted now?

    def __init__(self, banner: Banner, store: TrustStore | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.banner = banner
        self.store = store or TrustStore()
        self.folder: Path | None = None
        self.trusted = False
        self.origin: str | None = None
        self.reviewed: dict[str, str] = {}

    def open(self, folder: Path, org: Org) -> None:
        self.folder, self.origin = folder, origin_of(folder)
        self.trusted = self.store.is_trusted(folder, self.origin)
        self.reviewed = code_snapshot(folder, org)
        self._show(None)

    def close(self) -> None:
        self.folder, self.trusted = None, False
        self.banner.hide()

    def trust(self) -> None:
        if self.folder is None:
            return
        self.store.trust(self.folder, self.origin)
        self.trusted = True
        self.banner.hide()
        self.changed.emit(True)

    def distrust(self) -> None:
        if self.folder is None:
            return
        self.store.revoke(self.folder)
        self.trusted = False
        self._show(None)
        self.changed.emit(False)

    def note_saved(self, org: Org) -> None:
        """The user's own edits are what they reviewed."""
        if self.folder is not None:
            self.reviewed = code_snapshot(self.folder, org)

    def check_after_reload(self, org: Org, head_before: str | None) -> bool:
        """After the files changed on disk: if HEAD moved to a merge commit that changed tools or prompts
        of a trusted org, take trust back and ask again. True when it did."""
        if self.folder is None:
            return False
        snapshot = code_snapshot(self.folder, org)
        changed = snapshot != self.reviewed
        if not (self.trusted and changed and _is_new_merge(self.folder, head_before)):
            if not changed or not self.trusted:
                self.reviewed = snapshot
            return False
        touched = sorted(name for name in snapshot.keys() | self.reviewed.keys() if snapshot.get(name) != self.reviewed.get(name))
        self.store.revoke(self.folder)
        self.trusted = False
        self.reviewed = snapshot
        self._show("A merge changed this org's " + _describe(touched) + ". Its tools and run_python are paused "
                   "until you review the changes and trust it again.")
        self.changed.emit(False)
        return True

    def _show(self, text: str | None) -> None:
        if self.trusted:
            self.banner.hide()
            return
        if text is None:
            where = f"It came from {self.origin}. " if self.origin else ""
            text = (f"Restricted mode: this org's code is not trusted on this machine. {where}"
                    "Its tools (tools/*.py) and run_python will not run.")
        self.banner.show_message(text, [("trustButton", "Trust this org", self.trust)])


def _is_new_merge(folder: Path, head_before: str | None) -> bool:
    try:
        commits = history(folder, limit=1)
    except (GitError, OSError):
        return False
    return bool(commits) and commits[0].sha != head_before and len(commits[0].parents) > 1


def _describe(touched: list[str]) -> str:
    tools = [name.removeprefix("tools/") for name in touched if name.startswith("tools/")]
    prompts = [name.removeprefix("prompt:") for name in touched if name.startswith("prompt:")]
    parts = []
    if tools:
        parts.append("tools (" + ", ".join(tools) + ")")
    if prompts:
        parts.append("prompts (" + ", ".join(prompts) + ")")
    return " and ".join(parts) or "code"
