from __future__ import annotations

from pathlib import Path

import pytest

from orgruntime import GitError
from orgruntime.vcs import (
    NotARepositoryError,
    UnsafeNameError,
    commit_all,
    current_branch,
    dirty_files,
    head_commit,
    init_repo,
    is_dirty,
)
from tests.orgruntime.vcs.conftest import assert_no_markers, make_hostile, plain_git, write


def test_init_commit_head_and_dirtiness(tmp_path: Path) -> None:
    root = init_repo(tmp_path / "org")
    assert head_commit(root) is None and not is_dirty(root) and current_branch(root) == "main"
    write(root, "org.yaml", "name: x\n")
    write(root, "agents/ceo.md", "---\nname: CEO\n---\nHi\n")
    assert dirty_files(root) == ("agents/ceo.md", "org.yaml")
    first = commit_all(root, "first")
    assert head_commit(root) == first and len(first) == 40 and not is_dirty(root)
    assert plain_git(root, "log", "--format=%an <%ae>|%s").stdout.strip().endswith("|first")
    assert commit_all(root, "nothing changed") == first


def test_every_kind_of_uncommitted_work_counts_as_dirty(tmp_path: Path) -> None:
    root = init_repo(tmp_path / "org")
    for name in ("a", "b", "c"):
        write(root, f"{name}.txt", name)
    commit_all(root, "three")
    write(root, "a.txt", "modified")
    (root / "b.txt").unlink()
    write(root, "c.txt", "staged")
    plain_git(root, "add", "c.txt")
    write(root, "new/untracked.txt", "u")
    write(root, ".gitignore", "ignored.txt\n")
    write(root, "ignored.txt", "i")
    assert dirty_files(root) == (".gitignore", "a.txt", "b.txt", "c.txt", "new/untracked.txt")


def test_fallback_identity_only_when_the_user_has_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(name, raising=False)
    root = init_repo(tmp_path / "org")
    write(root, "org.yaml", "name: x\n")
    commit_all(root, "by nobody")
    assert plain_git(root, "log", "-1", "--format=%an <%ae>").stdout.strip() == "orgide <orgide@localhost>"
    plain_git(root, "config", "user.name", "Ada")
    plain_git(root, "config", "user.email", "ada@example.invalid")
    write(root, "org.yaml", "name: y\n")
    commit_all(root, "by Ada")
    assert plain_git(root, "log", "-1", "--format=%an <%ae>").stdout.strip() == "Ada <ada@example.invalid>"


def test_bad_input_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NotARepositoryError):
        is_dirty(tmp_path)
    root = init_repo(tmp_path / "org")
    with pytest.raises(UnsafeNameError):
        commit_all(root, "   ")
    with pytest.raises(UnsafeNameError):
        commit_all(root, "nul\0byte")


def test_init_is_idempotent_and_keeps_history(tmp_path: Path) -> None:
    root = init_repo(tmp_path / "org")
    write(root, "x.txt", "x")
    sha = commit_all(root, "x")
    assert init_repo(root) == root and head_commit(root) == sha


def test_hostile_repository_runs_nothing_during_basic_operations(tmp_path: Path, markers: Path) -> None:
    root = init_repo(tmp_path / "org")
    write(root, "org.yaml", "name: x\n")
    commit_all(root, "first")
    make_hostile(root, markers)
    write(root, "org.yaml", "name: changed\n")
    write(root, "agents/new.md", "---\nname: New\n---\nHello\n")
    assert is_dirty(root) and dirty_files(root) == ("agents/new.md", "org.yaml")
    sha = commit_all(root, "second")
    assert head_commit(root) == sha and current_branch(root) == "main" and not is_dirty(root)
    assert plain_git(root, "--work-tree", str(root), "show", "HEAD:org.yaml").stdout == "name: changed\n"
    assert_no_markers(markers)


def test_the_hostile_setup_does_run_code_under_plain_git(tmp_path: Path, markers: Path) -> None:
    """Guards the test above: the same repository makes plain git leave markers."""
    root = init_repo(tmp_path / "org")
    write(root, "org.yaml", "name: x\n")
    commit_all(root, "first")
    make_hostile(root, markers)
    write(root, "org.yaml", "name: changed\n")
    plain_git(root, "--work-tree", str(root), "add", "org.yaml", check=False)
    plain_git(root, "--work-tree", str(root), "commit", "-m", "plain", check=False)
    left = {p.name for p in markers.iterdir()}
    assert any(name.startswith("filter-") for name in left) and "fsmonitor" in left and any(name.startswith("hookspath-") for name in left)


@pytest.mark.parametrize("name", ["GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR"])
def test_git_variables_of_a_surrounding_git_process_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                name: str) -> None:
    root = init_repo(tmp_path / "org")
    monkeypatch.setenv(name, str(tmp_path / "elsewhere"))
    with pytest.raises(GitError, match=name):
        is_dirty(root)
    monkeypatch.delenv(name)
    monkeypatch.setenv("GIT_WORK_TREE", str(tmp_path / "elsewhere"))
    with pytest.raises(GitError, match="GIT_WORK_TREE"):
        init_repo(tmp_path / "other")
    assert not (tmp_path / "elsewhere").exists() and not is_dirty(root)
