"""Errors of the run engine.

RunError                      root: a run that cannot be started, resumed or read
├── RunLogError               a run log that cannot be read (not a torn tail: that is reported, not raised)
├── RunNotResumable           a finished run, or a log that does not belong to this org
└── ToolError                 a tool call that cannot be done (returned to the agent, never raised out of a run)
"""

from __future__ import annotations

from orgruntime._errors import OrgError


class RunError(OrgError):
    """Root of the errors raised by orgruntime.run."""


class RunLogError(RunError):
    pass


class RunNotResumable(RunError):
    pass


class ToolError(RunError):
    pass
