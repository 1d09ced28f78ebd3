"""The org as a commit holds it: its files read from git and loaded through the ordinary loader."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

from orgruntime._load import load_org
from orgruntime._model import Org
from orgruntime._read import AGENTS_DIR, LAYOUT_FILE, ORG_FILE
from orgruntime.vcs._repo import list_tree, read_blobs

EMPTY_ORG = Org(name="", entry="")


def is_org_path(path: str) -> bool:
    """org.yaml, agents/<name>.md and the layout: the files whose meaning the semantic merge owns."""
    if path in (ORG_FILE, LAYOUT_FILE):
        return True
    folder, _, name = path.partition("/")
    return folder == AGENTS_DIR and "/" not in name and name.endswith(".md") and not name.startswith(".")


def org_from_files(files: Mapping[str, bytes]) -> Org:
    """Load an org from its files' bytes (paths as in the repository); OrgLoadError if they do not load."""
    with tempfile.TemporaryDirectory(prefix="orgide-snapshot-") as folder:
        root = Path(folder)
        (root / AGENTS_DIR).mkdir()
        for path, data in files.items():
            if is_org_path(path):
                target = root / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        return load_org(root)


def org_files_at(root: Path, commit: str) -> dict[str, bytes]:
    tree = {path: entry for path, entry in list_tree(root, commit).items() if is_org_path(path) and entry.mode.startswith("100")}
    blobs = read_blobs(root, (entry.sha for entry in tree.values()))
    return {path: blobs[entry.sha] for path, entry in tree.items()}


def org_at(root: Path, commit: str) -> Org:
    return org_from_files(org_files_at(root, commit))
