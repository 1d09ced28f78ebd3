"""Version control at scale: semantic diff and three-way merge of 1,000-agent orgs, a merge in a real
repository against git's own (textual) merge, and the status refresh of a 1,000-commit repository.

Prints medians of several runs. Targets (issue 7): diff of two 1,000-agent orgs under 100 ms,
three-way merge under 300 ms, the status refresh (branch, HEAD, ahead/behind, dirty files) on a
repository with 1,000 commits under 200 ms. Peers, measured in the same run: `git diff` and
`git merge-tree --write-tree` on the same commits, and `git status` alone.

    python bench/bench_vcs.py [--agents 1000] [--commits 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orgruntime import Agent, Budget, Channel, ChannelKind, Layout, Org, Point, save_org  # noqa: E402
from orgruntime.vcs import (  # noqa: E402
    abort_merge,
    commit_all,
    diff_orgs,
    init_repo,
    merge,
    merge_orgs,
    repo_status,
)

GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.invalid",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.invalid"}


def generated_org(agent_count: int, seed: int = 7) -> Org:
    rng = random.Random(seed)
    ids = [f"agent-{index:04d}" for index in range(agent_count)]
    agents = tuple(
        Agent(id=agent_id, name=f"Agent {index}", role=f"Handles area {index % 37}",
              model=rng.choice([None, "openai/gpt-4o-mini", "local/smollm2-135m-instruct"]),
              tools=("read_file", "write_file") if index % 3 == 0 else (),
              budget=Budget(max_steps=10 + index % 5) if index % 4 == 0 else Budget(),
              prompt="\n".join(f"Line {line} of agent {index}: work carefully and report." for line in range(12)))
        for index, agent_id in enumerate(ids))
    channels = tuple(Channel(source=ids[(index - 1) // 3], target=ids[index], kind=ChannelKind.DELEGATES)
                     for index in range(1, agent_count))
    return Org(name="Big Org", entry=ids[0], description="A generated org.\nFor benchmarks.", agents=agents,
               channels=channels, layout=Layout.of({agent_id: Point(float(i % 40) * 80, float(i // 40) * 60)
                                                     for i, agent_id in enumerate(ids)}))


def edited(org: Org, seed: int, *, start: int) -> Org:
    """One side's work: 50 prompts edited (one line each), 20 agents added, 10 removed, 5 renamed, 3 fields."""
    rng = random.Random(seed)
    agents = {agent.id: agent for agent in org.agents}
    ids = sorted(agents)
    for agent_id in ids[start:start + 50]:
        lines = agents[agent_id].prompt.split("\n")
        lines[rng.randrange(len(lines))] = f"Edited by side {seed}."
        agents[agent_id] = dataclasses.replace(agents[agent_id], prompt="\n".join(lines))
    for agent_id in ids[start + 50:start + 53]:
        agents[agent_id] = dataclasses.replace(agents[agent_id], temperature=0.1 * (seed % 7))
    channels = list(org.channels)
    for index in range(20):
        new_id = f"new-{seed}-{index}"
        agents[new_id] = Agent(id=new_id, name=f"New {index}", prompt=f"Added by side {seed}.")
        channels.append(Channel(source=org.entry, target=new_id, kind=ChannelKind.DELEGATES))
    for agent_id in ids[start + 100:start + 110]:
        del agents[agent_id]
        channels = [c for c in channels if not c.touches(agent_id)]
    renames = {agent_id: f"renamed-{agent_id}" for agent_id in ids[start + 120:start + 125]}
    for old, new in renames.items():
        agents[new] = dataclasses.replace(agents.pop(old), id=new)
    channels = [Channel(source=renames.get(c.source, c.source), target=renames.get(c.target, c.target), kind=c.kind)
                for c in channels]
    return dataclasses.replace(org, agents=tuple(agents.values()), channels=tuple(channels))


CPU_MS: dict[str, float] = {}


def median_ms(run: Callable[[], object], repeat: int, label: str = "") -> float:
    """Median wall time; the median CPU time of this process goes to CPU_MS[label] (steadier on a busy machine)."""
    times, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        run()
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    CPU_MS[label] = statistics.median(cpu)
    return statistics.median(times)


def git(root: Path, *args: str, stdin: str | None = None, check: bool = True) -> str:
    return subprocess.run(["git", *args], cwd=root, env=GIT_ENV, input=stdin, capture_output=True, text=True,
                          check=check).stdout


