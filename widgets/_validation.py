"""Live validation: the core's validator rerun after every change of the document."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from orgruntime import Diagnostic, Org, validate_org

from widgets._document import OrgDocument


SYNC_LIMIT = 200  # agents; larger orgs are revalidated a moment after the last edit, not on every keystroke
DELAY_MS = 150


class LiveValidation(QObject):
    """Keeps `diagnostics` current for `document`; `changed` fires when the list differs."""

    changed = Signal(tuple)

    def __init__(self, document: OrgDocument, *, org_tools: tuple[str, ...] = (), parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._document = document
        self._org_tools = org_tools
        self.diagnostics: tuple[Diagnostic, ...] = self._validate(document.org)
        self._timer = QTimer(self, singleShot=True, interval=DELAY_MS)
        self._timer.timeout.connect(self.flush)
        document.changed.connect(self._recheck)

    @property
    def pending(self) -> bool:
        return self._timer.isActive()

    def flush(self) -> None:
        """Validate the document now (if an edit is waiting for it)."""
        self._timer.stop()
        diagnostics = self._validate(self._document.org)
        if diagnostics != self.diagnostics:
            self.diagnostics = diagnostics
            self.changed.emit(diagnostics)

    def _validate(self, org: Org) -> tuple[Diagnostic, ...]:
        return validate_org(org, org_tools=self._org_tools)

    def _recheck(self, old: Org, new: Org) -> None:
        if _same_meaning(old, new):
            return
        if len(new.agents) > SYNC_LIMIT:
            self._timer.start()
        else:
            self.flush()


def _same_meaning(old: Org, new: Org) -> bool:
    """Moving nodes changes only the layout, which validation never looks at."""
    return (old.agents is new.agents and old.channels is new.channels and old.entry == new.entry
            and old.name == new.name and old.defaults == new.defaults and old.budget == new.budget
            and old.max_concurrency == new.max_concurrency)
