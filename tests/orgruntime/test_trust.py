"""The trust store: per resolved folder and origin, atomic, and unreadable files trust nothing (and are kept)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from orgruntime import TrustStore, create_org, origin_of
from orgruntime.vcs import fork


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "core.hooksPath=/dev/null", *args], cwd=cwd, check=True, capture_output=True)


def test_nothing_is_trusted_until_the_user_says_so(tmp_path: Path) -> None:
    store = TrustStore(tmp_path / "config" / "trust.json")
    org = create_org(tmp_path / "org")
    assert not store.is_trusted(org)
    store.trust(org)
    assert store.is_trusted(org)
    assert TrustStore(tmp_path / "config" / "trust.json").is_trusted(org), "a new store reads the same file"
    assert store.revoke(org) is True
    assert not store.is_trusted(org)
    assert store.revoke(org) is False


def test_trust_follows_the_resolved_folder(tmp_path: Path) -> None:
    store = TrustStore(tmp_path / "trust.json")
    org = create_org(tmp_path / "org")
    (tmp_path / "link").symlink_to(org)
    store.trust(tmp_path / "link")
    assert store.is_trusted(org)
    moved = tmp_path / "moved"
    org.rename(moved)
    assert not store.is_trusted(moved), "a moved folder is another folder"


def test_a_fork_is_untrusted_and_a_repointed_remote_is_untrusted_again(tmp_path: Path) -> None:
    store = TrustStore(tmp_path / "trust.json")
    source = create_org(tmp_path / "source")
    store.trust(source)
    forked = fork(source, tmp_path / "fork")
    assert forked.untrusted
    assert origin_of(forked.path) == str(source)
    assert not store.is_trusted(forked.path)
    store.trust(forked.path)
    assert store.is_trusted(forked.path)
    other = create_org(tmp_path / "elsewhere")
    git(forked.path, "remote", "set-url", "upstream", str(other))
    assert origin_of(forked.path) == str(other)
    assert not store.is_trusted(forked.path), "the same folder pulling from somewhere else is not the org the user trusted"
    assert store.is_trusted(source), "other entries are untouched"


def test_an_unreadable_store_trusts_nothing_and_is_kept_aside(tmp_path: Path) -> None:
    path = tmp_path / "trust.json"
    org = create_org(tmp_path / "org", git=False)
    path.write_text("{not json", encoding="utf-8")
    store = TrustStore(path)
    assert not store.is_trusted(org)
    store.trust(org)
    kept = list(tmp_path.glob("trust.json.unreadable-*"))
    assert len(kept) == 1 and kept[0].read_text() == "{not json"
    assert store.is_trusted(org)
    assert json.loads(path.read_text())["orgs"][0]["folder"] == str(org.resolve())


def test_entries_of_the_wrong_shape_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "trust.json"
    org = create_org(tmp_path / "org", git=False)
    path.write_text(json.dumps({"version": 1, "orgs": [{"folder": 3}, "x", {"folder": str(org.resolve()), "origin": 5}]}))
    assert not TrustStore(path).is_trusted(org)


@given(origins=st.lists(st.one_of(st.none(), st.text(min_size=1, max_size=30)), min_size=1, max_size=6))
def test_only_the_last_decision_per_folder_counts(tmp_path_factory, origins: list[str | None]) -> None:
    folder = tmp_path_factory.mktemp("org")
    store = TrustStore(tmp_path_factory.mktemp("config") / "trust.json")
    for origin in origins:
        store.trust(folder, origin)
    assert store.is_trusted(folder, origins[-1])
    assert len(store.entries()) == 1
    for origin in set(origins) - {origins[-1]}:
        assert not store.is_trusted(folder, origin)
