"""The scene: one node per agent and one edge per channel, kept in step with the document."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, Signal
from PySide6.QtGui import QBrush, QPainter, QPen, QPixmap, QTransform
from PySide6.QtWidgets import QGraphicsScene

from orgruntime import Channel, Diagnostic, Org, Point

from widgets._document import OrgDocument
from widgets._edge_item import EdgeItem
from widgets._geometry import HORIZONTAL_SPACING, VERTICAL_SPACING
from widgets._node_item import NodeItem
from widgets._palette import GraphPalette, palette_for_application


_GRID_STEP = 40


class OrgScene(QGraphicsScene):
    """Mirrors `document.org`; never changes the model itself (the view and editor send edits)."""

    nodes_changed = Signal()  # agents or channels were added, removed or replaced
    palette_changed = Signal()

    def __init__(self, document: OrgDocument, palette: GraphPalette | None = None, parent=None) -> None:
        super().__init__(parent)
        self.document = document
        self.palette = palette or palette_for_application()
        self.nodes: dict[str, NodeItem] = {}
        self.edges: dict[Channel, list[EdgeItem]] = {}
        self._diagnostics_by_agent: dict[str, tuple[Diagnostic, ...]] = {}
        self.geometry_changed: Callable[[], None] = _nothing  # a node moved (the far view's cache listens)
        self.item_added: Callable[[object], None] = _nothing  # a node or edge joined the scene
        self.setBackgroundBrush(self.palette.background)
        self._grid_tile: tuple[int, QBrush] | None = None
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.BspTreeIndex)
        self._build(document.org)
        document.changed.connect(self._sync)

    # --- queries ---
    def node(self, agent_id: str) -> NodeItem | None:
        return self.nodes.get(agent_id)

    def edge_items(self) -> list[EdgeItem]:
        return [item for items in self.edges.values() for item in items]

    def edge(self, channel: Channel) -> EdgeItem | None:
        items = self.edges.get(channel)
        return items[0] if items else None

    def selected_agent_ids(self) -> list[str]:
        return sorted(item.agent_id for item in self.selectedItems() if isinstance(item, NodeItem))

    def selected_channels(self) -> list[Channel]:
        return [item.channel for item in self.selectedItems() if isinstance(item, EdgeItem)]

    def node_at(self, scene_point: QPointF) -> NodeItem | None:
        for item in self.items(scene_point):
            if isinstance(item, NodeItem) and item.isVisible() and item.isEnabled():
                return item
        return None

    def positions(self) -> dict[str, tuple[float, float]]:
        return {agent_id: (node.pos().x(), node.pos().y()) for agent_id, node in self.nodes.items()}

    def nodes_rect(self, agent_ids: list[str] | None = None) -> QRectF:
        rect = QRectF()
        for agent_id in agent_ids if agent_ids is not None else list(self.nodes):
            node = self.nodes.get(agent_id)
            if node is not None:
                rect = rect.united(node.sceneBoundingRect())
        return rect

    # --- state from outside ---
    def set_diagnostics(self, diagnostics: tuple[Diagnostic, ...]) -> None:
        by_agent: dict[str, list[Diagnostic]] = {}
        for diagnostic in diagnostics:
            agent_id = agent_of(diagnostic)
            if agent_id is not None:
                by_agent.setdefault(agent_id, []).append(diagnostic)
        self._diagnostics_by_agent = {agent_id: tuple(found) for agent_id, found in by_agent.items()}
        for agent_id, node in self.nodes.items():
            node.set_diagnostics(self._diagnostics_by_agent.get(agent_id, ()))

    def set_palette(self, palette: GraphPalette) -> None:
        self.palette = palette
        self.setBackgroundBrush(palette.background)
        self._grid_tile = None
        self.update()
        for node in self.nodes.values():
            node.set_palette(palette)
        for edge in self.edge_items():
            edge.set_palette(palette)
        self.palette_changed.emit()

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        """The canvas colour, with a dot every 40 units when near enough to see them.

        The dots are one tiled brush in device pixels (an untransformed tile fill is a plain blit);
        the tile is remade when the zoom changes.
        """
        transform = painter.worldTransform()
        scale = transform.m11()
        if scale < 0.45:
            painter.fillRect(rect, QBrush(self.palette.background))
            return
        step = max(8, round(_GRID_STEP * scale))
        if self._grid_tile is None or self._grid_tile[0] != step:
            self._grid_tile = (step, self._make_grid_brush(step))
        brush = QBrush(self._grid_tile[1])
        origin = transform.map(QPointF(0, 0))
        brush.setTransform(QTransform.fromTranslate(origin.x() % step, origin.y() % step))
        painter.save()
        painter.resetTransform()
        painter.fillRect(transform.mapRect(rect), brush)
        painter.restore()

    def _make_grid_brush(self, step: int) -> QBrush:
        tile = QPixmap(step, step)
        tile.fill(self.palette.background)
        tile_painter = QPainter(tile)
        tile_painter.setPen(QPen(self.palette.grid, 1.5))
        tile_painter.drawPoint(0, 0)
        tile_painter.end()
        return QBrush(tile)

    def restore_positions(self) -> None:
        """Put every node back where the model says (after a move the model refused)."""
        for agent_id, point in self.document.org.layout.positions:
            node = self.nodes.get(agent_id)
            if node is not None:
                node.setPos(point.x, point.y)
        self._place_unpositioned(self.document.org)

    # --- keeping in step with the model ---
    def _build(self, org: Org) -> None:
        stored = org.layout.as_dict()
        for agent in org.agents:
            self._add_node(agent.id, org, stored.get(agent.id))
        self._place_unpositioned(org)
        for channel in org.channels:
            self._add_edge(channel)

    def _add_node(self, agent_id: str, org: Org, point: Point | None) -> NodeItem:
        node = NodeItem(org.agent(agent_id), is_entry=agent_id == org.entry, palette=self.palette)
        node.positioned = point is not None
        node.default_model = org.defaults.model
        if point is not None:
            node.setPos(point.x, point.y)
        node.set_diagnostics(self._diagnostics_by_agent.get(agent_id, ()))
        self.addItem(node)
        self.nodes[agent_id] = node
        self.item_added(node)
        return node

    def _place_unpositioned(self, org: Org) -> None:
        """Agents with no stored position go in a grid below the others (shown there, not saved)."""
        loose = [node for node in self.nodes.values() if not node.positioned]
        if not loose:
            return
        placed = [node.pos() for node in self.nodes.values() if node.positioned]
        top = max((p.y() for p in placed), default=-VERTICAL_SPACING) + VERTICAL_SPACING
        left = min((p.x() for p in placed), default=0.0)
        columns = max(4, int(len(loose) ** 0.5))
        for index, node in enumerate(loose):
            node.setPos(left + (index % columns) * HORIZONTAL_SPACING, top + (index // columns) * VERTICAL_SPACING)

    def _add_edge(self, channel: Channel) -> None:
        source, target = self.nodes.get(channel.source), self.nodes.get(channel.target)
        if source is None or target is None or source is target:
            return  # drawn once the agents exist; validation reports the problem meanwhile
        edge = EdgeItem(channel, source, target, self.palette)
        self.addItem(edge)
        self.edges.setdefault(channel, []).append(edge)
        self.item_added(edge)

    def _remove_edge(self, channel: Channel) -> None:
        items = self.edges.get(channel)
        if not items:
            return
        edge = items.pop()
        if not items:
            del self.edges[channel]
        edge.detach()
        self.removeItem(edge)

    def _sync(self, old: Org, new: Org) -> None:
        structure_changed = False
        new_agents = new.agents_by_id
        gone = [i for i in self.nodes if i not in new_agents]
        selected_gone = [i for i in gone if self.nodes[i].isSelected()]
        for agent_id in gone:
            node = self.nodes.pop(agent_id)
            for edge in list(node.edges):
                self._remove_edge(edge.channel)
            self.removeItem(node)
            structure_changed = True
        stored = new.layout.as_dict()
        added = False
        for agent in new.agents:
            node = self.nodes.get(agent.id)
            is_entry = agent.id == new.entry
            if node is None:
                self._add_node(agent.id, new, stored.get(agent.id))
                added = structure_changed = True
            elif node.agent is not agent or node.is_entry != is_entry:
                node.set_agent(agent, is_entry=is_entry)
        if added:
            self._place_unpositioned(new)
            arrived = [agent.id for agent in new.agents if agent.id not in old.agents_by_id]
            if len(selected_gone) == 1 and len(gone) == 1 and len(arrived) == 1:
                self.nodes[arrived[0]].setSelected(True)  # a renamed agent stays selected
        if old.defaults.model != new.defaults.model:
            for node in self.nodes.values():
                node.set_default_model(new.defaults.model)
        if old.layout is not new.layout:
            for agent_id, point in stored.items():
                node = self.nodes.get(agent_id)
                if node is not None and (node.pos().x(), node.pos().y()) != (point.x, point.y):
                    node.setPos(point.x, point.y)
                if node is not None:
                    node.positioned = True
            unstored = [node for agent_id, node in self.nodes.items() if agent_id not in stored and node.positioned]
            for node in unstored:
                node.positioned = False
            if unstored:
                self._place_unpositioned(new)
        if old.channels is not new.channels or added:
            structure_changed |= self._sync_channels(new)
        if structure_changed:
            self.nodes_changed.emit()

    def _sync_channels(self, org: Org) -> bool:
        wanted = Counter(c for c in org.channels if c.source in self.nodes and c.target in self.nodes and c.source != c.target)
        shown = Counter({channel: len(items) for channel, items in self.edges.items()})
        for channel, count in (shown - wanted).items():
            for _ in range(count):
                self._remove_edge(channel)
        for channel, count in (wanted - shown).items():
            for _ in range(count):
                self._add_edge(channel)
        return wanted != shown


def _nothing(*_args) -> None:
    return None


def agent_of(diagnostic: Diagnostic) -> str | None:
    """The agent a diagnostic is about, when it points into an agent's file."""
    file = diagnostic.file
    if file.startswith("agents/") and file.endswith(".md"):
        return file[len("agents/"):-len(".md")]
    return None
