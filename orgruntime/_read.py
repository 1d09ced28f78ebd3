"""Reading an org folder into the model, collecting every problem on the way.

Problems that leave a value impossible to represent (bad YAML, wrong types, unreadable files)
are *blocking*: such an org can be validated but not loaded, so a save can never drop what the
user wrote. Other problems (unknown keys, bad file names) are reported and the org still loads.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from orgruntime._diagnostics import Diagnostic, error, warning
from orgruntime._files import (
    MAX_AGENT_FILE_BYTES,
    MAX_LAYOUT_FILE_BYTES,
    MAX_ORG_FILE_BYTES,
    FileProblem,
    read_org_text,
)
from orgruntime._frontmatter import split_front_matter
from orgruntime._model import (
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
from orgruntime._text import did_you_mean
from orgruntime._typed_values import TypedValues, describe, is_finite_number
from orgruntime._yamlsource import Mark, YamlDocument, YamlProblem, parse_yaml

ORG_FILE = "org.yaml"
AGENTS_DIR = "agents"
TOOLS_DIR = "tools"
LAYOUT_FILE = ".orgide/layout.json"
MAX_AGENT_FILES = 10_000

ORG_KEYS = ("name", "description", "entry", "defaults", "budget", "max_concurrency", "channels")
DEFAULTS_KEYS = ("model", "temperature", "max_tokens")
BUDGET_KEYS = ("max_steps", "max_tokens", "max_cost_usd", "max_seconds")
CHANNEL_KEYS = ("from", "to", "kind")
AGENT_KEYS = ("name", "role", "kind", "model", "temperature", "max_tokens", "tools", "budget")


def agent_file(agent_id: str) -> str:
    return f"{AGENTS_DIR}/{agent_id}.md"


@dataclass
class AgentSource:
    file: str
    document: YamlDocument | None
    body_line: int


@dataclass
class SourceMap:
    """Where each part of a loaded org was written, for diagnostics."""

    org_document: YamlDocument | None = None
    agents: dict[str, AgentSource] = field(default_factory=dict)
    org_tools: tuple[str, ...] = ()

    def org_key(self, *path: object) -> tuple[str, Mark]:
        document = self.org_document
        return ORG_FILE, document.key_mark(path) if document else Mark(1, 1)

    def org_value(self, *path: object) -> tuple[str, Mark]:
        document = self.org_document
        return ORG_FILE, document.value_mark(path) if document else Mark(1, 1)

    def agent_key(self, agent_id: str, *path: object) -> tuple[str, Mark]:
        source = self.agents.get(agent_id)
        if source is None or source.document is None:
            return agent_file(agent_id), Mark(1, 1)
        return source.file, source.document.key_mark(path)

    def agent_value(self, agent_id: str, *path: object) -> tuple[str, Mark]:
        source = self.agents.get(agent_id)
        if source is None or source.document is None:
            return agent_file(agent_id), Mark(1, 1)
        return source.file, source.document.value_mark(path)

    def agent_body(self, agent_id: str) -> tuple[str, Mark]:
        source = self.agents.get(agent_id)
        return (source.file, Mark(source.body_line, 1)) if source else (agent_file(agent_id), Mark(1, 1))


@dataclass(frozen=True)
class ReadResult:
    org: Org | None  # None when a blocking problem prevents building the model
    diagnostics: tuple[Diagnostic, ...]
    blocking: tuple[Diagnostic, ...]
    sources: SourceMap
    # What could be read despite blocking problems (unreadable values left empty, unreadable
    # agents present by id only): enough to validate the rest, never to save.
    partial: Org | None = None


def read_org_folder(root: Path) -> ReadResult:
    return OrgReader(Path(root)).read()


def read_agent_text(agent_id: str, text: str, file: str | None = None) -> tuple[Agent | None, list[Diagnostic]]:
    """Parse one agent file's text (used by the reader and by merge drivers)."""
    reader = OrgReader(Path("."))
    agent = reader.agent_from_text(agent_id, file or agent_file(agent_id), text)
    return agent, reader.diagnostics


