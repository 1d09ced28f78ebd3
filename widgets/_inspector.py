"""The inspector: edit the org, the selected agent or the selected channel; every change is an undoable edit."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from orgruntime import (
    BUILTIN_TOOLS,
    AgentKind,
    Channel,
    ChannelKind,
    EditError,
    ModelDefaults,
    Org,
    RenameAgent,
    ReplaceChannel,
    SetAgentField,
    SetOrgField,
)

from widgets._document import OrgDocument
from widgets._inspector_fields import BudgetFields, OptionalNumberField
from widgets._markdown_highlighter import MarkdownHighlighter

COMMON_MODELS = (
    "local/smollm2-135m-instruct",
    "openai/gpt-4o-mini",
    "openai/gpt-4o",
    "anthropic/claude-3-5-haiku-latest",
    "anthropic/claude-3-5-sonnet-latest",
    "ollama/llama3.2",
    "ollama/qwen2.5",
)


def _model_combo(models: tuple[str, ...], parent: QWidget) -> QComboBox:
    combo = QComboBox(parent)
    combo.setEditable(True)
    combo.addItem("")
    combo.addItems(list(dict.fromkeys(models)))
    combo.lineEdit().setPlaceholderText("inherit the org default")
    return combo


def _set_combo_text(combo: QComboBox, text: str) -> None:
    if combo.currentText() != text and not combo.lineEdit().hasFocus():
        combo.setCurrentText(text)


def _set_line(field: QLineEdit, text: str) -> None:
    if field.text() != text:
        field.setText(text)


class Inspector(QStackedWidget):
    """Shows the org, one agent or one channel of `document` (call `show_selection`)."""

    def __init__(self, document: OrgDocument, *, models: tuple[str, ...] = COMMON_MODELS,
                 tools: tuple[str, ...] = BUILTIN_TOOLS, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("inspector")
        self.document = document
        self.models = models
        self.tools = tools
        self.agent_id: str | None = None
        self.channel: Channel | None = None
        self.last_error = ""
        self._refreshing = False
        self._build_org_page()
        self._build_agent_page()
        self._build_channel_page()
        self.many_label = QLabel("Several items selected", self)
        self.many_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.addWidget(self.many_label)
        document.changed.connect(self._document_changed)
        self.show_selection("org", None)

    # --- what to show ---
    def show_selection(self, kind: str, value) -> None:
        self.agent_id = value if kind == "agent" else None
        self.channel = value if kind == "channel" else None
        page = {"org": self.org_page, "agent": self.agent_page, "channel": self.channel_page}.get(kind, self.many_label)
        self.setCurrentWidget(page)
        self._refresh()

    def _document_changed(self, _old: Org, _new: Org) -> None:
        self._refresh()

    def _refresh(self) -> None:
        org = self.document.org
        if self.agent_id is not None and not org.has_agent(self.agent_id):
            self.agent_id = None
            self.setCurrentWidget(self.org_page)
        if self.channel is not None and self.channel not in org.channels:
            self.channel = None
            self.setCurrentWidget(self.org_page)
        self._refreshing = True
        try:
            if self.currentWidget() is self.org_page:
                self._fill_org(org)
            elif self.currentWidget() is self.agent_page:
                self._fill_agent(org)
            elif self.currentWidget() is self.channel_page:
                self._fill_channel(org)
        finally:
            self._refreshing = False

    def _edit(self, edit, label: str | None = None) -> bool:
        if self._refreshing:
            return False
        try:
            self.document.edit(edit, label)
        except EditError as problem:
            self.last_error = str(problem)
            self._refresh()
            return False
        self.last_error = ""
        return True

    # --- org page ---
    def _build_org_page(self) -> None:
        self.org_page = QWidget(self)
        form = QFormLayout(self.org_page)
        self.org_name = QLineEdit(self.org_page)
        self.org_description = QPlainTextEdit(self.org_page)
        self.org_description.setMaximumHeight(80)
        self.org_entry = QComboBox(self.org_page)
        self.org_model = _model_combo(self.models, self.org_page)
        self.org_temperature = OptionalNumberField(float, "model's own", self.org_page)
        self.org_max_tokens = OptionalNumberField(int, "model's own", self.org_page)
        self.org_concurrency = OptionalNumberField(int, "engine default", self.org_page)
        self.org_budget = BudgetFields(self.org_page)
        for label, widget in (("Name", self.org_name), ("Description", self.org_description), ("Entry agent", self.org_entry),
                              ("Default model", self.org_model), ("Temperature", self.org_temperature),
                              ("Max tokens", self.org_max_tokens), ("Concurrency", self.org_concurrency),
                              ("Run budget", self.org_budget)):
            form.addRow(label, widget)
        self.org_name.textEdited.connect(lambda text: self._edit(SetOrgField("name", text)))
        self.org_description.textChanged.connect(
            lambda: self._edit(SetOrgField("description", self.org_description.toPlainText())))
        self.org_entry.activated.connect(lambda _i: self._edit(SetOrgField("entry", self.org_entry.currentText())))
        self.org_model.lineEdit().editingFinished.connect(self._org_model_chosen)
        self.org_model.activated.connect(self._org_model_chosen)
        self.org_temperature.committed.connect(lambda value: self._set_defaults(temperature=value))
        self.org_max_tokens.committed.connect(lambda value: self._set_defaults(max_tokens=value))
        self.org_concurrency.committed.connect(lambda value: self._set_org_if_changed("max_concurrency", value))
        self.org_budget.committed.connect(lambda budget: self._edit(SetOrgField("budget", budget)))
        self.addWidget(self.org_page)

    def _org_model_chosen(self, *_args) -> None:
        self._set_defaults(model=self.org_model.currentText().strip() or None)

    def _agent_model_chosen(self, *_args) -> None:
        self._set_agent("model", self.agent_model.currentText().strip() or None)

    def _set_defaults(self, **changes) -> None:
        defaults = self.document.org.defaults
        new = ModelDefaults(**{**{"model": defaults.model, "temperature": defaults.temperature,
                                  "max_tokens": defaults.max_tokens}, **changes})
        if new != defaults:
            self._edit(SetOrgField("defaults", new))

    def _set_org_if_changed(self, name: str, value) -> None:
        if getattr(self.document.org, name) != value:
            self._edit(SetOrgField(name, value))

    def _fill_org(self, org: Org) -> None:
        _set_line(self.org_name, org.name)
        if self.org_description.toPlainText() != org.description:
            self.org_description.setPlainText(org.description)
        if [self.org_entry.itemText(i) for i in range(self.org_entry.count())] != list(org.agent_ids):
            self.org_entry.clear()
            self.org_entry.addItems(list(org.agent_ids))
        self.org_entry.setCurrentText(org.entry)
        _set_combo_text(self.org_model, org.defaults.model or "")
        self.org_temperature.set_value(org.defaults.temperature)
        self.org_max_tokens.set_value(org.defaults.max_tokens)
        self.org_concurrency.set_value(org.max_concurrency)
        self.org_budget.set_budget(org.budget)

    # --- agent page ---
    def _build_agent_page(self) -> None:
        self.agent_page = QScrollArea(self)
        self.agent_page.setWidgetResizable(True)
        body = QWidget()
        layout = QVBoxLayout(body)
        form = QFormLayout()
        layout.addLayout(form)
        self.agent_id_field = QLineEdit(body)
        self.agent_name = QLineEdit(body)
        self.agent_role = QLineEdit(body)
        self.agent_human = QCheckBox("A person answers (human seat)", body)
        self.agent_model = _model_combo(self.models, body)
        self.agent_temperature = OptionalNumberField(float, "org default", body)
        self.agent_max_tokens = OptionalNumberField(int, "org default", body)
        self.agent_tools = QListWidget(body)
        self.agent_tools.setMaximumHeight(110)
        self.agent_budget = BudgetFields(body)
        for label, widget in (("Id", self.agent_id_field), ("Name", self.agent_name), ("Role", self.agent_role),
                              ("", self.agent_human), ("Model", self.agent_model), ("Temperature", self.agent_temperature),
                              ("Max tokens", self.agent_max_tokens), ("Tools", self.agent_tools),
                              ("Budget", self.agent_budget)):
            form.addRow(label, widget)
        layout.addWidget(QLabel("Prompt (Markdown)", body))
        self.agent_prompt = QPlainTextEdit(body)
        self.agent_prompt.setObjectName("promptEditor")
        self.agent_prompt.setMinimumHeight(180)
        self.prompt_highlighter = MarkdownHighlighter(self.agent_prompt.document())
        layout.addWidget(self.agent_prompt, 1)
        self.agent_page.setWidget(body)
        self.agent_id_field.editingFinished.connect(self._rename)
        self.agent_name.textEdited.connect(lambda text: self._set_agent("name", text))
        self.agent_role.textEdited.connect(lambda text: self._set_agent("role", text))
        self.agent_human.clicked.connect(
            lambda checked: self._set_agent("kind", AgentKind.HUMAN if checked else AgentKind.LLM))
        self.agent_model.lineEdit().editingFinished.connect(self._agent_model_chosen)
        self.agent_model.activated.connect(self._agent_model_chosen)
        self.agent_temperature.committed.connect(lambda value: self._set_agent("temperature", value))
        self.agent_max_tokens.committed.connect(lambda value: self._set_agent("max_tokens", value))
        self.agent_tools.itemChanged.connect(lambda _item: self._set_agent("tools", self._checked_tools()))
        self.agent_budget.committed.connect(lambda budget: self._set_agent("budget", budget))
        self.agent_prompt.textChanged.connect(lambda: self._set_agent("prompt", self.agent_prompt.toPlainText()))
        self.addWidget(self.agent_page)

    def _set_agent(self, name: str, value) -> None:
        if self._refreshing or self.agent_id is None:
            return
        current = getattr(self.document.org.agent(self.agent_id), name)
        if name == "prompt" and value.strip("\r\n") == current:
            return  # the model keeps prompts without leading or trailing blank lines
        if current != value:
            self._edit(SetAgentField(self.agent_id, name, value))

    def _rename(self) -> None:
        new_id = self.agent_id_field.text().strip()
        if self.agent_id is None or self._refreshing or new_id == self.agent_id:
            return
        old = self.agent_id
        self.agent_id = new_id
        if not self._edit(RenameAgent(old, new_id)):
            self.agent_id = old
            self._refresh()

    def _checked_tools(self) -> tuple[str, ...]:
        return tuple(self.agent_tools.item(i).text() for i in range(self.agent_tools.count())
                     if self.agent_tools.item(i).checkState() == Qt.CheckState.Checked)

    def _fill_agent(self, org: Org) -> None:
        agent = org.agent(self.agent_id)
        _set_line(self.agent_id_field, agent.id)
        _set_line(self.agent_name, agent.name)
        _set_line(self.agent_role, agent.role)
        self.agent_human.setChecked(agent.is_human)
        _set_combo_text(self.agent_model, agent.model or "")
        self.agent_temperature.set_value(agent.temperature)
        self.agent_max_tokens.set_value(agent.max_tokens)
        names = list(dict.fromkeys((*self.tools, *agent.tools)))
        self.agent_tools.blockSignals(True)
        self.agent_tools.clear()
        for tool in names:
            item = QListWidgetItem(tool)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if tool in agent.tools else Qt.CheckState.Unchecked)
            self.agent_tools.addItem(item)
        self.agent_tools.blockSignals(False)
        self.agent_budget.set_budget(agent.budget)
        if self.agent_prompt.toPlainText().strip("\r\n") != agent.prompt:
            self.agent_prompt.setPlainText(agent.prompt)

    # --- channel page ---
    def _build_channel_page(self) -> None:
        self.channel_page = QWidget(self)
        form = QFormLayout(self.channel_page)
        self.channel_source = QComboBox(self.channel_page)
        self.channel_target = QComboBox(self.channel_page)
        self.channel_kind = QComboBox(self.channel_page)
        self.channel_kind.addItems([str(kind) for kind in ChannelKind])
        for label, widget in (("From", self.channel_source), ("To", self.channel_target), ("Kind", self.channel_kind)):
            form.addRow(label, widget)
        for combo in (self.channel_source, self.channel_target, self.channel_kind):
            combo.activated.connect(lambda _i: self._replace_channel())
        self.addWidget(self.channel_page)

    def _replace_channel(self) -> None:
        if self.channel is None or self._refreshing:
            return
        new = Channel(source=self.channel_source.currentText(), target=self.channel_target.currentText(),
                      kind=ChannelKind(self.channel_kind.currentText()))
        if new != self.channel:
            old = self.channel
            self.channel = new
            if not self._edit(ReplaceChannel(old, new)):
                self.channel = old
                self._refresh()

    def _fill_channel(self, org: Org) -> None:
        for combo, value in ((self.channel_source, self.channel.source), (self.channel_target, self.channel.target)):
            if [combo.itemText(i) for i in range(combo.count())] != list(org.agent_ids):
                combo.clear()
                combo.addItems(list(org.agent_ids))
            combo.setCurrentText(value)
        self.channel_kind.setCurrentText(str(self.channel.kind))
