"""The reply box: shown while a human seat waits for a person; questions are answered oldest first."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from orgruntime.run import HumanInputRequested


class ReplyBox(QWidget):
    """`answered(question_id, text)`; an empty text means nobody answers (the agent is told so)."""

    answered = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("replyBox")
        self._questions: list[HumanInputRequested] = []
        self.question = QLabel(self)
        self.question.setWordWrap(True)
        self.question.setObjectName("replyQuestion")
        self.editor = QPlainTextEdit(self)
        self.editor.setObjectName("replyText")
        self.editor.setPlaceholderText("Your answer, as the person in this seat")
        self.editor.setFixedHeight(64)
        self.send = QPushButton("Send reply", self)
        self.send.setObjectName("sendReply")
        self.decline = QPushButton("Nobody answers", self)
        self.decline.setObjectName("declineReply")
        self.decline.setToolTip("Tell the agent that no person is available")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.decline)
        buttons.addWidget(self.send)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.question)
        layout.addWidget(self.editor)
        layout.addLayout(buttons)
        self.send.clicked.connect(lambda: self._answer(self.editor.toPlainText().strip()))
        self.decline.clicked.connect(lambda: self._answer(""))
        self.hide()

    @property
    def waiting(self) -> tuple[HumanInputRequested, ...]:
        return tuple(self._questions)

    def ask(self, request: HumanInputRequested) -> None:
        if all(q.question_id != request.question_id for q in self._questions):
            self._questions.append(request)
        self._show_first()

    def withdraw(self, question_id: str | None = None) -> None:
        """Forget one question (answered elsewhere) or, with None, all of them (the run ended)."""
        self._questions = [q for q in self._questions if question_id is not None and q.question_id != question_id]
        self._show_first()

    def withdraw_seat(self, agent_id: str) -> None:
        """The seat `agent_id` answered (its message was sent): its oldest question is settled."""
        for question in self._questions:
            if question.agent == agent_id:
                self.withdraw(question.question_id)
                return

    def _answer(self, text: str) -> None:
        if not self._questions:
            return
        question = self._questions.pop(0)
        self.editor.clear()
        self._show_first()
        self.answered.emit(question.question_id, text)

    def _show_first(self) -> None:
        if not self._questions:
            self.hide()
            return
        first = self._questions[0]
        more = f"  ({len(self._questions) - 1} more waiting)" if len(self._questions) > 1 else ""
        self.question.setText(f"<b>{first.agent}</b> (a human seat) is asked by <b>{first.sender}</b>:{more}<br>{_escape(first.question)}")
        self.show()
        self.editor.setFocus()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br>")
