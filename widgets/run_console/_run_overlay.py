"""The live run on the graph: which agents are thinking, which channel a message travels, spend per agent and,
on a cluster, where each agent runs ("on host:node" under its node, and "ran on host:node" in its tooltip,
kept after the run until the next one). It folds the same events as the console and drives the graph
editor's overlay API; cleared when the run ends."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QFont, QFontMetrics

from orgruntime.run import (
    AgentActivated,
    AgentFailed,
    AgentPlaced,
    Event,
    HumanInputRequested,
    LLMCallFinished,
    MessageSent,
    RunFinished,
    RunStarted,
    TokenDelta,
    ToolCalled,
)

from widgets._geometry import NODE_WIDTH
from widgets._graph_editor import GraphEditor
from widgets._node_item import RunState
from widgets.run_console._totals import Spend, spend_text

MESSAGING = frozenset({"send_message", "finish"})
USER = "user"
LINE_FONT_POINTS = 8  # the node's spend line


class RunOverlay(QObject):
    """`feed(event)` for every event of the run shown on `editor`; `clear()` removes every mark.

    With `keep_after_finish`, the spend stays under the nodes after the run ends (the states still clear)."""

    def __init__(self, editor: GraphEditor, *, keep_after_finish: bool = False) -> None:
        super().__init__(editor)
        self.editor = editor
        self.keep_after_finish = keep_after_finish
        self.states: dict[str, RunState] = {}
        self.spend: dict[str, Spend] = {}
        self.where: dict[str, str] = {}
        font = QFont()
        font.setPointSizeF(LINE_FONT_POINTS)
        self._metrics = QFontMetrics(font)
        self.finished = False
        self._mail: dict[str, int] = {}  # unread messages per idle agent

    def feed(self, event: Event) -> None:
        match event:
            case RunStarted(resumed=False):
                self.clear()
            case RunStarted():
                self.finished = False
            case AgentActivated(agent=agent):
                self._mail.pop(agent, None)
                self._set(agent, RunState.THINKING)
            case TokenDelta(agent=agent) if self.states.get(agent) is not RunState.THINKING:
                self._set(agent, RunState.THINKING)  # called again after a tool result or refusal
            case ToolCalled(agent=agent):
                self._set(agent, RunState.THINKING)
            case LLMCallFinished(agent=agent, tool_calls=calls):
                spend = self.spend.setdefault(agent, Spend())
                spend.steps += 1
                spend.tokens += event.prompt_tokens + event.completion_tokens
                spend.cost_usd += event.cost_usd
                self._show_line(agent)
                if all(call.name in MESSAGING for call in calls):  # the activation ends with this answer
                    self._set(agent, RunState.QUEUED if self._mail.get(agent) else RunState.DONE)
            case MessageSent(sender=sender, recipient=recipient):
                if sender != USER and recipient != USER:
                    self.editor.pulse_channel(sender, recipient)
                if recipient != USER and self.states.get(recipient) is not RunState.THINKING:
                    self._mail[recipient] = self._mail.get(recipient, 0) + 1
                    self._set(recipient, RunState.QUEUED)
                if self.states.get(sender) is RunState.WAITING:
                    self._set(sender, RunState.DONE)  # the person answered
            case HumanInputRequested(agent=agent):
                self._mail.pop(agent, None)
                self._set(agent, RunState.WAITING)
            case AgentFailed(agent=agent):
                self._set(agent, RunState.FAILED)
            case AgentPlaced(agent_id=agent, where=where):
                self.where[agent] = where
                self._show_line(agent)
                self.editor.set_placement(agent, self.tooltip(agent))
            case RunFinished():
                if self.keep_after_finish:
                    for agent_id in list(self.states):
                        self.editor.show_run_state(agent_id, None)
                    self.states, self._mail = {}, {}
                else:
                    where = self.where
                    self.clear()
                    self.where = where  # for the tooltips: where each agent ran
                self.finished = True
                for agent_id in self.where:
                    self.editor.set_placement(agent_id, self.tooltip(agent_id))
            case _:
                pass

    def clear(self) -> None:
        self.editor.clear_run()
        self.states, self.spend, self.where, self._mail = {}, {}, {}, {}
        self.finished = False

    def tooltip(self, agent_id: str) -> str:
        """The line the agent's tooltip gets: "runs on host:node" (or "ran on ..." once the run is over)."""
        where = self.where.get(agent_id)
        return f"{'ran' if self.finished else 'runs'} on {where}" if where else ""

    def line(self, agent_id: str) -> str:
        """What shows under the agent's node: its spend, then where it runs (elided to the node's width)."""
        parts = [spend_text(self.spend[agent_id])] if agent_id in self.spend else []
        if agent_id in self.where:
            parts.append(f"on {self.where[agent_id]}")
        return self._metrics.elidedText(" · ".join(parts), Qt.TextElideMode.ElideMiddle, int(NODE_WIDTH))

    def _show_line(self, agent_id: str) -> None:
        self.editor.set_spend(agent_id, self.line(agent_id))

    def _set(self, agent_id: str, state: RunState) -> None:
        if self.states.get(agent_id) is not state:
            self.states[agent_id] = state
            self.editor.show_run_state(agent_id, state)
