"""Reusable Qt widgets (graph editor, inspector, git panel, run console): they show models they are given and emit signals."""

from widgets._refcount_guards import guard_refcounts

guard_refcounts()

from widgets._autolayout import auto_layout, count_crossings, free_position  # noqa: E402
from widgets._document import EditCommand, OrgDocument  # noqa: E402
from widgets._edge_item import EdgeItem  # noqa: E402
from widgets._find_bar import FindBar  # noqa: E402
from widgets._graph_editor import GraphEditor  # noqa: E402
from widgets._inspector import COMMON_MODELS, Inspector  # noqa: E402
from widgets._markdown_highlighter import MarkdownHighlighter  # noqa: E402
from widgets._minimap import Minimap  # noqa: E402
from widgets._node_item import DiffMark, NodeItem, RunState  # noqa: E402
from widgets._overlays import Overlays  # noqa: E402
from widgets._palette import DARK, LIGHT, GraphPalette, palette_for_application  # noqa: E402
from widgets._scene import OrgScene  # noqa: E402
from widgets._validation import LiveValidation  # noqa: E402
from widgets._validation_panel import ValidationPanel  # noqa: E402
from widgets._view import GraphView  # noqa: E402
from widgets.run_console import RunConsole, RunOverlay  # noqa: E402
from widgets.git import ConflictResolver, GitPanel  # noqa: E402

__all__ = [
    "COMMON_MODELS",
    "ConflictResolver",
    "Inspector",
    "DARK",
    "LIGHT",
    "DiffMark",
    "EdgeItem",
    "EditCommand",
    "FindBar",
    "GitPanel",
    "GraphEditor",
    "GraphPalette",
    "GraphView",
    "LiveValidation",
    "MarkdownHighlighter",
    "Minimap",
    "NodeItem",
    "OrgDocument",
    "OrgScene",
    "Overlays",
    "RunConsole",
    "RunOverlay",
    "RunState",
    "ValidationPanel",
    "auto_layout",
    "count_crossings",
    "free_position",
    "palette_for_application",
]