def history_repo(folder: Path, commits: int) -> Path:
    """A repository with `commits` commits on main and a branch 3 behind / 2 ahead, made with fast-import."""
    root = init_repo(folder)
    stream = []
    for index in range(commits):
        content = f"commit {index}\n"
        stream += ["commit refs/heads/main", f"mark :{index + 1}", f"committer b <b@x> {1700000000 + index} +0000",
                   f"data {len(f'c{index}')}", f"c{index}"]
        if index:
            stream.append(f"from :{index}")
        stream += ["M 644 inline notes.txt", f"data {len(content)}", content.rstrip("\n"), ""]
    git(root, "fast-import", "--quiet", stdin="\n".join(stream) + "\n")
    git(root, "checkout", "--quiet", "-f", "main")
    git(root, "branch", "--quiet", "--track", "topic", "main")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--commits", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    base = generated_org(options.agents)
    ours, theirs = edited(base, 1, start=0), edited(base, 2, start=300)
    diff_ms = median_ms(lambda: diff_orgs(base, ours), options.repeat, "diff")
    merge_ms = median_ms(lambda: merge_orgs(base, ours, theirs), options.repeat, "merge")
    result = merge_orgs(base, ours, theirs)
    print(f"orgs: {options.agents} agents, {len(base.channels)} channels; each side edits 50 prompts, adds 20, "
          f"removes 10, renames 5 agents")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"semantic diff (pure):          {diff_ms:8.1f} ms   (target < 100 ms; CPU {CPU_MS['diff']:.1f} ms)")
    print(f"semantic 3-way merge (pure):   {merge_ms:8.1f} ms   (target < 300 ms; CPU {CPU_MS['merge']:.1f} ms)  clean={result.clean}, "
          f"{len(result.renames)} renames followed")
    sys.stdout.flush()

    with tempfile.TemporaryDirectory() as folder:
        root = init_repo(Path(folder) / "org")
        save_org(base, root)
        commit_all(root, "base")
        git(root, "branch", "theirs")
        save_org(ours, root)
        ours_commit = commit_all(root, "ours")
        git(root, "checkout", "--quiet", "theirs")
        save_org(theirs, root)
        theirs_commit = commit_all(root, "theirs")
        git(root, "checkout", "--quiet", "main")
        git_diff_ms = median_ms(lambda: git(root, "diff", "--stat", "main~1", "main"), options.repeat)
        git_merge_ms = median_ms(lambda: git(root, "merge-tree", "--write-tree", ours_commit, theirs_commit, check=False),
                                 options.repeat)
        textual = git(root, "merge-tree", "--write-tree", "--name-only", ours_commit, theirs_commit, check=False)
        textual_conflicts = len([line for line in textual.split("\n\n")[0].splitlines()[1:] if line])

        def repo_merge() -> None:
            outcome = merge(root, "theirs")
            if outcome.commit is None:
                abort_merge(root)
            else:
                git(root, "reset", "--quiet", "--hard", ours_commit)

        repo_ms = median_ms(repo_merge, max(2, options.repeat // 2), "repo")
        print(f"merge in the repository:       {repo_ms:8.1f} ms   (load 3 revisions, merge, save, commit; "
              f"CPU in this process {CPU_MS['repo']:.1f} ms)")
        print(f"  peer git merge-tree (text):  {git_merge_ms:8.1f} ms   ratio {repo_ms / git_merge_ms:5.1f}x; "
              f"git's line merge leaves {textual_conflicts} conflicted file(s), the semantic merge "
              f"{len(result.conflicts)} conflict(s)")
        print(f"  peer git diff --stat:        {git_diff_ms:8.1f} ms")

    with tempfile.TemporaryDirectory() as folder:
        root = history_repo(Path(folder) / "history", options.commits)

        def refresh() -> None:
            repo_status(root)

        refresh_ms = median_ms(refresh, options.repeat)
        status_ms = median_ms(lambda: git(root, "status", "--porcelain"), options.repeat)
        print(f"status refresh, {options.commits} commits: {refresh_ms:8.1f} ms   (target < 200 ms; repo_status: "
              f"branch, HEAD, upstream ahead/behind, changed and staged files, pending merge)")
        print(f"  peer git status --porcelain: {status_ms:8.1f} ms   ratio {refresh_ms / status_ms:5.1f}x")


if __name__ == "__main__":
    main()
