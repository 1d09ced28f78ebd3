"""What the panel's buttons do: each flow opens its dialog with `open()`, acts on the repository, reports."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QDialog, QMessageBox

from orgruntime import OrgError
from orgruntime.vcs import (
    ForkResult,
    MergeStateError,
    abort_merge,
    commit_all,
    commit_staged,
    create_branch,
    delete_branch,
    diff_revisions,
    fetch,
    fork,
    list_branches,
    merge,
    org_at_revision,
    pull,
    push,
    remote_branches,
    repo_status,
    stage,
    stash,
    stash_pop,
    switch_branch,
    unstage,
)

from widgets.git._compare_window import CompareWindow
from widgets.git._conflict_resolver import ConflictResolver
from widgets.git._fork_dialog import ForkDialog
from widgets.git._name_dialog import BranchNameDialog
from widgets.git._revision_dialog import CompareDialog, MergeDialog
from widgets.git._uncommitted_dialog import UncommittedWorkDialog

if TYPE_CHECKING:
    from widgets.git._panel import GitPanel


class PanelActions(QObject):
    def __init__(self, panel: GitPanel, merge_driver: Sequence[str] | None) -> None:
        super().__init__(panel)
        self.panel = panel
        self.folder = panel.folder
        self.merge_driver = tuple(merge_driver) if merge_driver is not None else None
        self.dialog: QDialog | None = None  # the dialog opened last (a test or the app can reach it)
        self.resolver: ConflictResolver | None = None
        self.compare_window: CompareWindow | None = None
        panel.changes.stage_requested.connect(self.stage)
        panel.changes.commit_requested.connect(self.commit)
        panel.branches.new_requested.connect(self.new_branch)
        panel.branches.switch_requested.connect(self.switch)
        panel.branches.delete_requested.connect(self.delete)
        panel.branches.pop_stash_requested.connect(self.pop_stash)

    def _attempt(self, work: Callable[[], object], *, files_changed: bool = False, done: str = "") -> bool:
        """Run `work`; a refusal or failure becomes the panel's message. Always refreshes."""
        try:
            work()
        except OrgError as problem:
            self.panel.report(str(problem), error=True)
            self.panel.refresh()
            return False
        if done:
            self.panel.report(done)
        if files_changed:
            self.panel.tree_changed.emit()
        self.panel.refresh()
        return True

    def _open(self, dialog: QDialog, on_accept: Callable[[], None]) -> None:
        self._replace("dialog", dialog)
        dialog.accepted.connect(on_accept)
        dialog.open()

    def _replace(self, name: str, widget: QDialog) -> None:
        """Keep the newest dialog of a kind reachable; the one it replaces (closed by now) is deleted."""
        old = getattr(self, name)
        if old is not None and old is not widget and shiboken6.isValid(old):
            old.close()
            old.deleteLater()
        setattr(self, name, widget)

    # --- changes ---
    def stage(self, paths: list[str], staged: bool) -> None:
        self._attempt(lambda: (stage if staged else unstage)(self.folder, paths))

    def commit(self, message: str) -> None:
        if self._attempt(lambda: commit_staged(self.folder, message)):
            status = self.panel.status
            self.panel.report(f"Committed {status.head[:8] if status and status.head else ''}.")
            self.panel.changes.clear_message()

    # --- branches ---
    def new_branch(self) -> None:
        dialog = BranchNameDialog(list_branches(self.folder), parent=self.panel)
        self._open(dialog, lambda: self._attempt(lambda: create_branch(self.folder, dialog.name),
                                                 done=f"Created branch {dialog.name}."))

    def switch(self, branch: str) -> None:
        self.with_clean_tree(f"switch to {branch}", lambda: self._attempt(
            lambda: switch_branch(self.folder, branch), files_changed=True, done=f"Switched to {branch}."))

    def delete(self, branch: str) -> None:
        try:
            delete_branch(self.folder, branch)
        except MergeStateError as unmerged:
            if "not merged" not in str(unmerged):
                self.panel.report(str(unmerged), error=True)
                return
            box = QMessageBox(QMessageBox.Icon.Warning, "Delete branch",
                              f"{branch} has commits that no other branch holds. Delete it and lose them?",
                              QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self.panel)
            self._open(box, lambda: None)
            box.buttonClicked.connect(lambda button: self._attempt(
                lambda: delete_branch(self.folder, branch, force=True), done=f"Deleted {branch}.")
                if box.standardButton(button) == QMessageBox.StandardButton.Yes else None)
            return
        except OrgError as problem:
            self.panel.report(str(problem), error=True)
            return
        self.panel.report(f"Deleted {branch}.")
        self.panel.refresh()

    def pop_stash(self) -> None:
        self._attempt(lambda: stash_pop(self.folder), files_changed=True, done="Stashed work restored.")

    def with_clean_tree(self, action: str, proceed: Callable[[], None]) -> None:
        """Run `proceed` on a clean tree: with uncommitted work, ask to commit it, stash it, or cancel."""
        try:
            changed = repo_status(self.folder).changed
        except OrgError as problem:
            self.panel.report(str(problem), error=True)
            return
        if not changed:
            proceed()
            return
        dialog = UncommittedWorkDialog(action, changed, self.panel)

        def chosen() -> None:
            if dialog.choice == "commit":
                ok = self._attempt(lambda: commit_all(self.folder, dialog.message))
            else:
                ok = self._attempt(lambda: stash(self.folder, f"orgide: before {action}"), files_changed=True,
                                   done="Your work is stashed; Branches ▸ Restore stashed work brings it back.")
            if ok:
                proceed()

        dialog.rejected.connect(lambda: self.panel.report(f"Cancelled: did not {action}; nothing was changed."))
        self._open(dialog, chosen)

    # --- fork, merge, pull, push ---
    def start_fork(self) -> None:
        dialog = ForkDialog(self.folder, list_branches(self.folder), self.panel)
        self._open(dialog, lambda: self._fork(dialog))

    def _fork(self, dialog: ForkDialog) -> None:
        if dialog.as_branch:
            branch = dialog.branch
            self._attempt(lambda: fork(self.folder, branch=branch, merge_driver=self.merge_driver),
                          done=f"Forked as branch {branch} (tracking the branch it came from).")
            return
        source, dest = dialog.source, dialog.dest

        def done(result: object) -> None:
            assert isinstance(result, ForkResult)
            trust = " (untrusted: its code will not run until you trust it)." if result.untrusted else "."
            self.panel.report(f"Forked {result.source} into {result.path}{trust}")
            self.panel.forked.emit(result.path, result.untrusted)

        self.panel.runner.run(f"Forking {source}", lambda progress: fork(
            source, dest, merge_driver=self.merge_driver, progress=progress), done, self._failed)

    def start_merge(self) -> None:
        status = self.panel.status
        current = status.branch if status else None
        choices = [b for b in list_branches(self.folder) if b != current] + list(remote_branches(self.folder))
        dialog = MergeDialog(choices, current, self.panel)
        self._open(dialog, lambda: self.merge(dialog.ref))

    def merge(self, ref: str) -> None:
        """Merge `ref` on the worker thread (a large org takes seconds to merge and save); conflicts open the resolver."""
        self.with_clean_tree(f"merge {ref}", lambda: self.panel.runner.run(
            f"Merging {ref}", lambda _progress: merge(self.folder, ref), self.panel.after_merge, self._failed))

    def fetch(self) -> None:
        """Fetch the remote the branch's upstream lives on (`upstream/main` -> `upstream`)."""
        upstream = self.panel.status.upstream if self.panel.status else None
        if not upstream or "/" not in upstream:
            self.panel.report("this branch does not track a remote branch", error=True)
            return
        remote = upstream.split("/", 1)[0]
        self.panel.runner.run(f"Fetching {remote}", lambda progress: fetch(self.folder, remote, progress=progress),
                              lambda _result: self.panel.report(f"Fetched {remote}."), self._failed)

    def pull(self) -> None:
        self.with_clean_tree("pull", lambda: self.panel.runner.run(
            "Pulling", lambda progress: pull(self.folder, progress=progress), self.panel.after_merge, self._failed))

    def push(self) -> None:
        self.panel.runner.run("Pushing", lambda progress: push(self.folder, progress=progress),
                              lambda _result: self.panel.report("Pushed."), self._failed)

    def _failed(self, problem: Exception) -> None:
        self.panel.report(str(problem) if isinstance(problem, OrgError) else f"{type(problem).__name__}: {problem}",
                          error=True)

    # --- conflicts ---
    def resolve_conflicts(self) -> None:
        if self.resolver is not None and shiboken6.isValid(self.resolver) and self.resolver.isVisible():
            self.resolver.reload()
            self.resolver.raise_()
            return
        resolver = ConflictResolver(self.folder, self.panel.editor, self.panel)
        resolver.tree_changed.connect(self.panel.tree_changed)
        resolver.tree_changed.connect(self.panel.refresh)
        resolver.committed.connect(lambda sha: self.panel.report(f"Merge committed: {sha[:8]} has both parents."))
        resolver.aborted.connect(lambda: self.panel.report("Merge aborted; the tree is as it was."))
        self._replace("resolver", resolver)
        resolver.open()

    def abort_merge(self) -> None:
        self._attempt(lambda: abort_merge(self.folder), files_changed=True, done="Merge aborted; the tree is as it was.")

    # --- compare ---
    def start_compare(self) -> None:
        branches = list_branches(self.folder)
        choices = ["HEAD", "HEAD~1", *branches, *remote_branches(self.folder)]
        dialog = CompareDialog(list(dict.fromkeys(choices)), self.panel)
        self._open(dialog, lambda: self.compare(dialog.old, dialog.new))

    def compare(self, old: str, new: str | None) -> None:
        """Draw what changed from `old` to `new` (None: the working tree) on a graph."""
        try:
            diff = diff_revisions(self.folder, old, new)
            base = org_at_revision(self.folder, old)
            newer = org_at_revision(self.folder, new) if new is not None else None
        except OrgError as problem:
            self.panel.report(str(problem), error=True)
            return
        summary = "; ".join(diff.summary()) or "no semantic changes"
        if new is None and self.panel.editor is not None:
            self.panel.editor.overlays.show_diff(diff, base=base)
            self.panel.comparing = True
            self.panel.compare_label.setText(f"Comparing {old} with the working tree: {summary}")
            self.panel.compare_bar.show()
            return
        window = CompareWindow(old, new or "working tree", base, newer or org_at_revision(self.folder), diff, self.panel)
        self._replace("compare_window", window)
        window.show()
