"""The run engine: run an org headless, with live events, budgets, tools, human seats and a durable log."""

from orgruntime.run._engine import RunConfig, Runner, RunOutcome, RunStream, Provenance
from orgruntime.run._errors import RunError, RunLogError, RunNotResumable, ToolError
from orgruntime.run._events import (
    AgentActivated,
    AgentFailed,
    BudgetExceeded,
    Event,
    EventFormatError,
    HumanInputRequested,
    LLMCallFinished,
    MessageSent,
    RunFinished,
    RunStarted,
    TokenDelta,
    ToolCalled,
    ToolReturned,
    event_from_json,
    event_to_json,
    event_to_line,
)
from orgruntime.run._human import NO_HUMAN_ANSWER, FixedAnswers, HumanResponder, NoHumans
from orgruntime.run._log import EVENTS_FILE, INFO_FILE, WORKSPACE_DIR, LoadedLog, list_runs, load_events, read_info
from orgruntime.run._python_tool import PythonLimits
from orgruntime.run._transcript import render_transcript
from orgruntime.run._workspace import confined_path

__all__ = [
    "EVENTS_FILE",
    "INFO_FILE",
    "NO_HUMAN_ANSWER",
    "WORKSPACE_DIR",
    "AgentActivated",
    "AgentFailed",
    "BudgetExceeded",
    "Event",
    "EventFormatError",
    "FixedAnswers",
    "HumanInputRequested",
    "HumanResponder",
    "LLMCallFinished",
    "LoadedLog",
    "MessageSent",
    "NoHumans",
    "Provenance",
    "PythonLimits",
    "RunConfig",
    "RunError",
    "RunFinished",
    "RunLogError",
    "RunNotResumable",
    "RunOutcome",
    "RunStarted",
    "RunStream",
    "Runner",
    "TokenDelta",
    "ToolCalled",
    "ToolError",
    "ToolReturned",
    "confined_path",
    "event_from_json",
    "event_to_json",
    "event_to_line",
    "list_runs",
    "load_events",
    "read_info",
    "render_transcript",
]
