"""What the git panel reads: change summaries grouped by file, remote-tracking branches."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from orgruntime import Channel, ChannelKind, load_org, save_org
from orgruntime.vcs import diff_revisions, fetch, fork, remote_branches
from tests.orgruntime.vcs.repos import change, org_repo


def test_summary_by_file_names_the_file_each_change_lives_in(tmp_path: Path) -> None:
    root = org_repo(tmp_path / "org")
    org = load_org(root)
    first = org.agents[0]
    edited = dataclasses.replace(first, prompt=first.prompt + "\nOne more line.\nAnd another.", role="Boss")
    extra = Channel(source=org.agents[-1].id, target=first.id, kind=ChannelKind.PEERS)
    save_org(dataclasses.replace(org, name="Renamed org", agents=(edited, *org.agents[1:]),
                                 channels=(*org.channels, extra)), root)
    diff = diff_revisions(root)
    grouped = diff.summary_by_file()
    assert grouped[f"agents/{first.id}.md"] == (f"{first.id}: role, prompt +2 -0 lines",)
    assert grouped["org.yaml"] == (f"new channel {extra.source} -> {first.id} (peers)", "org: name changed")
    assert sorted(line for lines in grouped.values() for line in lines) == sorted(diff.summary())


def test_remote_branches_after_a_fetch(tmp_path: Path) -> None:
    source = org_repo(tmp_path / "source")
    mine = fork(str(source), tmp_path / "mine").path
    assert remote_branches(mine) == ("upstream/main",)
    change(source, "more", name="More")
    from tests.orgruntime.vcs.conftest import plain_git
    plain_git(source, "branch", "feature")
    fetch(mine)
    assert remote_branches(mine) == ("upstream/feature", "upstream/main")
    assert remote_branches(source) == ()
