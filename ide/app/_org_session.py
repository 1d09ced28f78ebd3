"""One open org: its folder, the document being edited, saving, and what is on disk.

The files stay the truth: `save()` writes atomically through the core; `disk_changed` fires (after a
debounce) when the org's files change under us and differ from what we last read or wrote, so our own
saves never look like outside changes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

from orgruntime import AGENTS_DIR, LAYOUT_FILE, ORG_FILE, Org, SaveResult, load_org, save_org
from widgets import OrgDocument

DEBOUNCE_MS = 300
TOOLS_DIR = "tools"


def org_files(folder: Path) -> list[Path]:
    """The files whose content is the org: org.yaml, agents/*.md, tools/*.py and the layout."""
    files = [folder / ORG_FILE, folder / LAYOUT_FILE]
    for sub, pattern in ((AGENTS_DIR, "*.md"), (TOOLS_DIR, "*.py")):
        if (folder / sub).is_dir():
            files += sorted((folder / sub).glob(pattern))
    return files


def fingerprint(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of each org file present."""
    prints = {}
    for path in org_files(folder):
        try:
            prints[path.relative_to(folder).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            continue
    return prints


class OrgSession(QObject):
    disk_changed = Signal()  # the files differ from what this session last read or wrote
    dirty_changed = Signal(bool)

    def __init__(self, folder: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.folder = folder.expanduser().resolve()
        self.document = OrgDocument(load_org(self.folder), self)
        self.known = fingerprint(self.folder)
        self._watcher = QFileSystemWatcher(self)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self._check_disk)
        self._watcher.fileChanged.connect(lambda _path: self._debounce.start())
        self._watcher.directoryChanged.connect(lambda _path: self._debounce.start())
        self.document.undo_stack.cleanChanged.connect(lambda clean: self.dirty_changed.emit(not clean))
        self._watch()

    @property
    def org(self) -> Org:
        return self.document.org

    @property
    def dirty(self) -> bool:
        return not self.document.undo_stack.isClean()

    def save(self) -> SaveResult:
        """Write the org (only what changed, atomically); raises the core's OrgSaveError."""
        result = save_org(self.document.org, self.folder)
        self.known = fingerprint(self.folder)
        self.document.undo_stack.setClean()
        self._watch()
        return result

    def reload(self) -> None:
        """Show what is on disk; unsaved edits are dropped (the caller asked the user first)."""
        org = load_org(self.folder)
        self.known = fingerprint(self.folder)
        self.document.reset(org)
        self.document.undo_stack.setClean()
        self._watch()

    def restore(self, org: Org) -> None:
        """Show `org` (recovered edits) as unsaved changes over the files."""
        self.document.reset(org)
        self.document.undo_stack.resetClean()
        self.dirty_changed.emit(True)

    def differs_from_disk(self) -> bool:
        return fingerprint(self.folder) != self.known

    def _check_disk(self) -> None:
        self._watch()  # editors that replace files (rename over) drop them from the watch list
        if self.differs_from_disk():
            self.disk_changed.emit()

    def accept_disk_state(self) -> None:
        """Keep the edits and stop reporting the current outside change (the user chose to keep theirs)."""
        self.known = fingerprint(self.folder)

    def _watch(self) -> None:
        wanted = {str(p) for p in org_files(self.folder) if p.exists()}
        wanted |= {str(self.folder / d) for d in (AGENTS_DIR, TOOLS_DIR, ".orgide") if (self.folder / d).is_dir()}
        wanted.add(str(self.folder))
        current = set(self._watcher.files()) | set(self._watcher.directories())
        missing = sorted(wanted - current)
        if missing:
            self._watcher.addPaths(missing)
