"""Org templates (shipped in `resources/templates`) and making a new org repository from one."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path

from orgruntime._errors import TemplateError
from orgruntime._files import write_atomic
from orgruntime._read import AGENTS_DIR, LAYOUT_FILE, ORG_FILE
from orgruntime._text import did_you_mean
from orgruntime._yamlsource import YamlProblem, parse_yaml
from resources import templates_root

DEFAULT_TEMPLATE = "startup"
GITIGNORE = "# orgide: run logs stay on this machine\n.orgide/runs/\n"


@dataclass(frozen=True)
class TemplateInfo:
    name: str
    title: str
    description: str


def list_templates() -> tuple[TemplateInfo, ...]:
    infos = []
    for folder in sorted(templates_root().iterdir(), key=lambda item: item.name):
        if folder.is_dir() and (folder / ORG_FILE).is_file():
            infos.append(_info(folder))
    return tuple(infos)


def template_names() -> tuple[str, ...]:
    return tuple(info.name for info in list_templates())


def create_org(dest: str | os.PathLike[str], template: str = DEFAULT_TEMPLATE, *, git: bool = True,
               merge_driver: Sequence[str] | None = None) -> Path:
    """A new org folder at `dest` from `template`: its files, a .gitignore, and (with `git`) a
    repository holding them as the first commit. With `merge_driver` (the command git runs), org
    files are routed to the semantic merge driver through a committed .gitattributes.
    `dest` must not exist or be an empty folder."""
    names = template_names()
    if template not in names:
        raise TemplateError(f"unknown template '{template}'{did_you_mean(template, names)}; templates: {', '.join(names)}")
    root = Path(dest)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise TemplateError(f"{root} already exists and is not an empty folder")
    created = not root.exists()
    try:
        root.mkdir(parents=True, exist_ok=True)
        _copy_template(templates_root() / template, root)
        if git:
            from orgruntime.vcs import commit_all, init_repo, install_merge_driver

            init_repo(root)
            if merge_driver:
                install_merge_driver(root, merge_driver)
            commit_all(root, f"Create the org from the '{template}' template")
    except BaseException:
        if created:
            shutil.rmtree(root, ignore_errors=True)
        raise
    return root


def _copy_template(source: Traversable, root: Path) -> None:
    write_atomic(root / ORG_FILE, (source / ORG_FILE).read_text(encoding="utf-8"))
    for item in sorted((source / AGENTS_DIR).iterdir(), key=lambda entry: entry.name):
        if item.name.endswith(".md"):
            write_atomic(root / AGENTS_DIR / item.name, item.read_text(encoding="utf-8"))
    if (source / "layout.json").is_file():
        write_atomic(root / LAYOUT_FILE, (source / "layout.json").read_text(encoding="utf-8"))
    write_atomic(root / ".gitignore", GITIGNORE)


def _info(folder: Traversable) -> TemplateInfo:
    try:
        data = parse_yaml((folder / ORG_FILE).read_text(encoding="utf-8")).data
    except YamlProblem:
        data = None
    data = data if isinstance(data, dict) else {}
    return TemplateInfo(folder.name, str(data.get("name", folder.name)), str(data.get("description", "")))
