"""`orgide edit PATH`: the graph editor, inspector and problems list in one window (Ctrl+S saves)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

EXIT_USAGE = 2


def register(subparsers: argparse._SubParsersAction) -> None:
    edit = subparsers.add_parser(
        "edit", help="edit an org visually (graph editor and inspector)",
        description="Open the org in the graph editor with its inspector and problems list; Ctrl+S saves.",
    )
    edit.add_argument("path", help="the org folder")
    edit.set_defaults(handler=_edit)


def _edit(args: argparse.Namespace) -> int:
    if not (Path(args.path) / "org.yaml").is_file():
        print(f"orgide edit: {args.path} is not an org folder (no org.yaml)", file=sys.stderr)
        return EXIT_USAGE
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM")):
        print("orgide edit: no display (set DISPLAY, or QT_QPA_PLATFORM=offscreen)", file=sys.stderr)
        return EXIT_USAGE
    try:
        from widgets.graph_editor import main as run_editor
    except ImportError as problem:
        print(f"orgide edit: the desktop part is not installed ({problem.name or problem})", file=sys.stderr)
        return EXIT_USAGE
    return run_editor([str(args.path)])
