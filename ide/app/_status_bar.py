"""The status bar: branch, ahead/behind, default model, local engine state, last run's cost, event-loop lag."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from orgruntime import GitError
from orgruntime.vcs import lineage


class IdeStatusBar(QStatusBar):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.branch = self._label("statusBranch", "")
        self.lineage = self._label("statusLineage", "")
        self.model = self._label("statusModel", "")
        self.engine = self._label("statusEngine", "local engine: idle")
        self.cost = self._label("statusCost", "last run: —")

    def _label(self, name: str, text: str) -> QLabel:
        label = QLabel(text, self)
        label.setObjectName(name)
        self.addPermanentWidget(label)
        return label

    def show_repository(self, folder) -> None:
        if folder is None:
            self.branch.setText("")
            self.lineage.setText("")
            return
        try:
            found = lineage(folder)
        except (GitError, OSError):
            self.branch.setText("not a git repository")
            self.lineage.setText("")
            return
        self.branch.setText(f"⎇ {found.branch or 'detached'}")
        self.branch.setToolTip(f"HEAD {found.head or '(no commit yet)'}")
        if found.upstream:
            self.lineage.setText(f"↑{found.ahead} ↓{found.behind} {found.upstream}")
            self.lineage.setToolTip(f"ahead/behind {found.upstream}" + (f" ({found.upstream_url})" if found.upstream_url else ""))
        else:
            self.lineage.setText("")

    def show_model(self, model: str) -> None:
        self.model.setText(f"model: {model}")

    def show_engine(self, state: str) -> None:
        self.engine.setText(f"local engine: {state}")

    def show_last_run(self, status: str, cost_usd: float, tokens: int) -> None:
        self.cost.setText(f"last run: {status}, ${cost_usd:.4f}, {tokens} tokens")
