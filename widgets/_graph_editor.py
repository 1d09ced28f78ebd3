"""The graph editor: canvas, toolbar, find bar, minimap and every editing action, over an OrgDocument."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPointF, Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QComboBox, QLabel, QMenu, QToolBar, QVBoxLayout, QWidget

from orgruntime import (
    AddChannel,
    AgentKind,
    Channel,
    ChannelKind,
    EditError,
    MoveNodes,
    Point,
    RenameAgent,
    ReplaceChannel,
    SetAgentField,
    SetOrgField,
)

from widgets._autolayout import auto_layout
from widgets._document import OrgDocument
from widgets._edge_item import EdgeItem
from widgets._edit_builders import CLIPBOARD_MIME, add_agent_edit, copy_payload, delete_edit, duplicate_edit, paste_edit
from widgets._find_bar import FindBar
from widgets._minimap import Minimap
from widgets._node_item import NodeItem, RunState
from widgets._overlays import Overlays
from widgets._palette import GraphPalette
from widgets._rename_editor import RenameEditor
from widgets._scene import OrgScene
from widgets._validation import LiveValidation
from widgets._view import GraphView


class GraphEditor(QWidget):
    """Edits `document` visually. Every change is one undoable edit on `document.undo_stack`.

    Signals: `selection_changed(kind, value)` with kind "org" (value None), "agent" (the id),
    "channel" (the Channel) or "many" (the selected agent ids); `edit_failed(message)` when an edit
    the user asked for does not apply (the core's EditError text).
    """

    selection_changed = Signal(str, object)
    edit_failed = Signal(str)

    def __init__(self, document: OrgDocument, *, palette: GraphPalette | None = None,
                 org_tools: tuple[str, ...] = (), parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.scene = OrgScene(document, palette, self)
        self.view = GraphView(self.scene, self)
        self.validation = LiveValidation(document, org_tools=org_tools, parent=self)
        self.overlays = Overlays(self.scene, self)
        self.find_bar = FindBar(self.scene, self)
        self.minimap = Minimap(self.scene, self.view, self.view)
        self.view.corner_widget = self.minimap
        self.rename_editor = RenameEditor(self.view)
        self.toolbar = QToolBar(self)
        self.channel_kind = QComboBox(self)
        self.channel_kind.setObjectName("channelKind")
        self.channel_kind.addItems([str(kind) for kind in ChannelKind])
        self.channel_kind.setToolTip("Kind of the channel a drag between two nodes creates")
        self.actions_by_name: dict[str, QAction] = {}
        self._build_actions()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.find_bar)
        layout.addWidget(self.view, 1)
        self.scene.set_diagnostics(self.validation.diagnostics)
        self.validation.changed.connect(self.scene.set_diagnostics)
        self.scene.selectionChanged.connect(self._selection_changed)
        self.find_bar.agent_found.connect(self.select_agent)
        self.rename_editor.rename_requested.connect(lambda old, new: self.apply_edit(RenameAgent(old, new)))
        self.view.connect_requested.connect(self._connect)
        self.view.retarget_requested.connect(self._retarget)
        self.view.nodes_moved.connect(self._moved)
        self.view.add_requested.connect(lambda point: self.add_agent(point))
        self.view.context_requested.connect(self._context_menu)

    # --- public API ---
    def apply_edit(self, edit, label: str | None = None) -> bool:
        """Push `edit` on the undo stack; False (and `edit_failed`) if the core refuses it."""
        try:
            self.document.edit(edit, label)
        except EditError as problem:
            self.edit_failed.emit(str(problem))
            return False
        return True

    def select_agent(self, agent_id: str) -> None:
        node = self.scene.node(agent_id)
        if node is None:
            return
        self.scene.clearSelection()
        node.setSelected(True)
        self.view.center_on_agent(agent_id)

    def select_channel(self, channel: Channel) -> None:
        edge = self.scene.edge(channel)
        if edge is not None:
            self.scene.clearSelection()
            edge.setSelected(True)

    def add_agent(self, near: QPointF | None = None) -> str | None:
        if near is None:
            near = self.view.mapToScene(self.view.viewport().rect().center())
        edit = add_agent_edit(self.document.org, (near.x(), near.y()), list(self.scene.positions().values()))
        if self.apply_edit(edit):
            self.select_agent(edit.agent.id)
            return edit.agent.id
        return None

    def rename_selected(self) -> None:
        ids = self.scene.selected_agent_ids()
        if len(ids) == 1:
            self.rename_editor.start(self.scene.node(ids[0]))

    def delete_selected(self) -> None:
        edit = delete_edit(self.document.org, self.scene.selected_agent_ids(), self.scene.selected_channels())
        if edit is not None:
            self.apply_edit(edit)

    def duplicate_selected(self) -> None:
        result = duplicate_edit(self.document.org, self.scene.selected_agent_ids(), self.scene.positions(),
                                list(self.scene.positions().values()))
        if result is not None and self.apply_edit(result[0]):
            self._select_ids(result[1])

    def copy_selected(self) -> bool:
        ids = self.scene.selected_agent_ids()
        if not ids:
            return False
        text = copy_payload(self.document.org, ids, self.scene.positions())
        data = QMimeData()
        data.setData(CLIPBOARD_MIME, text.encode())
        data.setText(text)
        QGuiApplication.clipboard().setMimeData(data)
        return True

    def paste(self) -> list[str]:
        data = QGuiApplication.clipboard().mimeData()
        if data is None:
            return []
        text = bytes(data.data(CLIPBOARD_MIME)).decode() if data.hasFormat(CLIPBOARD_MIME) else data.text()
        anchor = self.view.mapToScene(self.view.viewport().rect().center())
        result = paste_edit(self.document.org, text, (anchor.x(), anchor.y()), list(self.scene.positions().values()))
        if result is None or not self.apply_edit(result[0]):
            return []
        self._select_ids(result[1])
        return result[1]

    def set_entry_to_selected(self) -> None:
        ids = self.scene.selected_agent_ids()
        if len(ids) == 1 and ids[0] != self.document.org.entry:
            self.apply_edit(SetOrgField("entry", ids[0]), f"Make '{ids[0]}' the entry agent")

    def set_channel_kind(self, channel: Channel, kind: ChannelKind) -> None:
        if channel.kind != kind:
            self.apply_edit(ReplaceChannel(channel, Channel(source=channel.source, target=channel.target, kind=kind)))

    def reverse_channel(self, channel: Channel) -> None:
        self.apply_edit(ReplaceChannel(channel, Channel(source=channel.target, target=channel.source, kind=channel.kind)))

    def toggle_human(self, agent_id: str) -> None:
        agent = self.document.org.agent(agent_id)
        kind = AgentKind.LLM if agent.is_human else AgentKind.HUMAN
        self.apply_edit(SetAgentField(agent_id, "kind", kind))

    def auto_layout(self) -> None:
        """Hierarchical layout of every agent, as one undoable MoveNodes edit."""
        positions = auto_layout(self.document.org)
        current = self.document.org.layout.as_dict()
        moves = tuple((agent_id, point) for agent_id, point in positions.items() if current.get(agent_id) != point)
        if moves:
            self.apply_edit(MoveNodes(moves), "Auto-layout")
        self.view.fit_all()

    # --- overlay API ---
    def show_diff(self, diff, base=None) -> None:
        self.overlays.show_diff(diff, base)

    def clear_diff(self) -> None:
        self.overlays.clear_diff()

    def show_run_state(self, agent_id: str, state: RunState | str | None) -> None:
        self.overlays.show_run_state(agent_id, state)

    def pulse_channel(self, source: str, target: str) -> bool:
        return self.overlays.pulse_channel(source, target)

    def set_spend(self, agent_id: str, text: str) -> None:
        self.overlays.set_spend(agent_id, text)

    def set_placement(self, agent_id: str, text: str) -> None:
        self.overlays.set_placement(agent_id, text)

    def clear_run(self) -> None:
        self.overlays.clear_run()

    # --- menus ---
    def context_menu(self, item, scene_point: QPointF) -> QMenu:
        """The menu for `item` (a node, an edge, or None for the canvas); the view shows it on right-click."""
        menu = QMenu(self)
        a = self.actions_by_name
        if isinstance(item, NodeItem):
            for name in ("rename", "duplicate", "copy", "delete"):
                menu.addAction(a[name])
            menu.addSeparator()
            menu.addAction(a["set_entry"])
            human = menu.addAction("Human seat")
            human.setCheckable(True)
            human.setChecked(item.agent.is_human)
            human.triggered.connect(lambda _=False, agent_id=item.agent_id: self.toggle_human(agent_id))
        elif isinstance(item, EdgeItem):
            kinds = menu.addMenu("Kind")
            for kind in ChannelKind:
                action = kinds.addAction(str(kind))
                action.setCheckable(True)
                action.setChecked(item.channel.kind == kind)
                action.triggered.connect(lambda _=False, c=item.channel, k=kind: self.set_channel_kind(c, k))
            menu.addAction("Reverse direction").triggered.connect(lambda _=False, c=item.channel: self.reverse_channel(c))
            menu.addAction(a["delete"])
        else:
            menu.addAction("Add agent here").triggered.connect(lambda _=False, p=QPointF(scene_point): self.add_agent(p))
            menu.addAction(a["paste"])
            menu.addSeparator()
            for name in ("layout", "fit", "select_all"):
                menu.addAction(a[name])
        return menu

    def _context_menu(self, item, scene_point: QPointF, global_point) -> None:
        self.context_menu(item, scene_point).popup(global_point)

    # --- internals ---
    def _build_actions(self) -> None:
        stack = self.document.undo_stack
        undo, redo = QAction("Undo", self), QAction("Redo", self)
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        undo.triggered.connect(stack.undo)
        redo.triggered.connect(stack.redo)
        undo.setEnabled(stack.canUndo())
        redo.setEnabled(stack.canRedo())
        stack.canUndoChanged.connect(undo.setEnabled)
        stack.canRedoChanged.connect(redo.setEnabled)
        stack.undoTextChanged.connect(self._undo_text_changed)
        stack.redoTextChanged.connect(self._redo_text_changed)
        self._register("undo", undo)
        self._register("redo", redo)
        specs = [
            ("add", "Add agent", "Ctrl+N", lambda: self.add_agent()),
            ("rename", "Rename", "F2", self.rename_selected),
            ("delete", "Delete", QKeySequence.StandardKey.Delete, self.delete_selected),
            ("duplicate", "Duplicate", "Ctrl+D", self.duplicate_selected),
            ("copy", "Copy", QKeySequence.StandardKey.Copy, self.copy_selected),
            ("paste", "Paste", QKeySequence.StandardKey.Paste, self.paste),
            ("select_all", "Select all", QKeySequence.StandardKey.SelectAll, self._select_all),
            ("set_entry", "Make entry agent", "Ctrl+E", self.set_entry_to_selected),
            ("layout", "Auto-layout", "L", self.auto_layout),
            ("fit", "Fit all", "F", self.view.fit_all),
            ("zoom_selection", "Zoom to selection", "Shift+F", self.view.zoom_to_selection),
            ("zoom_in", "Zoom in", QKeySequence.StandardKey.ZoomIn, lambda: self.view.zoom_by(1.25)),
            ("zoom_out", "Zoom out", QKeySequence.StandardKey.ZoomOut, lambda: self.view.zoom_by(0.8)),
            ("find", "Find agent", QKeySequence.StandardKey.Find, self.find_bar.open_bar),
        ]
        for name, text, shortcut, slot in specs:
            action = QAction(text, self)
            if isinstance(shortcut, QKeySequence.StandardKey):
                action.setShortcuts(QKeySequence.keyBindings(shortcut) or [QKeySequence(shortcut)])
            else:
                action.setShortcut(QKeySequence(shortcut))
            action.triggered.connect(lambda _=False, run=slot: run())
            self._register(name, action)
        backspace = self.actions_by_name["delete"]
        backspace.setShortcuts([*backspace.shortcuts(), QKeySequence(Qt.Key.Key_Backspace)])
        for name in ("add", "delete", "undo", "redo", "layout", "fit", "find"):
            self.toolbar.addAction(self.actions_by_name[name])
        self.toolbar.addSeparator()
        self.toolbar.addWidget(QLabel(" New channel: ", self))
        self.toolbar.addWidget(self.channel_kind)

    def _undo_text_changed(self, text: str) -> None:
        self.actions_by_name["undo"].setToolTip(f"Undo {text}" if text else "Undo")

    def _redo_text_changed(self, text: str) -> None:
        self.actions_by_name["redo"].setToolTip(f"Redo {text}" if text else "Redo")

    def _register(self, name: str, action: QAction) -> None:
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.setObjectName(name)
        self.addAction(action)
        self.actions_by_name[name] = action

    def _select_all(self) -> None:
        for node in self.scene.nodes.values():
            node.setSelected(True)

    def _select_ids(self, agent_ids: list[str]) -> None:
        self.scene.clearSelection()
        for agent_id in agent_ids:
            node = self.scene.node(agent_id)
            if node is not None:
                node.setSelected(True)

    def _connect(self, source: str, target: str) -> None:
        kind = ChannelKind(self.channel_kind.currentText())
        if self.apply_edit(AddChannel(Channel(source=source, target=target, kind=kind))):
            self.select_channel(Channel(source=source, target=target, kind=kind))

    def _retarget(self, channel: Channel, end: str, agent_id: str) -> None:
        if end == "target":
            new = Channel(source=channel.source, target=agent_id, kind=channel.kind)
        else:
            new = Channel(source=agent_id, target=channel.target, kind=channel.kind)
        if self.apply_edit(ReplaceChannel(channel, new)):
            self.select_channel(new)

    def _moved(self, moved: dict) -> None:
        edit = MoveNodes(tuple((agent_id, Point(x, y)) for agent_id, (x, y) in sorted(moved.items())))
        if not self.apply_edit(edit):
            self.scene.restore_positions()

    def _selection_changed(self) -> None:
        ids = self.scene.selected_agent_ids()
        channels = self.scene.selected_channels()
        if len(ids) == 1 and not channels:
            self.selection_changed.emit("agent", ids[0])
        elif len(channels) == 1 and not ids:
            self.selection_changed.emit("channel", channels[0])
        elif not ids and not channels:
            self.selection_changed.emit("org", None)
        else:
            self.selection_changed.emit("many", tuple(ids))
