"""Dark and light themes: the Fusion style, a palette and the stylesheet from resources/styles.

"system" follows the desktop's colour scheme (Qt's style hints), light when it says nothing.
"""

from __future__ import annotations

from importlib.resources import files

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

THEMES = ("system", "light", "dark")

_DARK_COLOURS = {
    QPalette.ColorRole.Window: "#1e2026",
    QPalette.ColorRole.WindowText: "#e8eaf0",
    QPalette.ColorRole.Base: "#16181d",
    QPalette.ColorRole.AlternateBase: "#23262e",
    QPalette.ColorRole.ToolTipBase: "#2b2f38",
    QPalette.ColorRole.ToolTipText: "#e8eaf0",
    QPalette.ColorRole.PlaceholderText: "#7b8290",
    QPalette.ColorRole.Text: "#e8eaf0",
    QPalette.ColorRole.Button: "#2b2f38",
    QPalette.ColorRole.ButtonText: "#e8eaf0",
    QPalette.ColorRole.BrightText: "#ff6b66",
    QPalette.ColorRole.Link: "#6fa3ff",
    QPalette.ColorRole.Highlight: "#3d6fd1",
    QPalette.ColorRole.HighlightedText: "#ffffff",
}
_LIGHT_COLOURS = {
    QPalette.ColorRole.Window: "#f3f4f7",
    QPalette.ColorRole.WindowText: "#1d1f24",
    QPalette.ColorRole.Base: "#ffffff",
    QPalette.ColorRole.AlternateBase: "#f0f2f6",
    QPalette.ColorRole.ToolTipBase: "#ffffff",
    QPalette.ColorRole.ToolTipText: "#1d1f24",
    QPalette.ColorRole.PlaceholderText: "#8a90a0",
    QPalette.ColorRole.Text: "#1d1f24",
    QPalette.ColorRole.Button: "#f7f8fa",
    QPalette.ColorRole.ButtonText: "#1d1f24",
    QPalette.ColorRole.BrightText: "#d0312d",
    QPalette.ColorRole.Link: "#2f6fde",
    QPalette.ColorRole.Highlight: "#2f6fde",
    QPalette.ColorRole.HighlightedText: "#ffffff",
}


def system_prefers_dark(app: QApplication) -> bool:
    return app.styleHints().colorScheme() == Qt.ColorScheme.Dark


def resolve_theme(app: QApplication, theme: str) -> str:
    """'light' or 'dark' for a theme setting ('system', 'light' or 'dark'; anything else: 'system')."""
    if theme in ("light", "dark"):
        return theme
    return "dark" if system_prefers_dark(app) else "light"


def stylesheet(resolved: str) -> str:
    return (files("resources") / "styles" / f"{resolved}.qss").read_text(encoding="utf-8")


def make_palette(resolved: str) -> QPalette:
    palette = QPalette()
    for role, colour in (_DARK_COLOURS if resolved == "dark" else _LIGHT_COLOURS).items():
        palette.setColor(role, QColor(colour))
    disabled = QColor("#6b7280") if resolved == "dark" else QColor("#a0a6b2")
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return palette


def apply_theme(app: QApplication, theme: str) -> str:
    """Style the whole application; returns the theme applied ('light' or 'dark')."""
    resolved = resolve_theme(app, theme)
    app.setStyle("Fusion")
    app.setPalette(make_palette(resolved))
    app.setStyleSheet(stylesheet(resolved))
    return resolved
