"""Live validation: the core's validator rerun after every change of the document."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from orgruntime import Diagnostic, Org, validate_org

from widgets._document import OrgDocument


class LiveValidation(QObject):
    """Keeps `diagnostics` current for `document`; `changed` fires when the list differs."""

    changed = Signal(tuple)

    def __init__(self, document: OrgDocument, *, org_tools: tuple[str, ...] = (), parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._document = document
        self._org_tools = org_tools
        self.diagnostics: tuple[Diagnostic, ...] = self._validate(document.org)
        document.changed.connect(self._recheck)

    def _validate(self, org: Org) -> tuple[Diagnostic, ...]:
        return validate_org(org, org_tools=self._org_tools)

    def _recheck(self, old: Org, new: Org) -> None:
        if _same_meaning(old, new):
            return
        diagnostics = self._validate(new)
        if diagnostics != self.diagnostics:
            self.diagnostics = diagnostics
            self.changed.emit(diagnostics)


def _same_meaning(old: Org, new: Org) -> bool:
    """Moving nodes changes only the layout, which validation never looks at."""
    return (old.agents is new.agents and old.channels is new.channels and old.entry == new.entry
            and old.name == new.name and old.defaults == new.defaults and old.budget == new.budget
            and old.max_concurrency == new.max_concurrency)
