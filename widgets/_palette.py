"""Colours of the graph editor, one set for light and one for dark themes."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QPalette, QPen
from PySide6.QtWidgets import QApplication

from orgruntime import ChannelKind


@dataclass(frozen=True)
class GraphPalette:
    background: QColor
    grid: QColor
    node_fill: QColor
    human_fill: QColor
    node_border: QColor
    selection: QColor
    text: QColor
    muted_text: QColor
    badge_fill: QColor
    entry: QColor
    error: QColor
    warning: QColor
    added: QColor
    removed: QColor
    changed: QColor
    found: QColor
    edge: dict[ChannelKind, QColor]

    def edge_color(self, kind: ChannelKind) -> QColor:
        return self.edge.get(kind, self.muted_text)


# Painting takes these ready-made: passing the bare enums (Qt.NoPen, Qt.NoBrush) to QPainter from
# PySide6 6.12 on Python 3.11 drops a reference to None on each call, which crashes a long paint.
NO_PEN = QPen(Qt.PenStyle.NoPen)
NO_BRUSH = QBrush(Qt.BrushStyle.NoBrush)

EDGE_DASH = {
    ChannelKind.DELEGATES: Qt.PenStyle.SolidLine,
    ChannelKind.REPORTS: Qt.PenStyle.DashLine,
    ChannelKind.REVIEWS: Qt.PenStyle.DotLine,
    ChannelKind.PEERS: Qt.PenStyle.DashDotLine,
}

LIGHT = GraphPalette(
    background=QColor("#f7f7f9"), grid=QColor("#e6e6ec"), node_fill=QColor("#ffffff"), human_fill=QColor("#fff6e0"),
    node_border=QColor("#9aa0ac"), selection=QColor("#2f6fde"), text=QColor("#1d1f24"), muted_text=QColor("#5d6472"),
    badge_fill=QColor("#e9edf5"), entry=QColor("#2f6fde"), error=QColor("#d0312d"), warning=QColor("#d98a00"),
    added=QColor("#1f9d55"), removed=QColor("#d0312d"), changed=QColor("#e0a100"), found=QColor("#b042d6"),
    edge={ChannelKind.DELEGATES: QColor("#2f6fde"), ChannelKind.REPORTS: QColor("#1f9d55"),
          ChannelKind.REVIEWS: QColor("#c2410c"), ChannelKind.PEERS: QColor("#7c3aed")},
)

DARK = GraphPalette(
    background=QColor("#1e2026"), grid=QColor("#2a2d35"), node_fill=QColor("#2b2f38"), human_fill=QColor("#3a3424"),
    node_border=QColor("#6b7280"), selection=QColor("#5b9bff"), text=QColor("#e8eaf0"), muted_text=QColor("#a0a7b4"),
    badge_fill=QColor("#3a404c"), entry=QColor("#5b9bff"), error=QColor("#ff6b66"), warning=QColor("#f2b233"),
    added=QColor("#3ccf7a"), removed=QColor("#ff6b66"), changed=QColor("#f5c542"), found=QColor("#d27af0"),
    edge={ChannelKind.DELEGATES: QColor("#6fa3ff"), ChannelKind.REPORTS: QColor("#4fd08a"),
          ChannelKind.REVIEWS: QColor("#ff8a50"), ChannelKind.PEERS: QColor("#b69cff")},
)


def palette_for_application() -> GraphPalette:
    """Dark colours when the application's window colour is dark, light ones otherwise."""
    app = QApplication.instance()
    if app is None:
        return LIGHT
    window = app.palette().color(QPalette.ColorRole.Window)
    return DARK if window.lightness() < 128 else LIGHT
