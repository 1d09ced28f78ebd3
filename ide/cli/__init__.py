"""The `orgide` command line. Each verb group lives in its own module with a `register(subparsers)`.

Exit codes: 0 success, 1 the answer is "no" (invalid org, failed run, ...), 2 bad usage.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ide.cli import _edit_command, _model_commands, _open_command, _org_commands, _run_commands, _serve_command, _vcs_commands

COMMAND_MODULES = (_org_commands, _edit_command, _run_commands, _vcs_commands, _model_commands, _serve_command, _open_command)

EXIT_OK, EXIT_NO, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orgide",
        description="orgide: design, version and run agentic organisations kept as org code in git.",
    )
    subparsers = parser.add_subparsers(dest="verb", metavar="VERB")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    # read when torch loads (later, lazily): idle OpenMP threads sleep instead of spinning on a shared desktop
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # argparse: --help is 0, bad usage is 2
        return int(stop.code or 0)
    if args.verb is None:
        return _open_command.open_welcome_or_help(parser)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
