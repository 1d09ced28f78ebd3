"""The git panel's refresh on a repository with 1,000 commits (issue 7: the status refresh under 200 ms).

Measured offscreen on the real `widgets.GitPanel`: `repo_status` alone (one `git status --porcelain=v2
--branch` call), the panel's whole `refresh()` on a clean tree (status, a 200-commit history page with
its lane graph, branches, stashes), and `refresh()` with an edited agent (plus the semantic summary of
the change: the work tree's org from disk diffed with HEAD's, which is read once per commit), and
`refresh()` right after HEAD moved (history page and HEAD's org read again). Peer, same run: the two git
commands the refresh cannot do without (`git status --porcelain=v2 --branch`, `git log -200`).
Prints medians of wall and CPU time (this process) — CPU is steadier on a shared machine.

    QT_QPA_PLATFORM=offscreen python bench/bench_git_panel.py [--commits 1000] [--repeat 9]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication  # noqa: E402

from bench.bench_vcs import git, history_repo  # noqa: E402
from orgruntime import create_org, load_org  # noqa: E402
from orgruntime.vcs import commit_all, repo_status  # noqa: E402
from widgets import GitPanel, OrgDocument  # noqa: E402


def measure(action: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median wall and CPU milliseconds over `repeat` runs (after one warm-up)."""
    action()
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        action()
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return statistics.median(walls), statistics.median(cpus)


def org_history_repo(folder: Path, commits: int) -> Path:
    """`commits` commits, then the startup template org committed on top; branch `topic` tracks main, 2 ahead."""
    root = history_repo(folder / "repo", commits)
    template = create_org(folder / "template", "startup", git=False)
    for item in template.iterdir():
        target = root / item.name
        shutil.copytree(item, target) if item.is_dir() else shutil.copy2(item, target)
    commit_all(root, "the org")
    git(root, "checkout", "--quiet", "-B", "topic", "--track", "main")
    for index in range(2):
        (root / "notes.txt").write_text(f"topic {index}\n")
        commit_all(root, f"topic {index}")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=9)
    options = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as folder:
        root = org_history_repo(Path(folder), options.commits)
        document = OrgDocument(load_org(root))
        wall, cpu = time.perf_counter(), time.process_time()
        panel = GitPanel(root, document)
        panel.show()
        app.processEvents()
        open_ms = ((time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000)
        status = repo_status(root)
        total = int(git(root, "rev-list", "--count", "HEAD").strip())
        print(f"repository: {total} commits; branch {status.branch} tracks {status.upstream}, "
              f"{status.ahead} ahead / {status.behind} behind; history page {len(panel.history.commits)} commits")
        rows = [("repo_status (one git status --porcelain=v2 --branch)", measure(lambda: repo_status(root), options.repeat)),
                ("GitPanel.refresh(), clean tree", measure(panel.refresh, options.repeat))]
        agent = root / "agents" / sorted(p.name for p in (root / "agents").iterdir())[0]
        agent.write_text(agent.read_text() + "\nOne more rule.\n")
        rows.append(("GitPanel.refresh(), one agent edited (+ semantic summary)", measure(panel.refresh, options.repeat)))
        summary = panel.changes.summary_lines()

        def refresh_after_head_moved() -> None:  # the history page and HEAD's org are read again
            panel._page_key = panel._head_org = None
            panel.refresh()

        rows.append(("GitPanel.refresh() after HEAD moved (history page, HEAD's org)",
                     measure(refresh_after_head_moved, options.repeat)))
        rows.append(("GitPanel first open (build + refresh + show)", open_ms))
        peers = [("git status --porcelain=v2 --branch", measure(lambda: git(root, "status", "--porcelain=v2", "--branch"),
                                                                  options.repeat)),
                 ("git log -200 --format=%H %P", measure(lambda: git(root, "log", "-200", "--format=%H %P"), options.repeat))]
        print(f"{'what':62} {'wall ms':>9} {'CPU ms':>9}   (target: refresh < 200 ms)")
        for name, (wall_ms, cpu_ms) in rows:
            print(f"{name:62} {wall_ms:9.1f} {cpu_ms:9.1f}")
        print("peers (the git commands alone, run from Python):")
        for name, (wall_ms, cpu_ms) in peers:
            print(f"  {name:60} {wall_ms:9.1f} {cpu_ms:9.1f}")
        print(f"change list shown: {summary}")
        print(f"load average: {os.getloadavg()[0]:.1f} (2-core machine shared with other jobs)")
        panel.close()


if __name__ == "__main__":
    main()
