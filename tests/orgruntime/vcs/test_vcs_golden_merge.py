"""The golden merge cases in tests/golden/merge (see build_cases.py there for what each one means)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from orgruntime import load_org, save_org
from orgruntime.vcs import merge_orgs

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "merge"
CASES = sorted(folder.name for folder in GOLDEN.iterdir() if (folder / "case.json").exists())
CONFLICT_KINDS = {"field", "text", "delete-modify", "delete-use", "add-add", "rename-rename"}


def test_there_are_enough_cases_and_every_conflict_kind_is_covered() -> None:
    kinds = {c["kind"] for name in CASES for c in json.loads((GOLDEN / name / "case.json").read_text())["conflicts"]}
    clean = [name for name in CASES if not json.loads((GOLDEN / name / "case.json").read_text())["conflicts"]]
    assert len(CASES) >= 30 and kinds == CONFLICT_KINDS and len(clean) >= 20


@pytest.mark.parametrize("name", CASES)
def test_golden_merge(name: str) -> None:
    folder = GOLDEN / name
    expected_conflicts = json.loads((folder / "case.json").read_text())["conflicts"]
    base, ours, theirs, expected = (load_org(folder / side) for side in ("base", "ours", "theirs", "expected"))
    result = merge_orgs(base, ours, theirs)
    assert result.org == expected
    assert [{"id": c.id, "kind": str(c.kind)} for c in result.conflicts] == expected_conflicts
    assert result.clean == (not expected_conflicts)


@pytest.mark.parametrize("name", CASES)
def test_golden_merge_saved_over_ours_reloads_as_expected(name: str, tmp_path: Path) -> None:
    folder = GOLDEN / name
    work = tmp_path / "work"
    shutil.copytree(folder / "ours", work)
    result = merge_orgs(*(load_org(folder / side) for side in ("base", "ours", "theirs")))
    save_org(result.org, work)
    assert load_org(work) == load_org(folder / "expected")


@pytest.mark.parametrize("name", CASES[:12])
def test_orgs_read_from_bytes_equal_orgs_loaded_from_folders(name: str) -> None:
    from orgruntime.vcs._snapshot import org_from_files

    for side in ("base", "ours", "theirs", "expected"):
        folder = GOLDEN / name / side
        files = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
        assert org_from_files(files) == load_org(folder)


def test_a_broken_agent_file_does_not_load_from_bytes() -> None:
    from orgruntime import OrgLoadError
    from orgruntime.vcs._snapshot import org_from_files

    folder = GOLDEN / "identical-changes" / "base"
    files = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    for broken in (b"---\nname: [unclosed\n---\nx\n", b"---\ntools: 3\n---\n", b"bin\x00ary"):
        with pytest.raises(OrgLoadError):
            org_from_files({**files, "agents/ceo.md": broken})
