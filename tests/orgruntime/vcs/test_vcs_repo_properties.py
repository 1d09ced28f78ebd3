"""The merge in a real repository agrees with the pure merge of the same three orgs."""

from __future__ import annotations

import shutil
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orgruntime import load_org, save_org
from orgruntime.vcs import MergeStatus, Side, commit_all, commit_merge, init_repo, merge, merge_orgs, pending_merge, resolve
from tests.orgruntime.vcs.conftest import plain_git
from tests.orgruntime.vcs.org_strategies import edited, orgs


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.data())
def test_repository_merge_equals_the_pure_merge(tmp_path: Path, data: st.DataObject) -> None:
    folder = tmp_path / "case"
    shutil.rmtree(folder, ignore_errors=True)
    base = data.draw(orgs())
    ours, theirs = data.draw(edited(base)), data.draw(edited(base))
    root = init_repo(folder)
    save_org(base, root)
    base_commit = commit_all(root, "base")
    plain_git(root, "branch", "theirs")
    save_org(ours, root)
    commit_all(root, "ours")
    plain_git(root, "switch", "--quiet", "theirs")
    save_org(theirs, root)
    commit_all(root, "theirs")
    plain_git(root, "switch", "--quiet", "main")
    base_org = _org_at(root, base_commit)
    ours_org, theirs_org = load_org(root), _org_at(root, "theirs")
    expected = merge_orgs(base_org, ours_org, theirs_org)
    outcome = merge(root, "theirs")
    if outcome.status is MergeStatus.CONFLICTS:
        assert [c.id for c in outcome.conflicts] == [c.id for c in expected.conflicts]
        for conflict in outcome.conflicts:
            resolve(root, conflict.id, Side.OURS)
            expected = expected.resolve(conflict.id, Side.OURS)
        commit_merge(root)
    assert pending_merge(root) is None
    assert load_org(root) == expected.org


def _org_at(root: Path, rev: str):  # type: ignore[no-untyped-def]
    from orgruntime.vcs import org_at_revision

    return org_at_revision(root, rev)
