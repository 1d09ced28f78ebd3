"""The org being edited: the current core model plus the Qt undo stack of its pure edits."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from orgruntime import Edit, Org, SetAgentField, SetOrgField, apply, describe, inverse

_TEXT_FIELDS = frozenset({"prompt", "name", "role", "description"})
_MERGE_ID = 0x06A6
MERGE_WINDOW_S = 2.0  # typing pauses longer than this start a new undo step


class EditCommand(QUndoCommand):
    """One undo step: the core's edit and its inverse; redo and undo only call `apply`."""

    def __init__(self, document: OrgDocument, edit: Edit, label: str | None = None) -> None:
        super().__init__(label or describe(edit))
        self._document = document
        self.edit = edit
        self.undo_edit = inverse(document.org, edit)
        self.last_change = time.monotonic()

    def redo(self) -> None:
        self._document._replace(apply(self._document.org, self.edit))

    def undo(self) -> None:
        self._document._replace(apply(self._document.org, self.undo_edit))

    def id(self) -> int:
        return _MERGE_ID if _mergeable_key(self.edit) is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        """Rapid text edits of one field (typing in the inspector) collapse into one step."""
        if not isinstance(other, EditCommand):
            return False
        key = _mergeable_key(self.edit)
        if key is None or key != _mergeable_key(other.edit) or other.last_change - self.last_change > MERGE_WINDOW_S:
            return False
        self.edit, self.last_change = other.edit, other.last_change
        return True


def _mergeable_key(edit: Edit) -> tuple | None:
    match edit:
        case SetAgentField(agent_id=agent_id, field=name) if name in _TEXT_FIELDS:
            return ("agent", agent_id, name)
        case SetOrgField(field=name) if name in _TEXT_FIELDS:
            return ("org", name)
    return None


class OrgDocument(QObject):
    """Holds the org a window edits. Every change goes through `edit` (undoable) or `reset`.

    `changed(old, new)` fires after each change so views can reconcile only what differs.
    """

    changed = Signal(object, object)  # (old Org, new Org)

    def __init__(self, org: Org, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._org = org
        self.undo_stack = QUndoStack(self)

    @property
    def org(self) -> Org:
        return self._org

    def edit(self, edit: Edit, label: str | None = None) -> None:
        """Apply `edit` as one undo step; raises the core's EditError (nothing changes) if it does not apply."""
        apply(self._org, edit)  # fail before the stack records anything
        self.undo_stack.push(EditCommand(self, edit, label))

    def reset(self, org: Org) -> None:
        """Show an org read again from disk: the history no longer describes it."""
        self.undo_stack.clear()
        self._replace(org)

    def _replace(self, org: Org) -> None:
        old, self._org = self._org, org
        if old is not org:
            self.changed.emit(old, org)
