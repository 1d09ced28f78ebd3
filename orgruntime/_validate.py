"""Semantic validation of an org: every problem at once, each at the place it was written."""

from __future__ import annotations

import math
import os
from pathlib import Path

from orgruntime._diagnostics import Diagnostic, error, warning
from orgruntime._graph import unreachable_agents
from orgruntime._model import BUILTIN_TOOLS, Agent, Budget, ChannelKind, Org
from orgruntime._read import SourceMap, read_org_folder
from orgruntime._text import did_you_mean
from orgruntime._yamlsource import Mark

KNOWN_MODEL_PROVIDERS = frozenset({
    "local", "scripted", "openai", "anthropic", "ollama", "ollama_chat", "gemini", "vertex_ai", "azure",
    "azure_ai", "bedrock", "groq", "mistral", "openrouter", "deepseek", "together_ai", "fireworks_ai",
    "cohere", "huggingface", "hosted_vllm", "lm_studio", "xai", "perplexity", "cerebras", "sambanova",
    "nvidia_nim", "databricks", "watsonx", "replicate", "anyscale", "deepinfra", "litellm_proxy",
})


def validate_org(org: Org, sources: SourceMap | None = None, *, org_tools: tuple[str, ...] | None = None,
                 complete: bool = True) -> tuple[Diagnostic, ...]:
    """Every semantic problem of `org`. With `sources` (from reading its files) each points at its line.
    `complete=False` says parts of the org could not be read, so reachability is not judged."""
    checker = _Checker(org, sources or SourceMap(), org_tools if org_tools is not None else (sources.org_tools if sources else ()))
    checker.complete = complete
    checker.run()
    return tuple(sorted(checker.problems))


def check_org(path: str | os.PathLike[str]) -> tuple[Org | None, tuple[Diagnostic, ...]]:
    """Read the org folder and validate it: (the org if it could be loaded, every problem found)."""
    result = read_org_folder(Path(path))
    problems = list(result.diagnostics)
    if result.partial is not None:
        problems.extend(validate_org(result.partial, result.sources, complete=result.org is not None))
    return result.org, tuple(sorted(set(problems)))