class OrgReader:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.diagnostics: list[Diagnostic] = []
        self.blocking: list[Diagnostic] = []
        self.sources = SourceMap()
        self.unreadable_agents: list[str] = []

    def read(self) -> ReadResult:
        if not self.root.is_dir():
            self.block(ORG_FILE, Mark(1, 1), f"{self.root} is not a folder")
            return self._result(None)
        org_fields = self.read_org_fields()
        agents = self._agents()
        self.sources.org_tools = self._org_tools()
        layout = self.read_layout()
        if org_fields is None:
            return self._result(None)
        org = Org(**org_fields, agents=tuple(agents), layout=layout)
        if not self.blocking:
            return self._result(org)
        unreadable = tuple(Agent(id=agent_id, prompt="(unreadable)") for agent_id in self.unreadable_agents)
        return self._result(None, partial=replace(org, agents=(*org.agents, *unreadable)))

    def _result(self, org: Org | None, partial: Org | None = None) -> ReadResult:
        return ReadResult(org, tuple(sorted(self.diagnostics)), tuple(self.blocking), self.sources, partial or org)

    # -- problems

    def block(self, file: str, mark: Mark, message: str) -> None:
        problem = error(file, mark.line, mark.col, message)
        self.diagnostics.append(problem)
        self.blocking.append(problem)

    def _error(self, file: str, mark: Mark, message: str) -> None:
        self.diagnostics.append(error(file, mark.line, mark.col, message))

    def _warn(self, file: str, mark: Mark, message: str) -> None:
        self.diagnostics.append(warning(file, mark.line, mark.col, message))

    # -- org.yaml

    def read_org_fields(self) -> dict | None:
        document = self._yaml_file(ORG_FILE, MAX_ORG_FILE_BYTES)
        if document is None:
            return None
        self.sources.org_document = document
        data = document.data
        if not isinstance(data, dict):
            what = "empty" if data is None else f"{describe(data)}"
            self.block(ORG_FILE, Mark(1, 1), f"org.yaml must be a mapping with name, entry, channels, ...; it is {what}")
            return None
        values = TypedValues(self, ORG_FILE, document)
        self._unknown_keys(ORG_FILE, document, (), data, ORG_KEYS)
        fields: dict = {
            "name": values.string(("name",)) or "",
            "entry": values.string(("entry",)) or "",
            "description": values.string(("description",)) or "",
            "max_concurrency": values.integer(("max_concurrency",)),
            "defaults": self._defaults(values, data),
            "budget": self._budget(values, ("budget",)),
            "channels": self._channels(values, data),
        }
        return fields

    def _defaults(self, values: TypedValues, data: dict) -> ModelDefaults:
        mapping = values.mapping(("defaults",))
        if not mapping:
            return ModelDefaults()
        self._unknown_keys(values.file, values.document, ("defaults",), mapping, DEFAULTS_KEYS)
        return ModelDefaults(
            model=values.string(("defaults", "model")),
            temperature=values.number(("defaults", "temperature")),
            max_tokens=values.integer(("defaults", "max_tokens")),
        )

    def _budget(self, values: TypedValues, path: tuple) -> Budget:
        mapping = values.mapping(path)
        if not mapping:
            return Budget()
        self._unknown_keys(values.file, values.document, path, mapping, BUDGET_KEYS)
        return Budget(
            max_steps=values.integer((*path, "max_steps")),
            max_tokens=values.integer((*path, "max_tokens")),
            max_cost_usd=values.number((*path, "max_cost_usd")),
            max_seconds=values.number((*path, "max_seconds")),
        )

    def _channels(self, values: TypedValues, data: dict) -> tuple[Channel, ...]:
        items = values.sequence(("channels",))
        channels = []
        for index, item in enumerate(items or ()):
            path = ("channels", index)
            if not isinstance(item, dict):
                mark = values.document.value_mark(path)
                self.block(ORG_FILE, mark, f"a channel must be a mapping like {{from: a, to: b, kind: delegates}}, not {describe(item)}")
                continue
            self._unknown_keys(ORG_FILE, values.document, path, item, CHANNEL_KEYS)
            source = values.string((*path, "from"), required=True)
            target = values.string((*path, "to"), required=True)
            kind = values.choice((*path, "kind"), ChannelKind, required=True)
            if source is not None and target is not None and kind is not None:
                channels.append(Channel(source=source, target=target, kind=kind))
        return tuple(channels)

    # -- agents/*.md

    def _agents(self) -> list[Agent]:
        folder = self.root / AGENTS_DIR
        if not folder.is_dir():
            return []
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError as problem:
            self.block(AGENTS_DIR, Mark(1, 1), f"cannot list the agents folder: {problem.strerror or problem}")
            return []
        agents = []
        files = [entry for entry in entries if entry.name.endswith(".md")]
        for entry in entries:
            if not entry.name.endswith(".md") and not entry.name.startswith("."):
                self._warn(f"{AGENTS_DIR}/{entry.name}", Mark(1, 1), "ignored: agent files are named <id>.md")
        if len(files) > MAX_AGENT_FILES:
            self.block(AGENTS_DIR, Mark(1, 1), f"too many agent files ({len(files)}; the limit is {MAX_AGENT_FILES})")
            return []
        for entry in files:
            agent_id = entry.name[: -len(".md")]
            file = f"{AGENTS_DIR}/{entry.name}"
            if not is_agent_id(agent_id):
                self._error(file, Mark(1, 1), f"bad agent id '{agent_id}': ids are lowercase letters, digits, '-' and '_', starting with a letter, at most 64 characters")
                continue
            text = read_org_text(folder / entry.name, MAX_AGENT_FILE_BYTES)
            agent = None
            if isinstance(text, FileProblem):
                self.block(file, Mark(text.line, text.col), f"{entry.name} {text.message}")
            else:
                agent = self.agent_from_text(agent_id, file, text)
            if agent is None:
                self.unreadable_agents.append(agent_id)
            else:
                agents.append(agent)
        return agents

    def agent_from_text(self, agent_id: str, file: str, text: str) -> Agent | None:
        parts = split_front_matter(text)
        if isinstance(parts, FileProblem):
            self.block(file, Mark(parts.line, parts.col), parts.message)
            return None
        try:
            document = parse_yaml(parts.front_matter, first_line=parts.front_matter_line)
        except YamlProblem as problem:
            self.block(file, problem.mark, problem.message)
            return None
        self.sources.agents[agent_id] = AgentSource(file, document, parts.body_line)
        data = document.data if document.data is not None else {}
        if not isinstance(data, dict):
            self.block(file, document.value_mark(()), f"the front matter must be a mapping (name, role, model, ...), not {describe(data)}")
            return None
        self._unknown_keys(file, document, (), data, AGENT_KEYS)
        values = TypedValues(self, file, document)
        tools = values.sequence(("tools",)) or []
        tool_names = []
        for index, tool in enumerate(tools):
            if isinstance(tool, str):
                tool_names.append(tool)
            else:
                self.block(file, document.value_mark(("tools", index)), f"a tool is named by a string, not {describe(tool)}")
        return Agent(
            id=agent_id,
            name=values.string(("name",)) or "",
            role=values.string(("role",)) or "",
            kind=values.choice(("kind",), AgentKind) or AgentKind.LLM,
            model=values.string(("model",)),
            temperature=values.number(("temperature",)),
            max_tokens=values.integer(("max_tokens",)),
            tools=tuple(tool_names),
            budget=self._budget(values, ("budget",)),
            prompt=parts.body,
        )

    # -- tools/ and .orgide/layout.json

    def _org_tools(self) -> tuple[str, ...]:
        folder = self.root / TOOLS_DIR
        if not folder.is_dir():
            return ()
        try:
            return tuple(sorted(entry.name[:-3] for entry in os.scandir(folder) if entry.name.endswith(".py") and not entry.name.startswith("_")))
        except OSError:
            return ()

    def read_layout(self) -> Layout:
        if not (self.root / LAYOUT_FILE).exists() and not (self.root / LAYOUT_FILE).is_symlink():
            return Layout()
        text = read_org_text(self.root / LAYOUT_FILE, MAX_LAYOUT_FILE_BYTES)
        if isinstance(text, FileProblem):
            self._warn(LAYOUT_FILE, Mark(text.line, text.col), f"layout ignored: the file {text.message}")
            return Layout()
        return self._layout_from_text(text)

    def _layout_from_text(self, text: str) -> Layout:
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as problem:
            line, col = (problem.lineno, problem.colno) if isinstance(problem, json.JSONDecodeError) else (1, 1)
            self._warn(LAYOUT_FILE, Mark(line, col), f"layout ignored: not valid JSON ({getattr(problem, 'msg', problem)})")
            return Layout()
        nodes = data.get("nodes") if isinstance(data, dict) else None
        if not isinstance(nodes, dict):
            self._warn(LAYOUT_FILE, Mark(1, 1), 'layout ignored: expected {"version": 1, "nodes": {"<agent id>": {"x": 0, "y": 0}}}')
            return Layout()
        positions = {}
        for agent_id, point in nodes.items():
            x, y = (point.get("x"), point.get("y")) if isinstance(point, dict) else (None, None)
            if is_finite_number(x) and is_finite_number(y) and is_agent_id(agent_id):
                positions[agent_id] = Point(float(x), float(y))
            else:
                self._warn(LAYOUT_FILE, Mark(1, 1), f"layout: ignored the position of '{str(agent_id)[:64]}'")
        return Layout.of(positions)

    # -- shared

    def _yaml_file(self, file: str, limit: int) -> YamlDocument | None:
        text = read_org_text(self.root / file, limit)
        if isinstance(text, FileProblem):
            self.block(file, Mark(text.line, text.col), f"{file} {text.message}")
            return None
        try:
            return parse_yaml(text)
        except YamlProblem as problem:
            self.block(file, problem.mark, problem.message)
            return None

    def _unknown_keys(self, file: str, document: YamlDocument, path: tuple, data: dict, allowed: tuple[str, ...]) -> None:
        for key in data:
            if key in allowed:
                continue
            mark = document.key_mark((*path, key))
            suggestion = did_you_mean(str(key), allowed) or f" (expected one of: {', '.join(allowed)})"
            self._error(file, mark, f"unknown key '{key}'{suggestion}")
