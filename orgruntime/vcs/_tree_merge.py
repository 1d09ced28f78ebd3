"""Three-way merge of whole commits: org files semantically, every other file as text (diff3) or whole."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from orgruntime._errors import OrgLoadError
from orgruntime.vcs._conflicts import Conflict, ConflictKind, MergeResult
from orgruntime.vcs._errors import MergeStateError
from orgruntime.vcs._merge import merge_orgs
from orgruntime.vcs._repo import TreeEntry, list_tree, read_blobs
from orgruntime.vcs._snapshot import is_org_path, org_from_files
from orgruntime.vcs._text_merge import merge_text


@dataclass(frozen=True)
class FileWrite:
    data: bytes | None  # None: delete the file
    mode: str = "100644"


@dataclass
class TreeMerge:
    org: MergeResult | None = None  # the semantic org merge, when one was needed and possible
    writes: dict[str, FileWrite] = field(default_factory=dict)  # changes to make over ours' files
    conflicts: list[Conflict] = field(default_factory=list)  # file conflicts (org conflicts are in `org`)

    @property
    def all_conflicts(self) -> tuple[Conflict, ...]:
        return (*(self.org.conflicts if self.org else ()), *self.conflicts)


def merge_commits(root: Path, base: str, ours: str, theirs: str) -> TreeMerge:
    trees = [list_tree(root, commit) for commit in (base, ours, theirs)]
    result = TreeMerge()
    org_paths = {path for tree in trees for path in tree if is_org_path(path)}
    org_sides = [{p: e for p, e in tree.items() if p in org_paths} for tree in trees]
    plain_paths = {path for tree in trees for path in tree} - org_paths
    if org_sides[2] != org_sides[0] and org_sides[1] != org_sides[0] and org_sides[1] != org_sides[2]:
        org = _semantic(root, org_sides)
        if org is not None:
            result.org = org
        else:
            plain_paths |= org_paths
    elif org_sides[1] == org_sides[0]:
        plain_paths |= org_paths  # only theirs changed org code: take their files exactly as written
    changed = [path for path in sorted(plain_paths)
               if not (trees[2].get(path) == trees[0].get(path) or trees[1].get(path) == trees[2].get(path))]
    both = [path for path in changed if trees[1].get(path) != trees[0].get(path)]
    submodules = [path for path in changed if any(path in tree and tree[path].mode == "160000" for tree in trees)]
    if submodules:
        raise MergeStateError(f"cannot merge submodules ({', '.join(submodules)}); merge this one with git itself")
    blobs = read_blobs(root, (tree[path].sha for tree in trees for path in changed if path in tree))
    for path in changed:
        base_entry, ours_entry, theirs_entry = (tree.get(path) for tree in trees)
        if path not in both:
            result.writes[path] = FileWrite(blobs[theirs_entry.sha], theirs_entry.mode) if theirs_entry else FileWrite(None)
            continue
        _merge_file(result, path, base_entry, ours_entry, theirs_entry, blobs)
    return result


def _semantic(root: Path, sides: list[dict[str, TreeEntry]]) -> MergeResult | None:
    blobs = read_blobs(root, (entry.sha for side in sides for entry in side.values()))
    try:
        parsed: dict = {}
        orgs = [org_from_files({path: blobs[entry.sha] for path, entry in side.items()}, parsed) for side in sides]
    except OrgLoadError:
        return None  # some side does not load: its org files are merged as text instead
    return merge_orgs(*orgs)


def _decode(data: bytes | None) -> str | None:
    if data is None or b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _merge_file(result: TreeMerge, path: str, base: TreeEntry | None, ours: TreeEntry | None, theirs: TreeEntry | None,
                blobs: dict[str, bytes]) -> None:
    data = [blobs[entry.sha] if entry else None for entry in (base, ours, theirs)]
    regular = all(entry is None or entry.mode.startswith("100") for entry in (base, ours, theirs))
    texts = [_decode(item) if item is not None else "" for item in data]
    if regular and ours is not None and theirs is not None and all(text is not None for text in texts):
        merged = merge_text(texts[0], texts[1], texts[2])  # type: ignore[arg-type]
        mode = theirs.mode if ours.mode == (base.mode if base else ours.mode) else ours.mode
        if merged.clean:
            result.writes[path] = FileWrite(merged.ours.encode("utf-8"), mode)
            return
        result.writes[path] = FileWrite(merged.marked.encode("utf-8"), mode)
        result.conflicts.append(Conflict(
            id=f"file:{path}", kind=ConflictKind.FILE, field=path, base=texts[0], ours=merged.ours, theirs=merged.theirs,
            marked=merged.marked, message=f"{path}: overlapping edits ({merged.conflicts} hunk{'s' if merged.conflicts > 1 else ''})"))
        return
    keep = ours if ours is not None else theirs  # nothing lost: a deleted-vs-changed file stays, as changed
    if keep is not ours and keep is not None:
        result.writes[path] = FileWrite(data[2], keep.mode)
    what = "deleted on one side and changed on the other" if ours is None or theirs is None else "changed on both sides"
    result.conflicts.append(Conflict(
        id=f"file:{path}", kind=ConflictKind.FILE, field=path, base=data[0], ours=data[1], theirs=data[2],
        message=f"{path}: {what}" + ("" if regular else " (a link or submodule)") +
                ("" if ours is None or theirs is None else " and cannot be merged as text")))
