"""Diagnostics: one problem in an org's files, as `FILE:LINE:COL: error: MESSAGE`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, kw_only=True, order=True)
class Diagnostic:
    file: str  # relative to the org folder, with forward slashes
    line: int  # 1-based
    col: int  # 1-based
    severity: Severity
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.severity}: {self.message}"

    @property
    def agent_id(self) -> str | None:
        """The agent whose file the problem is in (None for org.yaml and other files)."""
        if self.file.startswith("agents/") and self.file.endswith(".md"):
            return self.file[len("agents/"):-len(".md")]
        return None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def as_json(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "col": self.col,
                "severity": str(self.severity), "message": self.message}


def error(file: str, line: int, col: int, message: str) -> Diagnostic:
    return Diagnostic(file=file, line=line, col=col, severity=Severity.ERROR, message=message)


def warning(file: str, line: int, col: int, message: str) -> Diagnostic:
    return Diagnostic(file=file, line=line, col=col, severity=Severity.WARNING, message=message)


def has_errors(diagnostics: list[Diagnostic] | tuple[Diagnostic, ...]) -> bool:
    return any(d.is_error for d in diagnostics)
