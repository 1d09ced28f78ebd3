"""Inspector edits reach the model and the canvas at once, and each undoes."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from orgruntime import AgentKind, Budget, Channel, ChannelKind

from widgets import Inspector

pytestmark = pytest.mark.qt


@pytest.fixture
def wired(make_editor, template_org, qtbot):
    org, _ = template_org("startup")
    editor = make_editor(org)
    inspector = Inspector(editor.document)
    qtbot.addWidget(inspector)
    inspector.show()
    editor.selection_changed.connect(inspector.show_selection)
    return editor, inspector


def test_agent_fields_reach_model_and_canvas_and_undo(wired, qtbot):
    editor, inspector = wired
    document = editor.document
    original = document.org
    editor.select_agent("engineer")
    assert inspector.currentWidget() is inspector.agent_page
    assert inspector.agent_name.text() == "Engineer"

    inspector.agent_name.setFocus()
    inspector.agent_name.selectAll()
    QTest.keyClicks(inspector.agent_name, "Builder")
    assert document.org.agent("engineer").name == "Builder"
    assert editor.scene.node("engineer").agent.name == "Builder"
    assert document.undo_stack.count() == 1  # seven key strokes, one undo step

    inspector.agent_model.setCurrentText("openai/gpt-4o-mini")
    inspector.agent_model.lineEdit().editingFinished.emit()
    assert document.org.agent("engineer").model == "openai/gpt-4o-mini"

    inspector.agent_temperature.setText("0.7")
    inspector.agent_temperature.editingFinished.emit()
    assert document.org.agent("engineer").temperature == 0.7
    inspector.agent_temperature.setText("warm")
    inspector.agent_temperature.editingFinished.emit()
    assert document.org.agent("engineer").temperature == 0.7  # bad text changes nothing

    run_python = next(inspector.agent_tools.item(i) for i in range(inspector.agent_tools.count())
                      if inspector.agent_tools.item(i).text() == "run_python")
    run_python.setCheckState(Qt.CheckState.Checked)
    assert "run_python" in document.org.agent("engineer").tools

    inspector.agent_budget.fields["max_steps"].setText("7")
    inspector.agent_budget.fields["max_steps"].editingFinished.emit()
    assert document.org.agent("engineer").budget.max_steps == 7

    inspector.agent_human.click()
    assert document.org.agent("engineer").kind is AgentKind.HUMAN
    assert editor.scene.node("engineer").agent.is_human

    inspector.agent_prompt.setFocus()
    QTest.keyClicks(inspector.agent_prompt, "# Rules")
    assert document.org.agent("engineer").prompt.startswith("# Rules")
    steps = document.undo_stack.count()

    inspector.agent_id_field.setText("builder")
    inspector.agent_id_field.editingFinished.emit()
    assert document.org.has_agent("builder") and not document.org.has_agent("engineer")
    assert editor.scene.node("builder") is not None
    assert inspector.agent_id == "builder"

    for _ in range(steps + 1):
        document.undo_stack.undo()
    assert document.org == original
    assert editor.scene.node("engineer").agent == original.agent("engineer")


def test_org_and_channel_pages(wired):
    editor, inspector = wired
    document = editor.document
    editor.scene.clearSelection()
    assert inspector.currentWidget() is inspector.org_page
    inspector.org_entry.setCurrentText("reviewer")
    inspector.org_entry.activated.emit(inspector.org_entry.currentIndex())
    assert document.org.entry == "reviewer"
    assert editor.scene.node("reviewer").is_entry and not editor.scene.node("ceo").is_entry
    inspector.org_budget.fields["max_cost_usd"].setText("")
    inspector.org_budget.fields["max_cost_usd"].editingFinished.emit()
    assert document.org.budget == Budget(max_steps=40, max_tokens=50000, max_cost_usd=None, max_seconds=900)

    channel = Channel(source="ceo", target="engineer", kind=ChannelKind.DELEGATES)
    editor.select_channel(channel)
    assert inspector.currentWidget() is inspector.channel_page
    inspector.channel_kind.setCurrentText("peers")
    inspector.channel_kind.activated.emit(inspector.channel_kind.currentIndex())
    changed = Channel(source="ceo", target="engineer", kind=ChannelKind.PEERS)
    assert document.org.channels[0] == changed
    assert editor.scene.edge(changed) is not None and editor.scene.edge(channel) is None
    document.undo_stack.undo()
    assert document.org.channels[0] == channel


def test_rejected_rename_keeps_the_agent_and_says_why(wired):
    editor, inspector = wired
    editor.select_agent("engineer")
    inspector.agent_id_field.setText("reviewer")
    inspector.agent_id_field.editingFinished.emit()
    assert editor.document.org.has_agent("engineer")
    assert "already" in inspector.last_error
    assert inspector.agent_id_field.text() == "engineer"


def test_a_pause_in_typing_starts_a_new_undo_step(wired, monkeypatch):
    import widgets._document as document_module

    editor, inspector = wired
    clock = [1000.0]
    monkeypatch.setattr(document_module.time, "monotonic", lambda: clock[0])
    editor.select_agent("engineer")
    for text in ("A", "AB"):
        editor.apply_edit(document_module.SetAgentField("engineer", "role", text))
        clock[0] += 0.5
    clock[0] += document_module.MERGE_WINDOW_S + 1
    editor.apply_edit(document_module.SetAgentField("engineer", "role", "ABC"))
    assert editor.document.undo_stack.count() == 2
    editor.document.undo_stack.undo()
    assert editor.document.org.agent("engineer").role == "AB"


def test_prompt_editor_highlights_markdown(wired):
    editor, inspector = wired
    editor.select_agent("engineer")
    inspector.agent_prompt.setPlainText("# Title\nplain `code` and **bold**\n```\nfenced\n```")
    document = inspector.agent_prompt.document()

    def formats(line: int) -> list:
        return document.findBlockByNumber(line).layout().formats()

    assert formats(0) and formats(0)[0].format.fontWeight() > 400  # the heading is bold
    assert len(formats(1)) == 2  # code and bold, plain text left alone
    assert formats(3) and formats(3)[0].length == len("fenced")
    assert editor.document.org.agent("engineer").prompt.startswith("# Title")
