"""The org as a commit holds it: its files read from git and loaded through the ordinary loader."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Mapping
from pathlib import Path

from orgruntime._diagnostics import error
from orgruntime._errors import OrgLoadError
from orgruntime._files import MAX_AGENT_FILE_BYTES, FileProblem, decode_utf8
from orgruntime._load import load_org
from orgruntime._model import Agent, Org, is_agent_id
from orgruntime._read import AGENTS_DIR, LAYOUT_FILE, ORG_FILE, OrgReader
from orgruntime.vcs._repo import list_tree, read_blobs

EMPTY_ORG = Org(name="", entry="")


def is_org_path(path: str) -> bool:
    """org.yaml, agents/<name>.md and the layout: the files whose meaning the semantic merge owns."""
    if path in (ORG_FILE, LAYOUT_FILE):
        return True
    folder, _, name = path.partition("/")
    return folder == AGENTS_DIR and "/" not in name and name.endswith(".md") and not name.startswith(".")


def org_from_files(files: Mapping[str, bytes], parsed: dict[tuple[str, bytes], Agent] | None = None) -> Org:
    """Load an org from its files' bytes (paths as in the repository); OrgLoadError if they do not load.

    org.yaml and the layout go through the ordinary loader (from a temporary folder); agent files are
    parsed from memory by the same reader, so a 1,000-agent org costs no 1,000 temporary files.
    `parsed` remembers agents by file and content across calls (three revisions share most files)."""
    with tempfile.TemporaryDirectory(prefix="orgide-snapshot-") as folder:
        root = Path(folder)
        for path in (ORG_FILE, LAYOUT_FILE):
            if path in files:
                target = root / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(files[path])
        org = load_org(root)
    reader = OrgReader(Path("."))
    agents = []
    for path in sorted(files):
        folder_name, _, name = path.partition("/")
        if folder_name != AGENTS_DIR or not is_org_path(path) or not is_agent_id(name[:-3]):
            continue  # the loader skips such files too (reporting them)
        data = files[path]
        known = parsed.get((path, data)) if parsed is not None else None
        if known is not None:
            agents.append(known)
            continue
        text = decode_utf8(data) if len(data) <= MAX_AGENT_FILE_BYTES else FileProblem(1, 1, "is too large")
        if isinstance(text, FileProblem):
            raise OrgLoadError(path, [error(path, text.line, text.col, f"{name} {text.message}")])
        blocked = len(reader.blocking)
        agent = reader.agent_from_text(name[:-3], path, text)
        if agent is not None:
            agents.append(agent)
            if parsed is not None and len(reader.blocking) == blocked:
                parsed[(path, data)] = agent
    if reader.blocking:
        raise OrgLoadError("agents", reader.blocking)
    return dataclasses.replace(org, agents=tuple(agents))


def org_files_at(root: Path, commit: str) -> dict[str, bytes]:
    tree = {path: entry for path, entry in list_tree(root, commit).items() if is_org_path(path) and entry.mode.startswith("100")}
    blobs = read_blobs(root, (entry.sha for entry in tree.values()))
    return {path: blobs[entry.sha] for path, entry in tree.items()}


def org_at(root: Path, commit: str) -> Org:
    return org_from_files(org_files_at(root, commit))
