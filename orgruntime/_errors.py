"""Errors of the headless core.

OrgError                      root of every error orgruntime raises on purpose
├── OrgLoadError              an org folder that cannot be read into a model (carries the diagnostics)
├── OrgSaveError              an org that cannot be written (nothing on disk is left half-written)
├── EditError                 an edit that does not apply to the org it was given
├── TemplateError             an unknown template, or a destination that is not free
└── GitError                  a git operation refused or failed (through the one git wrapper)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orgruntime._diagnostics import Diagnostic


class OrgError(Exception):
    """Root of the errors raised by orgruntime."""


class OrgLoadError(OrgError):
    def __init__(self, path: str, diagnostics: Sequence[Diagnostic]) -> None:
        self.path = path
        self.diagnostics = tuple(diagnostics)
        lines = "\n".join(str(d) for d in self.diagnostics[:20])
        more = len(self.diagnostics) - 20
        tail = f"\n... and {more} more" if more > 0 else ""
        super().__init__(f"cannot load the org at {path}:\n{lines}{tail}")


class OrgSaveError(OrgError):
    pass


class EditError(OrgError):
    pass


class TemplateError(OrgError):
    pass


class GitError(OrgError):
    pass