class _Checker:
    def __init__(self, org: Org, sources: SourceMap, org_tools: tuple[str, ...]) -> None:
        self.org = org
        self.sources = sources
        self.org_tools = org_tools
        self.problems: list[Diagnostic] = []
        self.complete = True

    def _error(self, where: tuple[str, Mark], message: str) -> None:
        file, mark = where
        self.problems.append(error(file, mark.line, mark.col, message))

    def _warn(self, where: tuple[str, Mark], message: str) -> None:
        file, mark = where
        self.problems.append(warning(file, mark.line, mark.col, message))

    def run(self) -> None:
        self._org_fields()
        self._channels()
        for agent in self.org.agents:
            self._agent(agent)
        if not self.org.agents:
            self._error(self.sources.org_value(), "the org has no agents: add a file agents/<id>.md")
        elif self.complete and self.org.has_agent(self.org.entry):
            for agent_id in unreachable_agents(self.org):
                self._warn(self.sources.agent_key(agent_id), f"agent '{agent_id}' cannot be reached from the entry agent '{self.org.entry}' along any channel")

    def _org_fields(self) -> None:
        org, sources = self.org, self.sources
        if not org.name.strip():
            self._required(sources.org_value("name"), "name")
        if not org.entry:
            self._required(sources.org_value("entry"), "entry")
        elif not org.has_agent(org.entry):
            self._error(sources.org_value("entry"), f"entry: unknown agent '{org.entry}'{did_you_mean(org.entry, org.agent_ids)}")
        elif org.agent(org.entry).is_human:
            self._warn(sources.org_value("entry"), f"entry: '{org.entry}' is a human seat; the task will wait for a person")
        if org.max_concurrency is not None and org.max_concurrency < 1:
            self._error(sources.org_value("max_concurrency"), "max_concurrency must be at least 1")
        defaults = org.defaults
        self._model(defaults.model, sources.org_value("defaults", "model"))
        self._temperature(defaults.temperature, sources.org_value("defaults", "temperature"))
        self._max_tokens(defaults.max_tokens, sources.org_value("defaults", "max_tokens"))
        self._budget(org.budget, lambda key: sources.org_value("budget", key))

    def _required(self, where: tuple[str, Mark], key: str) -> None:
        file, _ = where
        self._error((file, Mark(1, 1)), f"missing required key '{key}'")

    def _channels(self) -> None:
        org, sources = self.org, self.sources
        first_seen: dict[tuple, int] = {}
        for index, channel in enumerate(org.channels):
            label = f"{channel.source} -> {channel.target} ({channel.kind})"
            for key, agent_id in (("from", channel.source), ("to", channel.target)):
                if not org.has_agent(agent_id):
                    self._error(sources.org_value("channels", index, key), f"channel {label}: unknown agent '{agent_id}'{did_you_mean(agent_id, org.agent_ids)}")
            if channel.source == channel.target:
                self._error(sources.org_value("channels", index), f"channel {label}: an agent cannot have a channel to itself")
            if channel.key in first_seen:
                _, first = sources.org_value("channels", first_seen[channel.key])
                twice = "the same peers channel" if channel.kind is ChannelKind.PEERS else "listed twice"
                self._error(sources.org_value("channels", index), f"duplicate channel {label}: {twice} (first at line {first.line})")
            else:
                first_seen[channel.key] = index

    def _agent(self, agent: Agent) -> None:
        sources = self.sources
        value = lambda *path: sources.agent_value(agent.id, *path)  # noqa: E731
        self._model(agent.model, value("model"))
        self._temperature(agent.temperature, value("temperature"))
        self._max_tokens(agent.max_tokens, value("max_tokens"))
        self._budget(agent.budget, lambda key: value("budget", key))
        known_tools = (*BUILTIN_TOOLS, *self.org_tools)
        for index, tool in enumerate(agent.tools):
            if tool not in known_tools:
                shown = ", ".join(known_tools)
                self._warn(value("tools", index), f"unknown tool '{tool}'{did_you_mean(tool, known_tools)} (known: {shown})")
        if not agent.prompt.strip() and not agent.is_human:
            self._error(sources.agent_body(agent.id), f"agent '{agent.id}' has no prompt: write its system prompt below the front matter")
        if agent.is_human and agent.model:
            self._warn(value("model"), f"agent '{agent.id}' is a human seat; its model is never used")

    def _model(self, model: str | None, where: tuple[str, Mark]) -> None:
        if model is None:
            return
        provider, slash, name = model.partition("/")
        if not model.strip():
            self._error(where, "model must not be empty")
        elif not slash or not name:
            self._warn(where, f"model '{model}' has no provider: write it as provider/name, e.g. openai/gpt-4o-mini or local/smollm2-135m-instruct")
        elif provider not in KNOWN_MODEL_PROVIDERS:
            self._warn(where, f"unknown model provider '{provider}'{did_you_mean(provider, sorted(KNOWN_MODEL_PROVIDERS))}")

    def _temperature(self, value: float | None, where: tuple[str, Mark]) -> None:
        if value is not None and not 0 <= value <= 2:
            self._error(where, f"temperature must be between 0 and 2, not {value}")

    def _max_tokens(self, value: int | None, where: tuple[str, Mark]) -> None:
        if value is not None and value < 1:
            self._error(where, f"max_tokens must be at least 1, not {value}")

    def _budget(self, budget: Budget, where) -> None:
        for key in ("max_steps", "max_tokens"):
            value = getattr(budget, key)
            if value is not None and value < 1:
                self._error(where(key), f"budget.{key} must be at least 1, not {value}")
        for key in ("max_cost_usd", "max_seconds"):
            value = getattr(budget, key)
            if value is not None and (value < 0 or math.isnan(value) or (key == "max_seconds" and value == 0)):
                bound = "greater than 0" if key == "max_seconds" else "0 or more"
                self._error(where(key), f"budget.{key} must be {bound}, not {value}")
