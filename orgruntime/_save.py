"""Saving an org: write only the files whose meaning changed, and in them only the changed lines."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from orgruntime._channel_lines import PLACEHOLDER, read_channel_line, rewrite_channel_block, split_channel_block
from orgruntime._emit import (
    agent_file_text,
    agent_front_matter_data,
    agent_front_matter_text,
    layout_text,
    org_yaml_data,
    org_yaml_text,
)
from orgruntime._errors import OrgSaveError
from orgruntime._files import MAX_AGENT_FILE_BYTES, MAX_ORG_FILE_BYTES, FileProblem, read_org_text, sync_folder, write_files_atomic
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
    texts: dict[str, str | None] = {ORG_FILE: _org_yaml_text(root, org)}
    for agent in org.agents:
        texts[agent_file(agent.id)] = _agent_text(root, agent)
    if _layout_changed(root, org):
        texts[LAYOUT_FILE] = layout_text(org.layout)
    changed = {relative: text for relative, text in texts.items() if text is not None}
    write_files_atomic(root, changed)
    deleted = _delete_removed_agents(root, {agent.id for agent in org.agents})
    if deleted:
        sync_folder(root / AGENTS_DIR)
    return SaveResult(tuple(changed), tuple(deleted))


def _org_yaml_text(root: Path, org: Org) -> str | None:
    """New text for org.yaml, or None when the file already says exactly this."""
    current = read_org_text(root / ORG_FILE, MAX_ORG_FILE_BYTES)
    canonical = org_yaml_text(org)
    if isinstance(current, FileProblem):
        return canonical
    if current == canonical:
        return None
    reader = OrgReader(root)
    fields = reader.read_org_fields()
    if fields is None or reader.blocking:
        return org_yaml_text(org)
    changed = [name for name in _ORG_FIELDS if fields[name] != getattr(org, name)]
    if not changed:
        return None
    split = split_channel_block(current)
    if split is None:
        return update_yaml_text(current, org_yaml_data(org), ORG_KEYS)
    before, block, after = split
    if "channels" in changed:
        block = rewrite_channel_block(block, org.channels, read_channel_line)
    if changed == ["channels"]:
        return before + "".join(block) + after
    # The round-trip writer edits everything else; the channel lines go back where they were.
    updated = update_yaml_text(before + PLACEHOLDER + after, {**org_yaml_data(org), "channels": []}, ORG_KEYS)
    lines = updated.splitlines(keepends=True)
    if PLACEHOLDER not in lines:
        return update_yaml_text(current, org_yaml_data(org), ORG_KEYS)
    index = lines.index(PLACEHOLDER)
    return "".join(lines[:index] + block + lines[index + 1:])


def _agent_text(root: Path, agent: Agent) -> str | None:
    """New text for the agent's file, or None when the file already says exactly this."""
    file = root / agent_file(agent.id)
    current = read_org_text(file, MAX_AGENT_FILE_BYTES)
    canonical = agent_file_text(agent)
    if isinstance(current, FileProblem):
        if current.message != "file not found" and file.is_symlink():
            raise OrgSaveError(f"{agent_file(agent.id)} is a symbolic link; refusing to replace it")
        return canonical
    if current == canonical:
        return None
    on_disk, problems = read_agent_text(agent.id, current)
    if on_disk is None:
        return canonical
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
