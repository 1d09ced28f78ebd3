"""Markdown highlighting for prompts: headings, emphasis, code, lists, links and {placeholders}."""

from __future__ import annotations

import re

from PySide6.QtGui import QColor, QFont, QSyntaxHighlighter, QTextCharFormat, QTextDocument


def _format(color: str, *, bold: bool = False, italic: bool = False, mono: bool = False) -> QTextCharFormat:
    fmt = QTextCharFormat()
    fmt.setForeground(QColor(color))
    if bold:
        fmt.setFontWeight(QFont.Weight.Bold)
    if italic:
        fmt.setFontItalic(True)
    if mono:
        fmt.setFontFamilies(["monospace"])
    return fmt


_RULES = [
    (re.compile(r"^#{1,6} .*$"), _format("#2f6fde", bold=True)),
    (re.compile(r"^\s*([-*+]|\d+\.) "), _format("#c2410c", bold=True)),
    (re.compile(r"^>.*$"), _format("#6b7280", italic=True)),
    (re.compile(r"\*\*[^*]+\*\*|__[^_]+__"), _format("#1d1f24", bold=True)),
    (re.compile(r"(?<![*\w])\*[^*\s][^*]*\*(?!\*)|(?<![_\w])_[^_\s][^_]*_(?!_)"), _format("#5d6472", italic=True)),
    (re.compile(r"`[^`]+`"), _format("#7c3aed", mono=True)),
    (re.compile(r"\[[^\]]+\]\([^)]+\)"), _format("#1f9d55")),
    (re.compile(r"\{[a-z_][a-z0-9_]*\}"), _format("#b042d6", bold=True)),
]
_FENCE = re.compile(r"^\s*```")
_CODE = _format("#7c3aed", mono=True)
_IN_FENCE = 1


class MarkdownHighlighter(QSyntaxHighlighter):
    def __init__(self, document: QTextDocument) -> None:
        super().__init__(document)

    def highlightBlock(self, text: str) -> None:
        inside = self.previousBlockState() == _IN_FENCE
        if _FENCE.match(text):
            self.setFormat(0, len(text), _CODE)
            self.setCurrentBlockState(0 if inside else _IN_FENCE)
            return
        if inside:
            self.setFormat(0, len(text), _CODE)
            self.setCurrentBlockState(_IN_FENCE)
            return
        self.setCurrentBlockState(0)
        for pattern, fmt in _RULES:
            for match in pattern.finditer(text):
                self.setFormat(match.start(), match.end() - match.start(), fmt)
