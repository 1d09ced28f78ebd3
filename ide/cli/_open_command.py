"""`orgide open [PATH] [--screenshot FILE.png] [--theme system|light|dark]`: the desktop IDE.

Without --screenshot it needs a display. With it, the main window is rendered (offscreen when there
is no display) to the PNG and the command exits. PySide6 is imported only here, when asked for.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

EXIT_OK, EXIT_NO, EXIT_USAGE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "open", help="open the IDE (on an org, or its welcome screen)",
        description="Open the desktop IDE on PATH (an org folder), or on its welcome screen.",
    )
    parser.add_argument("path", nargs="?", help="an org folder (with org.yaml)")
    parser.add_argument("--screenshot", metavar="FILE.png", type=Path, help="render the window to this PNG and exit")
    parser.add_argument("--theme", choices=("system", "light", "dark"), help="the theme (default: the saved choice, else the system's)")
    parser.add_argument("--trust", action="store_true", help="trust PATH's code first (an org you made): its tools and run_python may run")
    parser.set_defaults(handler=_open)


def _has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or os.environ.get("QT_QPA_PLATFORM") == "offscreen"


def _open(args: argparse.Namespace) -> int:
    folder = None
    if args.path is not None:
        folder = Path(args.path)
        if not (folder / "org.yaml").is_file():
            print(f"orgide open: {folder} is not an org folder (no org.yaml)", file=sys.stderr)
            return EXIT_USAGE
    if getattr(args, "trust", False):
        if folder is None:
            print("orgide open: --trust needs the org folder (PATH)", file=sys.stderr)
            return EXIT_USAGE
        from orgruntime import TrustStore

        TrustStore().trust(folder)
    if args.screenshot is not None:
        if args.screenshot.suffix.lower() != ".png":
            print(f"orgide open: --screenshot writes a PNG; {args.screenshot} does not end in .png", file=sys.stderr)
            return EXIT_USAGE
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            os.environ["QT_QPA_PLATFORM"] = "offscreen"
    elif not _has_display():
        print("orgide open: no display (set DISPLAY, or use --screenshot FILE.png)", file=sys.stderr)
        return EXIT_USAGE
    try:
        from ide.app import render_screenshot, run_ide
    except ImportError as problem:
        print(f"orgide open: the desktop part is not installed ({problem.name or problem})", file=sys.stderr)
        return EXIT_USAGE
    if args.screenshot is None:
        return run_ide(folder, args.theme)
    try:
        written = render_screenshot(folder, args.screenshot, args.theme)
    except (OSError, RuntimeError) as problem:
        print(f"orgide open: {problem}", file=sys.stderr)
        return EXIT_NO
    print(written)
    return EXIT_OK


def open_welcome_or_help(parser: argparse.ArgumentParser) -> int:
    """`orgide` alone: the IDE's welcome screen where there is a display, else the help."""
    if _has_display() and os.environ.get("QT_QPA_PLATFORM") != "offscreen":
        return _open(argparse.Namespace(path=None, screenshot=None, theme=None, trust=False))
    parser.print_help(sys.stderr)
    return EXIT_USAGE
