"""orgruntime: the headless core of orgide (org model, files, validation, graph queries, edits).

Never imports Qt; fully usable from the CLI and tests.
"""

from orgruntime._diagnostics import Diagnostic, Severity, has_errors
from orgruntime._edits import (
    AddAgent,
    AddChannel,
    Edit,
    EditBatch,
    MoveNodes,
    RemoveAgent,
    RemoveChannel,
    RenameAgent,
    ReplaceChannel,
    SetAgentField,
    SetOrgField,
    apply,
    apply_with_inverse,
    describe,
    inverse,
)
from orgruntime._errors import EditError, GitError, OrgError, OrgLoadError, OrgSaveError, TemplateError
from orgruntime._graph import contacts, cycles, hierarchy_layers, may_message, reachable_from_entry, unreachable_agents
from orgruntime._load import load_org
from orgruntime._model import (
    AGENT_ID_PATTERN,
    BUILTIN_TOOLS,
    Agent,
    AgentKind,
    Budget,
    Channel,
    ChannelKind,
    Layout,
    ModelDefaults,
    Org,
    Point,
    is_agent_id,
)
from orgruntime._read import AGENTS_DIR, LAYOUT_FILE, ORG_FILE, agent_file
from orgruntime._save import SaveResult, save_org
from orgruntime._templates import DEFAULT_TEMPLATE, TemplateInfo, create_org, list_templates, template_names
from orgruntime._trust import TrustEntry, TrustStore, default_trust_file, origin_of
from orgruntime._validate import check_org, validate_org

__all__ = [
    "AddAgent",
    "AddChannel",
    "Edit",
    "EditBatch",
    "MoveNodes",
    "RemoveAgent",
    "RemoveChannel",
    "RenameAgent",
    "ReplaceChannel",
    "SetAgentField",
    "SetOrgField",
    "apply",
    "apply_with_inverse",
    "describe",
    "inverse",
    "AGENTS_DIR",
    "AGENT_ID_PATTERN",
    "BUILTIN_TOOLS",
    "DEFAULT_TEMPLATE",
    "TemplateInfo",
    "TrustEntry",
    "TrustStore",
    "default_trust_file",
    "origin_of",
    "create_org",
    "list_templates",
    "template_names",
    "LAYOUT_FILE",
    "ORG_FILE",
    "Agent",
    "AgentKind",
    "Budget",
    "Channel",
    "ChannelKind",
    "Diagnostic",
    "EditError",
    "GitError",
    "Layout",
    "ModelDefaults",
    "Org",
    "OrgError",
    "OrgLoadError",
    "OrgSaveError",
    "Point",
    "SaveResult",
    "Severity",
    "TemplateError",
    "agent_file",
    "check_org",
    "contacts",
    "cycles",
    "has_errors",
    "hierarchy_layers",
    "is_agent_id",
    "load_org",
    "may_message",
    "reachable_from_entry",
    "save_org",
    "unreachable_agents",
    "validate_org",
]
