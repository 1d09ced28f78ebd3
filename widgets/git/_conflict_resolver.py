"""The conflict resolver: the pending merge's conflicts, each settled as ours, theirs or edited, then the merge commit."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from orgruntime import OrgError
from orgruntime.vcs import (
    AgentChange,
    Conflict,
    Edited,
    OrgDiff,
    PendingMerge,
    Side,
    abort_merge,
    commit_merge,
    pending_merge,
    resolve,
)

from widgets._graph_editor import GraphEditor
from widgets.git._conflict_text import editable, parse_edited
from widgets.git._three_way_view import ThreeWayView

ID_ROLE = Qt.ItemDataRole.UserRole + 1


class ConflictResolver(QDialog):
    """Resolves the merge pending in `folder`; marks the conflicted agents on `editor`'s graph while open.

    Signals: `tree_changed()` after each resolution, commit or abort (files on disk changed: reload the
    document); `committed(sha)`; `aborted()`. Open it with `open()` (never `exec()` inside a coroutine).
    """

    tree_changed = Signal()
    committed = Signal(str)
    aborted = Signal()

    def __init__(self, folder: Path, editor: GraphEditor | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folder = Path(folder)
        self.editor = editor
        self.pending: PendingMerge | None = None
        self.setWindowTitle("Resolve merge conflicts")
        self.resize(1100, 700)
        self.header = QLabel(self)
        self.header.setWordWrap(True)
        self.list = QListWidget(self)
        self.list.setObjectName("gitConflicts")
        self.list.setWordWrap(True)
        self.list.currentItemChanged.connect(lambda *_: self._show_current())
        self.view = ThreeWayView(self)
        self.ours_button = self._button("Use ours", "gitUseOurs", lambda: self._resolve(Side.OURS))
        self.theirs_button = self._button("Use theirs", "gitUseTheirs", lambda: self._resolve(Side.THEIRS))
        self.edited_button = self._button("Use edited", "gitUseEdited", self._resolve_edited)
        self.error_label = QLabel(self)
        self.error_label.setObjectName("gitResolverError")
        self.error_label.setStyleSheet("color: #dc2626;")
        self.error_label.setWordWrap(True)
        self.message_edit = QLineEdit(self)
        self.message_edit.setObjectName("gitMergeMessage")
        self.commit_button = self._button("Commit merge", "gitCommitMerge", self._commit)
        self.abort_button = self._button("Abort merge", "gitAbortMerge", self._abort)
        self.close_button = self._button("Close", "gitResolverClose", self.reject)
        choices = QHBoxLayout()
        for button in (self.ours_button, self.theirs_button, self.edited_button):
            choices.addWidget(button)
        choices.addStretch(1)
        right = QWidget(self)
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        self.detail_label = QLabel(self)
        self.detail_label.setWordWrap(True)
        right_layout.addWidget(self.detail_label)
        right_layout.addWidget(self.view, 1)
        right_layout.addLayout(choices)
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(self.list)
        split.addWidget(right)
        split.setSizes([300, 800])
        bottom = QHBoxLayout()
        bottom.addWidget(QLabel("Merge commit message:", self))
        bottom.addWidget(self.message_edit, 1)
        bottom.addWidget(self.commit_button)
        bottom.addWidget(self.abort_button)
        bottom.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(split, 1)
        layout.addWidget(self.error_label)
        layout.addLayout(bottom)
        self.reload()

    def _button(self, text: str, name: str, slot) -> QPushButton:  # type: ignore[no-untyped-def]
        button = QPushButton(text, self)
        button.setObjectName(name)
        button.setAutoDefault(False)
        button.clicked.connect(slot)
        return button

    # --- state ---
    def reload(self) -> None:
        """Read the pending merge again and show what is left."""
        try:
            self.pending = pending_merge(self.folder)
        except OrgError as problem:
            self.pending = None
            self._error(str(problem))
        current = self.current_conflict()
        self.list.clear()
        conflicts = self.pending.conflicts if self.pending else ()
        for conflict in conflicts:
            item = QListWidgetItem(conflict.message)
            item.setData(ID_ROLE, conflict.id)
            item.setToolTip(f"{conflict.id} ({conflict.kind})")
            self.list.addItem(item)
        if self.pending is None:
            self.header.setText("No merge is in progress.")
        else:
            resolved = len(self.pending.resolved)
            self.header.setText(f"Merging {self.pending.ref}: {len(conflicts)} conflict(s) left"
                                + (f", {resolved} resolved" if resolved else "") + ".")
            if not self.message_edit.text():
                self.message_edit.setText(self.pending.message.strip())
        keep = next((i for i, c in enumerate(conflicts) if current is not None and c.id == current.id), 0)
        if conflicts:
            self.list.setCurrentRow(keep)
        self._show_current()
        self.commit_button.setEnabled(self.pending is not None and not conflicts)
        self.abort_button.setEnabled(self.pending is not None)
        self._highlight(conflicts)

    def conflicts(self) -> tuple[Conflict, ...]:
        return self.pending.conflicts if self.pending else ()

    def current_conflict(self) -> Conflict | None:
        item = self.list.currentItem()
        if item is None or self.pending is None:
            return None
        return next((c for c in self.pending.conflicts if c.id == item.data(ID_ROLE)), None)

    def select_conflict(self, conflict_id: str) -> None:
        for row in range(self.list.count()):
            if self.list.item(row).data(ID_ROLE) == conflict_id:
                self.list.setCurrentRow(row)
                return
        raise KeyError(conflict_id)

    def _show_current(self) -> None:
        conflict = self.current_conflict()
        self.view.show_conflict(conflict)
        self.detail_label.setText("" if conflict is None else f"{conflict.message}  ({conflict.kind}, {conflict.id})")
        for button in (self.ours_button, self.theirs_button):
            button.setEnabled(conflict is not None)
        self.edited_button.setEnabled(conflict is not None and editable(conflict))
        if conflict is not None and conflict.agent and self.editor is not None and self.editor.scene.node(conflict.agent):
            self.editor.select_agent(conflict.agent)

    # --- actions ---
    def _resolve_edited(self) -> None:
        conflict = self.current_conflict()
        if conflict is None:
            return
        try:
            value = parse_edited(conflict, self.view.result.toPlainText())
        except ValueError as problem:
            self._error(str(problem))
            return
        self._resolve(Edited(value))

    def _resolve(self, choice) -> None:  # type: ignore[no-untyped-def]
        conflict = self.current_conflict()
        if conflict is None:
            return
        try:
            resolve(self.folder, conflict.id, choice)
        except OrgError as problem:
            self._error(f"{conflict.id}: {problem}")
            return
        self._error("")
        self.tree_changed.emit()
        self.reload()

    def _commit(self) -> None:
        try:
            sha = commit_merge(self.folder, self.message_edit.text().strip() or None)
        except OrgError as problem:
            self._error(str(problem))
            return
        self.tree_changed.emit()
        self.committed.emit(sha)
        self.accept()

    def _abort(self) -> None:
        try:
            abort_merge(self.folder)
        except OrgError as problem:
            self._error(str(problem))
            return
        self.tree_changed.emit()
        self.aborted.emit()
        self.reject()

    def _error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))

    # --- the graph ---
    def _highlight(self, conflicts: tuple[Conflict, ...]) -> None:
        if self.editor is None:
            return
        fields: dict[str, list[str]] = {}
        for conflict in conflicts:
            if conflict.agent:
                fields.setdefault(conflict.agent, []).append(f"conflict: {conflict.field or conflict.kind}")
        self.editor.overlays.show_diff(OrgDiff(agents_changed=tuple(
            AgentChange(id=agent_id, fields=tuple(names)) for agent_id, names in sorted(fields.items()))))

    def highlighted_agents(self) -> tuple[str, ...]:
        if self.editor is None:
            return ()
        return tuple(sorted(agent_id for agent_id, node in self.editor.scene.nodes.items() if node.diff_mark != "none"))

    def done(self, result: int) -> None:
        if self.editor is not None:
            self.editor.overlays.clear_diff()
        super().done(result)
