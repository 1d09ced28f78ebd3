"""Reusable Qt widgets (graph editor, inspector, git panel, run console): they show models they are given and emit signals."""

from widgets._autolayout import auto_layout, count_crossings, free_position
from widgets._document import EditCommand, OrgDocument
from widgets._edge_item import EdgeItem
from widgets._graph_editor import GraphEditor
from widgets._inspector import COMMON_MODELS, Inspector
from widgets._node_item import DiffMark, NodeItem, RunState
from widgets._palette import DARK, LIGHT, GraphPalette, palette_for_application
from widgets._scene import OrgScene
from widgets._validation import LiveValidation
from widgets._validation_panel import ValidationPanel
from widgets._view import GraphView

__all__ = [
    "COMMON_MODELS",
    "Inspector",
    "DARK",
    "LIGHT",
    "DiffMark",
    "EdgeItem",
    "EditCommand",
    "GraphEditor",
    "GraphPalette",
    "GraphView",
    "LiveValidation",
    "NodeItem",
    "OrgDocument",
    "OrgScene",
    "RunState",
    "ValidationPanel",
    "auto_layout",
    "count_crossings",
    "free_position",
    "palette_for_application",
]
