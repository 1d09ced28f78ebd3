"""Autosave of unsaved edits to a backup, and recovery after a crash.

Every few seconds an edited, unsaved org is written (through the core, atomically) to
`<user data>/orgide/autosave/<hash of the folder>/`, next to a `backup.json` naming the folder. Saving,
reloading or discarding removes the backup; a backup still there when the folder is opened again is
what a crash left behind, and is offered back.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QTimer

from orgruntime import AGENTS_DIR, LAYOUT_FILE, ORG_FILE, Org, OrgError, load_org, save_org
from orgruntime._files import write_atomic

from ide.app._errors import data_dir, log
from ide.app._org_session import OrgSession

AUTOSAVE_MS = 3000
META = "backup.json"


def backup_folder(folder: Path) -> Path:
    key = hashlib.sha256(str(folder.expanduser().resolve()).encode()).hexdigest()[:20]
    return data_dir() / "autosave" / key


@dataclass(frozen=True)
class Backup:
    folder: Path
    saved_at: str
    org: Org


def find_backup(folder: Path) -> Backup | None:
    """The edits a crash left unsaved for `folder`, if any (and if they still load)."""
    where = backup_folder(folder)
    try:
        meta = json.loads((where / META).read_text(encoding="utf-8"))
        if Path(meta["folder"]) != folder.expanduser().resolve():
            return None
        return Backup(folder=where, saved_at=str(meta.get("saved_at", "")), org=load_org(where))
    except (OSError, ValueError, KeyError, TypeError, OrgError):
        return None


def discard_backup(folder: Path) -> None:
    shutil.rmtree(backup_folder(folder), ignore_errors=True)


class Autosaver(QObject):
    def __init__(self, session: OrgSession, interval_ms: int = AUTOSAVE_MS) -> None:
        super().__init__(session)
        self.session = session
        self.folder = backup_folder(session.folder)
        self.last_saved: float | None = None
        self._written_org: Org | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.tick)
        self._timer.start()
        session.dirty_changed.connect(self._dirty_changed)

    def tick(self) -> None:
        if not self.session.dirty:
            return
        org = self.session.org
        if org is self._written_org:
            return
        try:
            self._write(org)
        except (OSError, OrgError) as problem:  # a backup that cannot be written must not disturb editing
            log.warning("autosave to %s failed: %s", self.folder, problem)
            return
        self._written_org, self.last_saved = org, time.time()

    def _write(self, org: Org) -> None:
        if not (self.folder / ORG_FILE).exists():
            self._seed_from_files()
        save_org(org, self.folder)
        meta = {"folder": str(self.session.folder), "saved_at": time.strftime("%Y-%m-%d %H:%M:%S")}
        write_atomic(self.folder / META, json.dumps(meta) + "\n")

    def _seed_from_files(self) -> None:
        """Start from a copy of the org's files, so that the backup keeps the user's comments and order."""
        source = self.session.folder
        self.folder.mkdir(parents=True, exist_ok=True)
        for relative in (ORG_FILE, LAYOUT_FILE):
            if (source / relative).is_file():
                (self.folder / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source / relative, self.folder / relative)
        if (source / AGENTS_DIR).is_dir():
            (self.folder / AGENTS_DIR).mkdir(exist_ok=True)
            for path in (source / AGENTS_DIR).glob("*.md"):
                shutil.copyfile(path, self.folder / AGENTS_DIR / path.name)

    def _dirty_changed(self, dirty: bool) -> None:
        if not dirty:
            self.discard()

    def discard(self) -> None:
        self._written_org = None
        shutil.rmtree(self.folder, ignore_errors=True)

    def stop(self) -> None:
        self._timer.stop()
