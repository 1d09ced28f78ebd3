"""The run engine: run an org headless, with live events, budgets, tools, human seats and a durable log."""

from orgruntime.run._engine import Provenance, RunConfig
from orgruntime.run._runner import RunOutcome, Runner, RunStream
from orgruntime.run._executor import Executor, LocalExecutor, ray_executor
from orgruntime.run._errors import RunError, RunLogError, RunNotResumable, ToolError
from orgruntime.run._events import (
    AgentActivated,
    AgentFailed,
    AgentPlaced,
    BudgetExceeded,
    Event,
    EventFormatError,
    HumanInputRequested,
    LLMCallFinished,
    MessageSent,
    RunFinished,
    RunPaused,
    RunResumed,
    RunStarted,
    TokenDelta,
    ToolCalled,
    ToolReturned,
    event_from_json,
    event_to_json,
    event_to_line,
)
from orgruntime.run._human import NO_HUMAN_ANSWER, FixedAnswers, HumanDesk, HumanResponder, NoHumans
from orgruntime.run._log import EVENTS_FILE, INFO_FILE, WORKSPACE_DIR, LoadedLog, list_runs, load_events, read_info
from orgruntime.run._org_tools import TOOLS_DIR, OrgTool, discover_org_tools, read_org_tool
from orgruntime.run._python_tool import PythonLimits
from orgruntime.run._ray_connect import DRIVER_SETTINGS as RAY_DRIVER_SETTINGS
from orgruntime.run._transcript import render_transcript
from orgruntime.run._workspace import confined_path

__all__ = [
    "EVENTS_FILE",
    "INFO_FILE",
    "NO_HUMAN_ANSWER",
    "TOOLS_DIR",
    "WORKSPACE_DIR",
    "AgentActivated",
    "AgentFailed",
    "AgentPlaced",
    "BudgetExceeded",
    "Event",
    "EventFormatError",
    "Executor",
    "FixedAnswers",
    "HumanDesk",
    "HumanInputRequested",
    "HumanResponder",
    "LLMCallFinished",
    "LoadedLog",
    "LocalExecutor",
    "MessageSent",
    "NoHumans",
    "OrgTool",
    "Provenance",
    "PythonLimits",
    "RunConfig",
    "RunError",
    "RunFinished",
    "RunLogError",
    "RunNotResumable",
    "RunOutcome",
    "RunPaused",
    "RunResumed",
    "RunStarted",
    "RunStream",
    "Runner",
    "TokenDelta",
    "ToolCalled",
    "ToolError",
    "ToolReturned",
    "confined_path",
    "discover_org_tools",
    "event_from_json",
    "event_to_json",
    "event_to_line",
    "list_runs",
    "load_events",
    "read_info",
    "ray_executor",
    "RAY_DRIVER_SETTINGS",
    "read_org_tool",
    "render_transcript",
]
