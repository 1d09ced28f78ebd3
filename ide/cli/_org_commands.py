"""`orgide new`, `orgide validate` and `orgide show`: making and checking org code."""

from __future__ import annotations

import argparse
import json
import sys

from orgruntime import (
    DEFAULT_TEMPLATE,
    ChannelKind,
    Org,
    OrgError,
    check_org,
    contacts,
    create_org,
    has_errors,
    hierarchy_layers,
    list_templates,
    load_org,
)

from ide.cli._folders import existing_folder
from ide.cli._vcs_commands import driver_command

EXIT_OK, EXIT_NO, EXIT_USAGE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    templates = ", ".join(f"{t.name} ({t.title})" for t in list_templates())
    new = subparsers.add_parser(
        "new", help="create a new org repository from a template",
        description=f"Create a new org folder with a git repository and a first commit. Templates: {templates}.",
    )
    new.add_argument("path", help="folder to create (must not exist, or be empty)")
    new.add_argument("--template", default=DEFAULT_TEMPLATE, help=f"template name (default: {DEFAULT_TEMPLATE})")
    new.add_argument("--no-git", action="store_true", help="do not make a git repository")
    new.set_defaults(handler=_new)

    validate = subparsers.add_parser(
        "validate", help="check an org; problems as FILE:LINE:COL lines",
        description="Report every problem of an org at once. Exit 0 when there are no errors, 1 otherwise.",
    )
    validate.add_argument("path", help="the org folder")
    validate.add_argument("--json", action="store_true", help="print the problems as one JSON object")
    validate.set_defaults(handler=_validate)

    show = subparsers.add_parser("show", help="print an org's agents and channels", description="Print an org chart.")
    show.add_argument("path", help="the org folder")
    show.add_argument("--json", action="store_true", help="print the org as JSON")
    show.set_defaults(handler=_show)


def _new(args: argparse.Namespace) -> int:
    try:
        root = create_org(args.path, args.template, git=not args.no_git, merge_driver=driver_command())
    except OrgError as problem:
        print(f"orgide new: {problem}", file=sys.stderr)
        return EXIT_USAGE
    org = load_org(root)
    print(f"created {root} from the '{args.template}' template: {org.name}, {len(org.agents)} agents, {len(org.channels)} channels")
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    root = existing_folder(args.path, "validate")
    if root is None:
        return EXIT_USAGE
    org, problems = check_org(root)
    errors = sum(1 for p in problems if p.is_error)
    warnings = len(problems) - errors
    if args.json:
        print(json.dumps({"path": str(root), "errors": errors, "warnings": warnings, "problems": [p.as_json() for p in problems]}, indent=2))
    else:
        for problem in problems:
            print(problem)
        name = f"{org.name}: " if org is not None and org.name else ""
        print(f"{root}: {name}{_count(errors, 'error')}, {_count(warnings, 'warning')}", file=sys.stderr)
    return EXIT_NO if has_errors(problems) else EXIT_OK


def _show(args: argparse.Namespace) -> int:
    root = existing_folder(args.path, "show")
    if root is None:
        return EXIT_USAGE
    try:
        org = load_org(root)
    except OrgError as problem:
        print(f"orgide show: {problem}", file=sys.stderr)
        return EXIT_NO
    if args.json:
        print(json.dumps(_org_json(org), indent=2))
    else:
        _print_chart(org)
    return EXIT_OK


def _print_chart(org: Org) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.tree import Tree

    console = Console()
    tree = Tree(f"[bold]{escape(org.name)}[/bold]  {escape(org.description)}")
    for level, agent_ids in enumerate(hierarchy_layers(org)):
        branch = tree.add(f"[dim]level {level}[/dim]")
        for agent_id in agent_ids:
            agent = org.agent(agent_id)
            marks = " [yellow](entry)[/yellow]" if agent_id == org.entry else ""
            marks += " [magenta](human)[/magenta]" if agent.is_human else ""
            model = org.model_of(agent_id) if not agent.is_human else None
            node = branch.add(f"[bold cyan]{escape(agent_id)}[/bold cyan] {escape(agent.display_name)}{marks} [dim]{escape(model or '')}[/dim]")
            if agent.role:
                node.add(escape(agent.role))
            reach = contacts(org, agent_id)
            if reach:
                node.add("[dim]talks to:[/dim] " + ", ".join(escape(c) for c in reach))
    console.print(tree)
    for channel in org.channels:
        arrow = "<->" if channel.kind is ChannelKind.PEERS else "->"
        console.print(f"  {escape(channel.source)} {arrow} {escape(channel.target)}  [dim]{channel.kind}[/dim]")


def _org_json(org: Org) -> dict[str, object]:
    return {
        "name": org.name,
        "description": org.description,
        "entry": org.entry,
        "agents": [
            {"id": a.id, "name": a.name, "role": a.role, "kind": str(a.kind), "model": org.model_of(a.id), "tools": list(a.tools)}
            for a in org.agents
        ],
        "channels": [{"from": c.source, "to": c.target, "kind": str(c.kind)} for c in org.channels],
    }


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
