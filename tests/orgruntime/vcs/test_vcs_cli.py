"""`orgide fork | diff | merge | merge-driver` run as a user runs them, and a plain `git merge` through the driver."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from orgruntime import Channel, ChannelKind, load_org
from tests.orgruntime.vcs.conftest import GIT_ENV, plain_git, write
from tests.orgruntime.vcs.repos import change, change_agent, org_repo, parents, snapshot, switch

ROOT = Path(__file__).resolve().parents[3]


def orgide(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **GIT_ENV, "PYTHONPATH": str(ROOT), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    return subprocess.run([sys.executable, "-m", "ide", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


def test_fork_clone_and_branch(tmp_path: Path) -> None:
    source = org_repo(tmp_path / "source")
    cloned = orgide("fork", str(source), str(tmp_path / "mine"), "--json")
    assert cloned.returncode == 0, cloned.stderr
    data = json.loads(cloned.stdout)
    assert data["untrusted"] is True and data["lineage"]["upstream"] == "upstream/main"
    assert plain_git(tmp_path / "mine", "config", "merge.orgide.driver").stdout.strip().endswith("merge-driver %O %A %B %P")
    assert plain_git(tmp_path / "mine", "status", "--porcelain").stdout == ""  # driver routing leaves the tree clean
    branched = orgide("fork", str(source), "--branch", "idea")
    assert branched.returncode == 0 and "made branch idea from main" in branched.stdout


def test_diff_between_revisions_and_the_work_tree(tmp_path: Path) -> None:
    root = org_repo(tmp_path / "org")
    first = plain_git(root, "rev-parse", "HEAD").stdout.strip()
    org = load_org(root)
    change(root, "add a channel", channels=(*org.channels, Channel(source="ceo", target="reviewer", kind=ChannelKind.REVIEWS)))
    change_agent(root, "reviewer", "reviewer prompt", prompt="You review code.\nBe strict.\nBe quick.\nBe kind.")
    (root / "agents" / "engineer.md").unlink()
    result = orgide("diff", str(root), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["agents"]["removed"] == ["engineer"]
    data = json.loads(orgide("diff", str(root), first, "HEAD", "--json").stdout)
    assert data["agents"]["changed"] == {"reviewer": ["prompt"]}
    assert data["channels"]["added"] == [{"from": "ceo", "to": "reviewer", "kind": "reviews"}]
    assert data["agents"]["added"] == [] and data["channels"]["removed"] == [] and data["org"]["changed"] == []
    text = orgide("diff", str(root), first, "HEAD").stdout
    assert "reviewer: prompt +3 -2 lines" in text and "new channel ceo -> reviewer (reviews)" in text


def test_merge_with_conflicts_resolve_and_continue(tmp_path: Path) -> None:
    root = org_repo(tmp_path / "org")
    plain_git(root, "branch", "feature")
    ours = change(root, "ours", name="Tiny Co")
    switch(root, "feature")
    theirs = change(root, "theirs", name="Small Startup")
    switch(root, "main")
    started = orgide("merge", str(root), "feature", "--json")
    assert started.returncode == 1, started.stderr
    data = json.loads(started.stdout)
    assert data["status"] == "conflicts" and data["commit"] is None
    assert [(c["id"], c["ours"], c["theirs"]) for c in data["conflicts"]] == [("org:name", "Tiny Co", "Small Startup")]
    assert orgide("merge", str(root), "--status").returncode == 1
    resolved = orgide("merge", str(root), "--resolve", "org:name=theirs", "--json")
    assert resolved.returncode == 0 and json.loads(resolved.stdout)["status"] == "resolved"
    done = orgide("merge", str(root), "--continue", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "merged" and parents(root) == [ours, theirs]
    assert load_org(root).name == "Small Startup"
    again = json.loads(orgide("merge", str(root), "feature", "--json").stdout)
    assert again["status"] == "up-to-date"


def test_merge_abort_and_bad_usage(tmp_path: Path) -> None:
    root = org_repo(tmp_path / "org")
    plain_git(root, "branch", "feature")
    change(root, "ours", name="Tiny Co")
    switch(root, "feature")
    change(root, "theirs", name="Small Startup")
    switch(root, "main")
    before = snapshot(root)
    assert orgide("merge", str(root), "feature").returncode == 1
    aborted = orgide("merge", str(root), "--abort")
    assert aborted.returncode == 0 and snapshot(root) == before
    assert orgide("merge", str(root), "--abort").returncode == 1  # nothing to abort
    write(root, "README.md", "dirty\n")
    refused = orgide("merge", str(root), "feature")
    assert refused.returncode == 1 and "README.md" in refused.stderr


def test_bad_usage_is_exit_2_and_touches_nothing(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """Usage errors, in-process (the same `main` the subprocess runs; no repository is changed)."""
    from ide.cli import main

    root = org_repo(tmp_path / "org")
    before = snapshot(root)
    for argv in (
        ["fork", str(root)],
        ["fork", "ext::sh -c touch% x", str(tmp_path / "x")],
        ["fork", str(root), "--branch", "-evil"],
        ["diff", str(root), "a", "b", "c"],
        ["diff", str(root), "--output=x"],
        ["merge", str(root)],
        ["merge", str(root), "main", "--abort"],
        ["merge", str(root), "--", "-x"],
        ["merge", str(root), "--resolve", "org:name=mine"],
        ["merge", str(tmp_path), "main"],
        ["merge-driver", "only-one-file"],
    ):
        assert main(argv) == 2, argv
    assert snapshot(root) == before and not (tmp_path / "x").exists()
    assert "orgide" in capsys.readouterr().err


def _two_sided_repo(tmp_path: Path, name: str, *, driver: bool) -> Path:
    source = org_repo(tmp_path / f"{name}-source")
    if driver:
        assert orgide("fork", str(source), str(tmp_path / name)).returncode == 0
        root = tmp_path / name
    else:
        root = source
    plain_git(root, "branch", "feature")
    org = load_org(root)
    change(root, "ours: channel", channels=(*org.channels, Channel(source="ceo", target="reviewer", kind=ChannelKind.REVIEWS)))
    change_agent(root, "engineer", "ours: model", model="openai/gpt-4o")
    switch(root, "feature")
    change(root, "theirs: channel", channels=(*org.channels, Channel(source="reviewer", target="engineer", kind=ChannelKind.REPORTS)))
    change_agent(root, "engineer", "theirs: role", role="Builds everything")
    switch(root, "main")
    return root


def test_plain_git_merge_uses_the_semantic_driver(tmp_path: Path) -> None:
    without = _two_sided_repo(tmp_path, "plain", driver=False)
    assert plain_git(without, "merge", "--no-edit", "feature", check=False).returncode != 0  # git's line merge conflicts
    root = _two_sided_repo(tmp_path, "driven", driver=True)
    merged = plain_git(root, "merge", "--no-edit", "feature", check=False)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert len(parents(root)) == 2 and plain_git(root, "status", "--porcelain").stdout == ""
    org = load_org(root)
    assert {("ceo", "reviewer"), ("reviewer", "engineer")} <= {(c.source, c.target) for c in org.channels}
    assert (org.agent("engineer").model, org.agent("engineer").role) == ("openai/gpt-4o", "Builds everything")


def test_plain_git_merge_leaves_true_conflicts_in_gits_usual_way(tmp_path: Path) -> None:
    source = org_repo(tmp_path / "source")
    assert orgide("fork", str(source), str(tmp_path / "mine")).returncode == 0
    root = tmp_path / "mine"
    plain_git(root, "branch", "feature")
    change(root, "ours", name="Tiny Co")
    switch(root, "feature")
    change(root, "theirs", name="Small Startup")
    switch(root, "main")
    merged = plain_git(root, "merge", "--no-edit", "feature", check=False)
    assert merged.returncode != 0 and "CONFLICT" in merged.stdout
    text = (root / "org.yaml").read_text()
    assert "<<<<<<< ours" in text and "name: Tiny Co" in text and "name: Small Startup" in text
    plain_git(root, "merge", "--abort")
    assert plain_git(root, "status", "--porcelain").stdout == ""


def test_merge_driver_verb_directly(tmp_path: Path) -> None:
    base = write(tmp_path, "base.md", "---\nname: Engineer\nrole: Builds\nmodel: a/b\n---\n\nLine one.\nLine two.\n")
    ours = write(tmp_path, "ours.md", "---\nname: Engineer\nrole: Builds\nmodel: a/c\n---\n\nLine one.\nLine two.\n")
    theirs = write(tmp_path, "theirs.md", "---\nname: Engineer\nrole: Ships\nmodel: a/b\n---\n\nLine one.\nLine two!\n")
    result = orgide("merge-driver", str(base), str(ours), str(theirs), "agents/engineer.md")
    assert result.returncode == 0, result.stderr
    assert ours.read_text() == "---\nname: Engineer\nrole: Ships\nmodel: a/c\n---\n\nLine one.\nLine two!\n"
    write(tmp_path, "ours.md", "---\nname: Engineer\nrole: Builds\nmodel: a/c\n---\n\nLine one.\nLine 2.\n")
    conflicted = orgide("merge-driver", str(base), str(ours), str(theirs), "agents/engineer.md")
    assert conflicted.returncode == 1 and "<<<<<<< ours" in ours.read_text()


def test_merge_driver_merges_layouts_as_a_union(tmp_path: Path) -> None:
    def layout(**nodes: tuple[int, int]) -> str:
        inner = ",\n".join(f'    "{k}": {{"x": {x}, "y": {y}}}' for k, (x, y) in sorted(nodes.items()))
        return '{\n  "nodes": {\n' + inner + '\n  },\n  "version": 1\n}\n'

    base = write(tmp_path, "base.json", layout(ceo=(0, 0), eng=(100, 0)))
    ours = write(tmp_path, "ours.json", layout(ceo=(5, 5), eng=(100, 0)))
    theirs = write(tmp_path, "theirs.json", layout(ceo=(9, 9), eng=(150, 10), qa=(200, 0)))
    result = orgide("merge-driver", str(base), str(ours), str(theirs), ".orgide/layout.json")
    assert result.returncode == 0, result.stderr
    data = json.loads(ours.read_text())["nodes"]
    assert data == {"ceo": {"x": 5, "y": 5}, "eng": {"x": 150, "y": 10}, "qa": {"x": 200, "y": 0}}


def test_edited_resolutions_from_files(tmp_path: Path) -> None:
    root = org_repo(tmp_path / "org")
    plain_git(root, "branch", "feature")
    change(root, "ours", name="Tiny Co")
    change_agent(root, "engineer", "ours: prompt", prompt="You build.\nFast.")
    switch(root, "feature")
    change(root, "theirs", name="Small Startup")
    change_agent(root, "engineer", "theirs: prompt", prompt="You build.\nSafely.")
    switch(root, "main")
    assert orgide("merge", str(root), "feature").returncode == 1
    name = write(tmp_path, "name.txt", "Medium Startup\n")
    prompt = write(tmp_path, "prompt.txt", "You build.\nFast and safely.\n")
    done = orgide("merge", str(root), "--edit", f"org:name={name}", "--edit", f"agent:engineer:prompt={prompt}",
                  "--continue")
    assert done.returncode == 0, done.stderr
    org = load_org(root)
    assert org.name == "Medium Startup" and org.agent("engineer").prompt == "You build.\nFast and safely."
    assert len(parents(root)) == 2
