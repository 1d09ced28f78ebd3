"""The git panel and its dialogs: status and lineage, changes, history, branches, fork, merge, conflicts, compare."""

from widgets.git._conflict_resolver import ConflictResolver
from widgets.git._panel import GitPanel

__all__ = ["ConflictResolver", "GitPanel"]
