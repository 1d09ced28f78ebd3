"""The transcript fold (events to cards), the meters' totals, the model's coalescing and the filter,
on hand-made events: retries, refusals, failures, unreadable answers, paused time."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from orgruntime.llm import ToolCall  # noqa: E402
from orgruntime.run import (  # noqa: E402
    AgentFailed,
    BudgetExceeded,
    LLMCallFinished,
    MessageSent,
    RunFinished,
    RunPaused,
    RunResumed,
    RunStarted,
    TokenDelta,
    ToolCalled,
    ToolReturned,
)
from PySide6.QtCore import Qt  # noqa: E402

from widgets.run_console import CardKind, RunTotals, TranscriptFold, TranscriptModel  # noqa: E402

BASE = {"run_id": "r"}


def events_of(*specs):
    return [kind(seq=number, ts=100.0 + number, **BASE, **fields) for number, (kind, fields) in enumerate(specs, start=1)]


def fold(events) -> TranscriptFold:
    result = TranscriptFold()
    for event in events:
        result.apply(event)
    return result


def test_a_retried_stream_starts_afresh_and_its_reply_is_one_card() -> None:
    cards = fold(events_of(
        (RunStarted, {"org_name": "O", "entry": "ceo", "task": "t", "models": {"ceo": "m"}}),
        (MessageSent, {"sender": "user", "recipient": "ceo", "content": "t", "message_id": "m1"}),
        (TokenDelta, {"agent": "ceo", "text": "garbage"}),
        (TokenDelta, {"agent": "ceo", "text": "Forty", "attempt": 2}),
        (TokenDelta, {"agent": "ceo", "text": "-two", "attempt": 2}),
        (LLMCallFinished, {"agent": "ceo", "model": "m", "text": "Forty-two"}),
        (MessageSent, {"sender": "ceo", "recipient": "user", "content": "Forty-two", "message_id": "m2"}),
    )).cards
    assert [(card.kind, card.title, card.text) for card in cards] == [
        (CardKind.STATUS, "run", "started: O"),
        (CardKind.MESSAGE, "user → ceo", "t"),
        (CardKind.RESULT, "ceo → user", "Forty-two"),
    ]


def test_refusals_failures_and_budgets_are_marked_failed() -> None:
    call = ToolCall(id="c1", name="send_message", arguments={"to": "x", "content": "hi"}, raw_arguments="{}")
    cards = fold(events_of(
        (LLMCallFinished, {"agent": "eng", "model": "m", "text": "", "tool_calls": (call,)}),
        (ToolReturned, {"agent": "eng", "call_id": "c1", "name": "send_message", "ok": False, "result": "refused: x is not one of your contacts"}),
        (ToolCalled, {"agent": "eng", "call_id": "c2", "name": "write_file", "arguments": {"path": "a.py", "content": "x" * 500}}),
        (ToolReturned, {"agent": "eng", "call_id": "c2", "name": "write_file", "ok": False, "result": "error: '..' is not allowed"}),
        (TokenDelta, {"agent": "eng", "text": "{not json"}),
        (LLMCallFinished, {"agent": "eng", "model": "m", "text": "{not json", "parse_error": "Expecting value"}),
        (AgentFailed, {"agent": "rev", "error_type": "LLMTimeout", "error": "no answer in 30 s"}),
        (BudgetExceeded, {"scope": "run", "limit": "max_steps", "used": 3, "allowed": 3}),
        (RunFinished, {"status": "budget_exceeded", "error": "run reached max_steps (3 of 3)"}),
    )).cards
    assert all(card.failed for card in cards)
    assert cards[0].kind is CardKind.TOOL and cards[0].text.startswith("send_message ✗ refused")
    assert cards[1].tool == "write_file" and "path='a.py'" in cards[1].text and "result: error" in cards[1].detail
    assert len(cards[1].text) < 200  # a long argument is summarised on the folded line
    assert cards[2].kind is CardKind.ERROR and "Expecting value" in cards[2].text
    assert [card.kind for card in cards[3:]] == [CardKind.ERROR, CardKind.ERROR, CardKind.STATUS]


def test_totals_leave_paused_time_out_and_take_the_finished_figures() -> None:
    totals = RunTotals()
    for event in events_of(
        (RunStarted, {"org_name": "O", "entry": "ceo", "task": "t"}),  # ts 101
        (LLMCallFinished, {"agent": "ceo", "model": "m", "text": "a", "prompt_tokens": 10, "completion_tokens": 5, "cost_usd": 0.25}),
        (RunPaused, {}),  # ts 103
        (RunResumed, {}),  # ts 104
    ):
        totals.apply(event)
    assert (totals.steps, totals.tokens, totals.cost_usd) == (1, 15, 0.25)
    assert totals.elapsed(110.0) == 8.0  # 9 s since the start, 1 s of it paused
    totals.apply(RunPaused(run_id="r", seq=5, ts=111.0))
    assert totals.paused and totals.elapsed(500.0) == 9.0
    totals.apply(RunFinished(run_id="r", seq=6, ts=600.0, status="stopped", steps=1, tokens=15, cost_usd=0.25, elapsed_s=9.0))
    assert not totals.paused and totals.elapsed(900.0) == 9.0 and totals.status == "stopped"


def test_the_model_coalesces_tokens_until_it_flushes_and_the_filter_narrows(qtbot) -> None:
    model = TranscriptModel(flush_ms=10_000)
    inserted = []
    model.rowsInserted.connect(lambda _parent, first, last: inserted.append((first, last)))
    for event in events_of(
        (MessageSent, {"sender": "user", "recipient": "ceo", "content": "task", "message_id": "m1"}),
        *[(TokenDelta, {"agent": "ceo", "text": "word "}) for _ in range(500)],
        (MessageSent, {"sender": "ceo", "recipient": "eng", "content": "Build it", "message_id": "m2"}),
    ):
        model.feed(event)
    assert model.rowCount() == 0  # nothing shown before the flush
    model.flush()
    assert inserted == [(0, 2)] and model.rowCount() == 3  # one insert for 502 events
    assert model.card(1).kind is CardKind.STREAMING and model.card(1).text == "word " * 500
    model.set_filter("eng")
    assert model.rowCount() == 1 and model.filtered
    model.set_filter("", "BUILD")
    assert model.rowCount() == 1 and model.index(0, 0).data() == "ceo → eng: Build it"
    model.feed(MessageSent(run_id="r", seq=999, ts=1.0, sender="eng", recipient="ceo", content="built", message_id="m3"))
    model.feed(MessageSent(run_id="r", seq=1000, ts=1.0, sender="eng", recipient="ceo", content="build log", message_id="m4"))
    model.flush()
    assert [card.text for card in model.shown] == ["Build it", "build log"]  # new cards are filtered as they come
    model.set_filter()
    assert model.rowCount() == 5 and len(model.cards) == 5


def test_signals_emitted_from_python_do_not_use_up_true(qtbot) -> None:
    import sys

    from widgets._refcount_guards import emit_leaks_true

    model = TranscriptModel(flush_ms=10_000)
    for _ in range(20_000):  # more emits than True has references unguarded: a leaky build would abort here
        model.heights_changed.emit()
    assert not emit_leaks_true() or sys.getrefcount(True) > 1 << 40


def test_only_the_newest_window_of_cards_is_laid_out_and_earlier_ones_come_back(qtbot) -> None:
    from widgets.run_console import RunConsole

    console = RunConsole()
    qtbot.addWidget(console)
    console.show()
    model = console.live_model
    model.window = 100
    for number in range(1, 302):
        console.feed(MessageSent(run_id="r", seq=number, ts=1.0, sender="a", recipient="b", content=f"message {number}", message_id=f"m{number}"))
    model.flush()
    assert len(model.cards) == 301 and model.rowCount() == 100 and model.earlier == 201
    assert model.card(model.rowCount() - 1).text == "message 301"
    assert console.earlier_button.isVisible() and "201 more" in console.earlier_button.text()
    qtbot.mouseClick(console.earlier_button, Qt.MouseButton.LeftButton)
    assert model.rowCount() == 200 and model.earlier == 101
    console.search.setText("message 7")  # search covers the cards left out above
    assert {card.text for card in model.shown} == {"message 7", *(f"message {n}" for n in range(70, 80))}
