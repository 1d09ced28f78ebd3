"""`orgide fork`, `orgide diff`, `orgide merge` and `orgide merge-driver`: org code under version control."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ruamel.yaml import YAML, YAMLError

from orgruntime import OrgError
from orgruntime.vcs import (
    ConflictKind,
    Edited,
    MergeOutcome,
    NotARepositoryError,
    PendingMerge,
    Side,
    UnsafeNameError,
    abort_merge,
    commit_merge,
    diff_revisions,
    fork,
    lineage,
    merge,
    merge_file,
    pending_merge,
    resolve,
)

EXIT_OK, EXIT_NO, EXIT_USAGE = 0, 1, 2


def driver_command() -> list[str]:
    """How git starts `orgide merge-driver`: this Python, with `-P` so that it never imports code from the repository
    git runs it in (the working directory is not put on sys.path)."""
    return [sys.executable, "-P", "-m", "ide", "merge-driver"]


def register(subparsers: argparse._SubParsersAction) -> None:
    fork_parser = subparsers.add_parser(
        "fork", help="fork an org: clone it (source becomes `upstream`) or make a branch",
        description="orgide fork SRC DEST clones a folder or URL; orgide fork PATH --branch NAME makes a branch. "
                    "A cloned org is untrusted: none of its code runs until you trust it.")
    fork_parser.add_argument("source", help="the org folder or URL to fork (or, with --branch, the org to branch)")
    fork_parser.add_argument("dest", nargs="?", help="the new folder (must not exist, or be empty)")
    fork_parser.add_argument("--branch", help="make and check out this branch instead of cloning")
    fork_parser.add_argument("--json", action="store_true", help="print the result as JSON")
    fork_parser.set_defaults(handler=_fork)

    diff = subparsers.add_parser(
        "diff", help="semantic diff: agents, channels and org fields added, removed, changed",
        description="No revision: HEAD against the work tree. One: that revision against the work tree. Two: the two revisions.")
    diff.add_argument("path", help="the org repository")
    diff.add_argument("revisions", nargs="*", metavar="REV", help="up to two revisions")
    diff.add_argument("--json", action="store_true", help="print the diff as JSON")
    diff.set_defaults(handler=_diff)

    merge_parser = subparsers.add_parser(
        "merge", help="merge a branch or commit into the org semantically",
        description="Merge REF into the checked-out branch. Exit 1 when conflicts remain; resolve them with "
                    "--resolve ID=ours|theirs or --edit ID=FILE, then --continue; or --abort to restore the tree exactly.")
    merge_parser.add_argument("path", help="the org repository")
    merge_parser.add_argument("ref", nargs="?", help="the branch, tag or commit to merge")
    action = merge_parser.add_mutually_exclusive_group()
    action.add_argument("--abort", action="store_true", help="abandon the pending merge and restore the tree")
    action.add_argument("--continue", dest="continue_", action="store_true", help="commit the resolved pending merge")
    action.add_argument("--status", action="store_true", help="show the pending merge and its conflicts")
    merge_parser.add_argument("--resolve", action="append", default=[], metavar="ID=ours|theirs",
                              help="resolve a conflict of the pending merge (repeatable)")
    merge_parser.add_argument("--edit", action="append", default=[], metavar="ID=FILE",
                              help="resolve a text, file or field conflict with the contents of FILE (a field's "
                                   "value is read as a YAML scalar; repeatable)")
    merge_parser.add_argument("--message", "-m", help="the merge commit's message")
    merge_parser.add_argument("--json", action="store_true", help="print the outcome as JSON")
    merge_parser.set_defaults(handler=_merge)

    driver = subparsers.add_parser(
        "merge-driver", help="git merge driver for org files (installed by `orgide new` and `orgide fork`)",
        description="Merge one org file semantically, as git's merge driver: the result replaces OURS; exit 1 on conflicts.")
    for name in ("base", "ours", "theirs", "pathname"):
        driver.add_argument(name)
    driver.set_defaults(handler=_merge_driver)


def _fail(verb: str, problem: Exception) -> int:
    print(f"orgide {verb}: {problem}", file=sys.stderr)
    return EXIT_USAGE if isinstance(problem, (UnsafeNameError, NotARepositoryError)) else EXIT_NO


def _fork(args: argparse.Namespace) -> int:
    if (args.dest is None) == (args.branch is None):
        print("orgide fork: give either DEST (clone) or --branch NAME (branch)", file=sys.stderr)
        return EXIT_USAGE
    try:
        result = fork(args.source, args.dest, branch=args.branch, merge_driver=driver_command())
        line = lineage(result.path)
    except OrgError as problem:
        return _fail("fork", problem)
    if args.json:
        print(json.dumps({"path": str(result.path), "branch": result.branch, "source": result.source,
                          "cloned": result.cloned, "untrusted": result.untrusted, "lineage": line.as_json()}))
        return EXIT_OK
    what = f"cloned {result.source} into {result.path}" if result.cloned else f"made branch {result.branch} from {result.source}"
    print(f"{what}; upstream {line.upstream or 'none'}")
    if result.untrusted:
        print("this org came from elsewhere and is untrusted: none of its code runs until you trust it")
    return EXIT_OK


def _diff(args: argparse.Namespace) -> int:
    if len(args.revisions) > 2:
        print("orgide diff: at most two revisions", file=sys.stderr)
        return EXIT_USAGE
    try:
        result = diff_revisions(args.path, *args.revisions)
    except OrgError as problem:
        return _fail("diff", problem)
    if args.json:
        print(json.dumps(result.as_json()))
    elif result.empty and not result.layout_moved:
        print("no changes")
    else:
        for line in result.summary():
            print(line)
        for change in result.agents_changed:
            if change.prompt_diff:
                print(f"--- {change.id}: prompt")
                print("\n".join(change.prompt_diff))
        if result.layout_moved:
            print(f"layout: {len(result.layout_moved)} node(s) moved")
    return EXIT_OK


def _parse_resolution(text: str) -> tuple[str, Side]:
    conflict_id, sep, side = text.rpartition("=")
    if not sep or side not in ("ours", "theirs"):
        raise ValueError(f"--resolve expects ID=ours or ID=theirs, not {text!r}")
    return conflict_id, Side(side)


def _parse_edit(text: str, pending: PendingMerge | None) -> tuple[str, Edited]:
    conflict_id, sep, file = text.partition("=")
    if not sep or not file:
        raise ValueError(f"--edit expects ID=FILE, not {text!r}")
    conflict = next((c for c in (pending.conflicts if pending else ()) if c.id == conflict_id), None)
    if conflict is None:
        raise ValueError(f"no unresolved conflict {conflict_id!r}")
    try:
        content = Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as problem:
        raise ValueError(f"cannot read {file}: {problem}") from problem
    if conflict.kind in (ConflictKind.TEXT, ConflictKind.FILE):
        return conflict_id, Edited(content.rstrip("\n") if conflict.kind is ConflictKind.TEXT else content)
    if conflict.kind in (ConflictKind.FIELD, ConflictKind.RENAME_RENAME):
        try:
            value = YAML(typ="safe", pure=True).load(content)
        except YAMLError as problem:
            raise ValueError(f"{file} is not a YAML value: {problem}") from problem
        if isinstance(value, (dict, list)):
            raise ValueError(f"{file} must hold one value (text, number or null), not a {type(value).__name__}")
        return conflict_id, Edited(value)
    raise ValueError(f"conflict {conflict_id} ({conflict.kind}) is resolved with --resolve ID=ours|theirs")


def _merge(args: argparse.Namespace) -> int:
    try:
        resolutions: list[tuple[str, Side | Edited]] = [_parse_resolution(text) for text in args.resolve]
        if args.edit:
            pending_now = pending_merge(args.path)
            resolutions += [_parse_edit(text, pending_now) for text in args.edit]
    except ValueError as problem:
        print(f"orgide merge: {problem}", file=sys.stderr)
        return EXIT_USAGE
    except OrgError as problem:
        return _fail("merge", problem)
    starting = args.ref is not None
    flags = args.abort or args.continue_ or args.status
    if (starting and (flags or resolutions)) or (not starting and not (flags or resolutions)) or (args.abort and resolutions):
        print("orgide merge: give REF to start a merge, or --resolve/--edit/--continue/--status, or --abort", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.abort:
            abort_merge(args.path)
            return _print(args, {"status": "aborted"}, "merge aborted; the tree is as it was")
        if starting:
            return _print_outcome(args, merge(args.path, args.ref, message=args.message))
        pending = pending_merge(args.path)
        for conflict_id, choice in resolutions:
            pending = resolve(args.path, conflict_id, choice)
        if args.continue_:
            commit = commit_merge(args.path, args.message)
            return _print(args, {"status": "merged", "commit": commit, "conflicts": []}, f"merged: {commit}")
        return _print_pending(args, pending)
    except OrgError as problem:
        return _fail("merge", problem)


def _print(args: argparse.Namespace, data: dict, text: str) -> int:
    print(json.dumps(data) if args.json else text)
    return EXIT_OK


def _print_outcome(args: argparse.Namespace, outcome: MergeOutcome) -> int:
    if args.json:
        print(json.dumps(outcome.as_json()))
    else:
        print(f"{outcome.status}" + (f": {outcome.commit}" if outcome.commit else ""))
        _print_conflicts(outcome.conflicts)
    return EXIT_NO if outcome.conflicts else EXIT_OK


def _print_pending(args: argparse.Namespace, pending: PendingMerge | None) -> int:
    if pending is None:
        return _print(args, {"status": "none"}, "no merge in progress")
    if args.json:
        print(json.dumps({"status": "conflicts" if pending.conflicts else "resolved", **pending.as_json()}))
    else:
        print(f"merging {pending.ref}: {len(pending.conflicts)} conflict(s) left, {len(pending.resolved)} resolved")
        _print_conflicts(pending.conflicts)
        if not pending.conflicts:
            print("all resolved: run `orgide merge PATH --continue` to commit")
    return EXIT_NO if pending.conflicts else EXIT_OK


def _print_conflicts(conflicts: tuple) -> None:
    for conflict in conflicts:
        print(f"  {conflict.id}  [{conflict.kind}]  {conflict.message}")


def _merge_driver(args: argparse.Namespace) -> int:
    try:
        clean = merge_file(Path(args.base), Path(args.ours), Path(args.theirs), args.pathname)
    except (OSError, OrgError) as problem:
        print(f"orgide merge-driver: {problem}", file=sys.stderr)
        return EXIT_NO
    return EXIT_OK if clean else EXIT_NO
