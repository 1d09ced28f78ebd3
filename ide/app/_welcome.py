"""The welcome screen: recent orgs, and a new org from a template (name the folder, press Create)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from orgruntime import DEFAULT_TEMPLATE, list_templates


def free_folder(parent: Path, stem: str) -> Path:
    candidate, number = parent / stem, 2
    while candidate.exists():
        candidate, number = parent / f"{stem}-{number}", number + 1
    return candidate


class WelcomeScreen(QWidget):
    open_requested = Signal(Path)
    create_requested = Signal(str, Path)  # template name, destination folder

    def __init__(self, recent: list[Path], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcome")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        title = QLabel("orgide", self)
        title.setObjectName("welcomeTitle")
        subtitle = QLabel("Design, version and run agentic organisations kept as org code in git.", self)
        self.recent = QListWidget(self)
        self.recent.setObjectName("recentOrgs")
        self.recent.itemActivated.connect(self._open_item)
        open_button = QPushButton("Open folder…", self)
        open_button.setObjectName("openFolder")
        open_button.clicked.connect(self._browse_open)
        self.templates = QListWidget(self)
        self.templates.setObjectName("templates")
        for info in list_templates():
            item = QListWidgetItem(f"{info.title} — {info.description}", self.templates)
            item.setData(Qt.ItemDataRole.UserRole, info.name)
        self.templates.currentItemChanged.connect(lambda *_: self._suggest_destination())
        self.destination = QLineEdit(self)
        self.destination.setObjectName("newOrgFolder")
        self.destination.setPlaceholderText("Folder for the new org")
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse_destination)
        self.create_button = QPushButton("Create", self)
        self.create_button.setObjectName("createOrg")
        self.create_button.clicked.connect(self._create)

        column = QVBoxLayout()
        column.addWidget(title)
        column.addWidget(subtitle)
        column.addWidget(self._section("Recent orgs"))
        column.addWidget(self.recent, 2)
        column.addWidget(open_button, 0, Qt.AlignmentFlag.AlignLeft)
        column.addWidget(self._section("New org from a template"))
        column.addWidget(self.templates, 1)
        row = QHBoxLayout()
        row.addWidget(self.destination, 1)
        row.addWidget(browse)
        row.addWidget(self.create_button)
        column.addLayout(row)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        outer.addLayout(column, 4)
        outer.addStretch(1)
        self.set_recent(recent)
        if self.templates.count() and not self.select_template(DEFAULT_TEMPLATE):
            self.templates.setCurrentRow(0)

    def _section(self, text: str) -> QLabel:
        label = QLabel(text, self)
        label.setObjectName("welcomeSection")
        return label

    def set_recent(self, recent: list[Path]) -> None:
        self.recent.clear()
        for folder in recent:
            item = QListWidgetItem(f"{folder.name}    {folder}", self.recent)
            item.setData(Qt.ItemDataRole.UserRole, str(folder))
            if not (folder / "org.yaml").is_file():
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
                item.setToolTip("This folder no longer holds an org")

    def _open_item(self, item: QListWidgetItem) -> None:
        if item.flags() & Qt.ItemFlag.ItemIsEnabled:
            self.open_requested.emit(Path(item.data(Qt.ItemDataRole.UserRole)))

    def _browse_open(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open an org folder")
        if folder:
            self.open_requested.emit(Path(folder))

    def _browse_destination(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Where to put the new org")
        if folder:
            self.destination.setText(str(free_folder(Path(folder), self._template() or "org")))

    def select_template(self, name: str) -> bool:
        for row in range(self.templates.count()):
            if self.templates.item(row).data(Qt.ItemDataRole.UserRole) == name:
                self.templates.setCurrentRow(row)
                return True
        return False

    def _template(self) -> str | None:
        item = self.templates.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def _suggest_destination(self) -> None:
        template = self._template()
        if template and (not self.destination.text() or not self.destination.isModified()):
            self.destination.setText(str(free_folder(Path.home() / "orgide", template)))

    def _create(self) -> None:
        template, text = self._template(), self.destination.text().strip()
        if template and text:
            self.create_requested.emit(template, Path(text).expanduser())
