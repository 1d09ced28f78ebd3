"""Saving an org: write only the files whose meaning changed, and in them only the changed lines."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from orgruntime._emit import (
    agent_file_text,
    agent_front_matter_data,
    agent_front_matter_text,
    layout_text,
    org_yaml_data,
    org_yaml_text,
)
from orgruntime._errors import OrgSaveError
from orgruntime._files import MAX_AGENT_FILE_BYTES, MAX_ORG_FILE_BYTES, FileProblem, read_org_text, sync_folder, write_atomic
from orgruntime._frontmatter import split_front_matter
from orgruntime._model import Agent, Org, is_agent_id
from orgruntime._read import AGENT_KEYS, AGENTS_DIR, LAYOUT_FILE, ORG_FILE, ORG_KEYS, OrgReader, agent_file, read_agent_text
from orgruntime._roundtrip import update_yaml_text

_ORG_FIELDS = ("name", "entry", "description", "max_concurrency", "defaults", "budget", "channels")


@dataclass(frozen=True)
class SaveResult:
    written: tuple[str, ...]  # relative paths rewritten or created
    deleted: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return bool(self.written or self.deleted)


def save_org(org: Org, path: str | os.PathLike[str]) -> SaveResult:
    """Write `org` into the folder `path`, touching only files whose content must change."""
    root = Path(path)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as problem:
        raise OrgSaveError(f"{root}: cannot create the org folder: {problem.strerror or problem}") from problem
    written: list[str] = []
    deleted: list[str] = []
    if _write_if_changed(root, ORG_FILE, _org_yaml_text(root, org)):
        written.append(ORG_FILE)
    for agent in org.agents:
        if _write_if_changed(root, agent_file(agent.id), _agent_text(root, agent)):
            written.append(agent_file(agent.id))
    deleted.extend(_delete_removed_agents(root, {agent.id for agent in org.agents}))
    if _layout_changed(root, org):
        write_atomic(root / LAYOUT_FILE, layout_text(org.layout))
        written.append(LAYOUT_FILE)
    if written or deleted:
        sync_folder(root)
        sync_folder(root / AGENTS_DIR)
    return SaveResult(tuple(written), tuple(deleted))


def _write_if_changed(root: Path, relative: str, text: str | None) -> bool:
    if text is None:
        return False
    write_atomic(root / relative, text)
    return True


def _org_yaml_text(root: Path, org: Org) -> str | None:
    """New text for org.yaml, or None when the file already says exactly this."""
    current = read_org_text(root / ORG_FILE, MAX_ORG_FILE_BYTES)
    if isinstance(current, FileProblem):
        return org_yaml_text(org)
    reader = OrgReader(root)
    fields = reader.read_org_fields()
    if fields is None or reader.blocking:
        return org_yaml_text(org)
    if all(fields[name] == getattr(org, name) for name in _ORG_FIELDS):
        return None
    return update_yaml_text(current, org_yaml_data(org), ORG_KEYS)


def _agent_text(root: Path, agent: Agent) -> str | None:
    """New text for the agent's file, or None when the file already says exactly this."""
    file = root / agent_file(agent.id)
    current = read_org_text(file, MAX_AGENT_FILE_BYTES)
    if isinstance(current, FileProblem):
        if current.message != "file not found" and file.is_symlink():
            raise OrgSaveError(f"{agent_file(agent.id)} is a symbolic link; refusing to replace it")
        return agent_file_text(agent)
    on_disk, problems = read_agent_text(agent.id, current)
    if on_disk is None:
        return agent_file_text(agent)
    if on_disk == agent:
        return None
    parts = split_front_matter(current)
    assert not isinstance(parts, FileProblem)  # read_agent_text accepted it
    lines = current.splitlines(keepends=True)
    front_end = parts.front_matter_line - 1 + len(parts.front_matter.splitlines())
    opening, closing = lines[0], lines[front_end]
    if not closing.endswith("\n"):
        closing += "\n"
    wanted = agent_front_matter_data(agent)
    if not wanted:
        front = ""
    elif not parts.front_matter.strip():
        front = agent_front_matter_text(agent)
    else:
        front = update_yaml_text(parts.front_matter, wanted, AGENT_KEYS, flow_keys=("tools", "budget"))
    body = "".join(lines[front_end + 1:]) if on_disk.prompt == agent.prompt else (f"\n{agent.prompt}\n" if agent.prompt else "")
    return opening + front + closing + body


def _delete_removed_agents(root: Path, keep: set[str]) -> list[str]:
    folder = root / AGENTS_DIR
    if not folder.is_dir():
        return []
    deleted = []
    for entry in os.scandir(folder):
        agent_id = entry.name[:-3] if entry.name.endswith(".md") else None
        if agent_id and is_agent_id(agent_id) and agent_id not in keep:
            try:
                os.unlink(entry.path)
            except OSError as problem:
                raise OrgSaveError(f"{AGENTS_DIR}/{entry.name}: cannot delete: {problem.strerror or problem}") from problem
            deleted.append(f"{AGENTS_DIR}/{entry.name}")
    return sorted(deleted)


def _layout_changed(root: Path, org: Org) -> bool:
    file = root / LAYOUT_FILE
    if not file.exists():
        return bool(org.layout.positions)
    reader = OrgReader(root)
    return reader.read_layout() != org.layout or bool(reader.diagnostics)
