"""The scripted model's script format and the JSON-mode answer reader."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from orgruntime.llm import (
    ActionParseError,
    AssistantTurn,
    ChatRequest,
    ScriptError,
    ToolSpec,
    UserTurn,
    load_script,
    parse_answer,
    stream_chat,
)

TOOLS = (
    ToolSpec(name="send_message", description="d", parameters={"type": "object"}),
    ToolSpec(name="finish", description="f", parameters={"type": "object"}),
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- just a list\n", "mapping from agent ids"),
        ("ceo: {a: 1}\n", "must be a list"),
        ("Bad-Id: []\n", "not an agent id"),
        ("ceo: [[]]\n", "empty list of calls"),
        ("ceo: [{a: 1, b: 2}]\n", "one-key mapping"),
        ("ceo: [{finish: 3}]\n", "one-key mapping"),
        ("_settings: {fast: true}\nceo: []\n", "_settings"),
        ("ceo: [\n", "invalid YAML"),
    ],
)
def test_bad_scripts_are_clear_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(ScriptError, match=message):
        load_script(path)


def test_missing_script_and_unknown_agent(tmp_path: Path) -> None:
    with pytest.raises(ScriptError, match="cannot read"):
        load_script(tmp_path / "missing.yaml")
    path = tmp_path / "s.yaml"
    path.write_text("ceo: [hello, {finish: {result: x}}]\n")
    request = ChatRequest(model=f"scripted/{path}", system="s", turns=(UserTurn("hi"),), tools=TOOLS, agent_id="nobody")
    with pytest.raises(ScriptError, match="no answers for agent 'nobody'"):
        asyncio.run(stream_chat(request, lambda text, attempt: None))


def test_answers_follow_the_conversation_not_a_counter(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("ceo: [first, second]\n")
    first = ChatRequest(model=f"scripted/{path}", system="s", turns=(UserTurn("hi"),), tools=TOOLS, agent_id="ceo")
    again = asyncio.run(stream_chat(first, lambda text, attempt: None))
    assert again.text == "first" and asyncio.run(stream_chat(first, lambda text, attempt: None)).text == "first"
    second = ChatRequest(model=f"scripted/{path}", system="s", turns=(UserTurn("hi"), AssistantTurn("first"), UserTurn("more")), tools=TOOLS, agent_id="ceo")
    assert asyncio.run(stream_chat(second, lambda text, attempt: None)).text == "second"


def test_json_answers_are_read_into_actions() -> None:
    reply, calls = parse_answer('{"reply": "hi", "actions": []}', TOOLS, "j")
    assert (reply, calls) == ("hi", ())
    reply, calls = parse_answer('```json\n{"reply": null, "actions": [{"name": "finish", "arguments": {"result": "r"}}]}\n```', TOOLS, "j")
    assert [(c.id, c.name, c.arguments) for c in calls] == [("j0", "finish", {"result": "r"})]
    reply, calls = parse_answer('Sure! {"reply": "wrapped", "actions": []} Hope this helps.', TOOLS, "j")
    assert (reply, calls) == ("wrapped", ())
    for bad, message in (
        ("not json", "not valid JSON"),
        ('"a string" and then prose', "not valid JSON"),
        ("{broken", "not valid JSON"),
        ("[1]", "JSON object"),
        ('{"reply": 3, "actions": []}', "reply must be"),
        ('{"reply": null, "actions": {}}', "actions must be a list"),
        ('{"reply": null, "actions": [{"name": "rm_rf", "arguments": {}}]}', "unknown action"),
        ('{"reply": null, "actions": [{"name": "finish", "arguments": []}]}', "arguments must be an object"),
        ('{"reply": "", "actions": []}', "neither a reply nor any action"),
    ):
        with pytest.raises(ActionParseError, match=message):
            parse_answer(bad, TOOLS, "j")


@pytest.mark.parametrize("model", ["nosuchprovider/model", "notaprovider/x"])
def test_an_unknown_provider_is_a_clear_rejection(model: str) -> None:
    from orgruntime.llm import LLMRequestRejected

    request = ChatRequest(model=model, system="s", turns=(UserTurn("hi"),), tools=TOOLS, agent_id="ceo")
    with pytest.raises(LLMRequestRejected, match="no model provider"):
        asyncio.run(stream_chat(request, lambda text, attempt: None))
