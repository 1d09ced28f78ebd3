"""Overlays drawn over the org without changing it: a semantic diff, and the state of a live run."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QVariantAnimation

from orgruntime import Agent, Channel, ChannelKind, Org

from widgets._autolayout import free_position
from widgets._edge_item import EdgeItem
from widgets._node_item import DiffMark, NodeItem, RunState
from widgets._scene import OrgScene


class Overlays(QObject):
    """`show_diff` / `clear_diff` and `show_run_state` / `pulse_channel` / `set_spend` / `set_placement` / `clear_run`."""

    def __init__(self, scene: OrgScene, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._scene = scene
        self._ghost_nodes: dict[str, NodeItem] = {}
        self._ghost_edges: list[EdgeItem] = []
        self._marked_nodes: set[str] = set()
        self._marked_edges: list[EdgeItem] = []
        self._run_agents: set[str] = set()
        self._pulses: dict[int, QVariantAnimation] = {}
        scene.nodes_changed.connect(self._reapply_run_state)
        self._run_states: dict[str, RunState] = {}
        # texts a run puts on agents' nodes, by the node's setter that shows them: agent id -> text
        self._node_texts: dict[Callable[[NodeItem, str], None], dict[str, str]] = {NodeItem.set_spend: {}, NodeItem.set_placement: {}}

    # --- diff ---
    def show_diff(self, diff, base: Org | None = None) -> None:
        """Mark what `diff` (an orgruntime.vcs.OrgDiff, from `base` to the org shown) changed.

        Added agents and channels turn green, changed ones amber (the fields on hover), removed ones
        are drawn ghosted red: at their `base` positions when `base` is given, else beside the others.
        """
        self.clear_diff()
        scene = self._scene
        for agent_id in diff.agents_added:
            self._mark_node(agent_id, DiffMark.ADDED)
        renamed = {new: old for old, new in getattr(diff, "agents_renamed", ())}
        for change in diff.agents_changed:
            fields = tuple(change.fields)
            if change.id in renamed:
                fields = (f"renamed from {renamed[change.id]}", *fields)
            self._mark_node(change.id, DiffMark.CHANGED, fields)
        for new_id, old_id in renamed.items():
            if new_id not in self._marked_nodes:
                self._mark_node(new_id, DiffMark.CHANGED, (f"renamed from {old_id}",))
        for agent_id in diff.agents_removed:
            self._add_ghost_node(agent_id, base)
        for channel in diff.channels_added:
            for edge in self._edges_for(channel.source, channel.target, channel.kind):
                edge.set_diff(DiffMark.ADDED)
                self._marked_edges.append(edge)
        for change in diff.channels_changed:
            for edge in self._edges_for(change.source, change.target, change.after):
                edge.set_diff(DiffMark.CHANGED, f"kind {change.before} -> {change.after}")
                self._marked_edges.append(edge)
        for channel in diff.channels_removed:
            source = scene.node(channel.source) or self._ghost_nodes.get(channel.source)
            target = scene.node(channel.target) or self._ghost_nodes.get(channel.target)
            if source is not None and target is not None and source is not target:
                ghost = EdgeItem(channel, source, target, scene.palette)
                ghost.setFlags(ghost.flags() & ~ghost.GraphicsItemFlag.ItemIsSelectable)
                ghost.set_diff(DiffMark.REMOVED)
                scene.addItem(ghost)
                self._ghost_edges.append(ghost)

    def clear_diff(self) -> None:
        for edge in self._ghost_edges:
            edge.detach()
            self._scene.removeItem(edge)
        self._ghost_edges = []
        for node in self._ghost_nodes.values():
            self._scene.removeItem(node)
        self._ghost_nodes = {}
        for agent_id in self._marked_nodes:
            node = self._scene.node(agent_id)
            if node is not None:
                node.set_diff(DiffMark.NONE)
        self._marked_nodes = set()
        for edge in self._marked_edges:
            if edge.scene() is not None:
                edge.set_diff(DiffMark.NONE)
        self._marked_edges = []

    @property
    def ghost_nodes(self) -> dict[str, NodeItem]:
        return dict(self._ghost_nodes)

    @property
    def ghost_edges(self) -> list[EdgeItem]:
        return list(self._ghost_edges)

    def _mark_node(self, agent_id: str, mark: DiffMark, fields: tuple[str, ...] = ()) -> None:
        node = self._scene.node(agent_id)
        if node is not None:
            node.set_diff(mark, fields)
            self._marked_nodes.add(agent_id)

    def _add_ghost_node(self, agent_id: str, base: Org | None) -> None:
        agent = base.agent(agent_id) if base is not None and base.has_agent(agent_id) else Agent(id=agent_id)
        stored = base.layout.get(agent_id) if base is not None else None
        occupied = [(n.pos().x(), n.pos().y()) for n in (*self._scene.nodes.values(), *self._ghost_nodes.values())]
        if stored is None or any(abs(stored.x - x) < 1 and abs(stored.y - y) < 1 for x, y in occupied):
            near = (stored.x, stored.y) if stored is not None else (0.0, 0.0)
            stored = free_position(occupied, near)
        ghost = NodeItem(agent, is_entry=False, palette=self._scene.palette)
        ghost.default_model = (base or self._scene.document.org).defaults.model
        ghost.setFlags(ghost.GraphicsItemFlag(0))
        ghost.setAcceptHoverEvents(True)
        ghost.setPos(stored.x, stored.y)
        ghost.set_diff(DiffMark.REMOVED)
        self._scene.addItem(ghost)
        self._ghost_nodes[agent_id] = ghost

    def _edges_for(self, source: str, target: str, kind: ChannelKind | None = None) -> list[EdgeItem]:
        found = []
        for edge in self._scene.edge_items():
            c: Channel = edge.channel
            if kind is not None and c.kind != kind:
                continue
            reverse_peer = c.kind is ChannelKind.PEERS and (c.target, c.source) == (source, target)
            if (c.source, c.target) == (source, target) or reverse_peer:
                found.append(edge)
        return found

    # --- live run ---
    def show_run_state(self, agent_id: str, state: RunState | str | None) -> None:
        """Show what an agent is doing (None or "idle" clears it)."""
        state = RunState(state) if state is not None else None
        if state in (None, RunState.IDLE):
            self._run_states.pop(agent_id, None)
        else:
            self._run_states[agent_id] = state
        node = self._scene.node(agent_id)
        if node is not None:
            node.set_run_state(self._run_states.get(agent_id))

    def set_spend(self, agent_id: str, text: str) -> None:
        """A short figure under the node, such as "1.2k tok · $0.003" ("" clears it)."""
        self._set_node_text(NodeItem.set_spend, agent_id, text)

    def set_placement(self, agent_id: str, text: str) -> None:
        """Where the agent runs, as a line of its tooltip, such as "runs on host:node" ("" clears it)."""
        self._set_node_text(NodeItem.set_placement, agent_id, text)

    def _set_node_text(self, setter: Callable[[NodeItem, str], None], agent_id: str, text: str) -> None:
        texts = self._node_texts[setter]
        if text:
            texts[agent_id] = text
        else:
            texts.pop(agent_id, None)
        node = self._scene.node(agent_id)
        if node is not None:
            setter(node, text)

    def pulse_channel(self, source: str, target: str, duration_ms: int = 700) -> bool:
        """A dot travels along the channel `source -> target` (a message sent); False if none is drawn."""
        edges = self._edges_for(source, target) or self._edges_for(target, source)
        for edge in edges:
            running = self._pulses.pop(id(edge), None)
            if running is not None:
                running.stop()
            animation = QVariantAnimation(self)
            animation.setStartValue(0.02)
            animation.setEndValue(1.0)
            animation.setDuration(duration_ms)
            animation.valueChanged.connect(lambda value, e=edge: e.set_pulse(float(value)) if e.scene() else None)
            animation.finished.connect(lambda e=edge: self._end_pulse(e))
            self._pulses[id(edge)] = animation
            edge.set_pulse(0.02)
            animation.start()
        return bool(edges)

    def clear_run(self) -> None:
        for animation in self._pulses.values():
            animation.stop()
        for edge in self._scene.edge_items():
            if edge.pulse:
                edge.set_pulse(0.0)
        self._pulses = {}
        for agent_id in list(self._run_states):
            node = self._scene.node(agent_id)
            if node is not None:
                node.set_run_state(None)
        for setter, texts in self._node_texts.items():
            for agent_id in texts:
                node = self._scene.node(agent_id)
                if node is not None:
                    setter(node, "")
            texts.clear()
        self._run_states = {}

    def _end_pulse(self, edge: EdgeItem) -> None:
        self._pulses.pop(id(edge), None)
        if edge.scene() is not None:
            edge.set_pulse(0.0)

    def _reapply_run_state(self) -> None:
        """Nodes made again (after a rename, undo, reload) keep their run state, spend and placement."""
        for agent_id, state in self._run_states.items():
            node = self._scene.node(agent_id)
            if node is not None and node.run_state != state:
                node.set_run_state(state)
        for setter, texts in self._node_texts.items():
            for agent_id, text in texts.items():
                node = self._scene.node(agent_id)
                if node is not None:
                    setter(node, text)  # a no-op where the node shows it already
