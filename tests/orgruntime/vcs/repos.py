"""Real org repositories for the vcs tests: the golden base org, committed, plus helpers to edit and snapshot."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from orgruntime import Org, load_org, save_org
from orgruntime.vcs import commit_all, init_repo
from tests.orgruntime.vcs.conftest import plain_git

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "merge"
BASE_ORG = GOLDEN / "several-conflicts" / "base"


def org_repo(folder: Path, readme: str = "# Tiny Startup\n\nLine two.\nLine three.\n") -> Path:
    shutil.copytree(BASE_ORG, folder)
    (folder / "README.md").write_text(readme)
    root = init_repo(folder)
    commit_all(root, "the base org")
    return root


def change(root: Path, message: str, **fields: object) -> str:
    org = load_org(root)
    save_org(dataclasses.replace(org, **fields), root)
    return commit_all(root, message)


def change_agent(root: Path, agent_id: str, message: str, **fields: object) -> str:
    org = load_org(root)
    agent = dataclasses.replace(org.agent(agent_id), **fields)
    save_org(dataclasses.replace(org, agents=tuple(a for a in org.agents if a.id != agent_id) + (agent,)), root)
    return commit_all(root, message)


def edit_org(root: Path, edit) -> None:  # type: ignore[no-untyped-def]
    org: Org = load_org(root)
    save_org(edit(org), root)


def switch(root: Path, branch: str) -> None:
    plain_git(root, "switch", "--quiet", branch)


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file of the work tree (outside .git) with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(root).parts}


def parents(root: Path, rev: str = "HEAD") -> list[str]:
    return plain_git(root, "rev-list", "--parents", "-n", "1", rev).stdout.split()[1:]
