"""The run console and the live graph overlay, driven by real runs (the real Runner, the scripted litellm
model) on a qasync loop, by clicking the real buttons."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("qasync")

from PySide6.QtCore import Qt  # noqa: E402

from orgruntime import Budget  # noqa: E402
from orgruntime.run import AgentActivated, LLMCallFinished, MessageSent, RunPaused  # noqa: E402
from tests.orgruntime.run.orgs import CHAIN_SCRIPT, chain_org, human_org, write_script  # noqa: E402

RUN_TIMEOUT_S = 120


async def until(predicate, timeout: float = RUN_TIMEOUT_S) -> None:
    async def poll():
        while not predicate():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)


def play(loop, scenario) -> None:
    """Run the whole scenario on the qasync loop, as in the app, where the Qt loop is the asyncio loop."""
    loop.run_until_complete(asyncio.wait_for(scenario(), 4 * RUN_TIMEOUT_S))


def click(qtbot, button) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def click_run(qtbot, console, task: str) -> None:
    console.task.clear()
    qtbot.keyClicks(console.task, task)
    click(qtbot, console.run_button)


async def finish(driver) -> None:
    await asyncio.wait_for(asyncio.shield(driver.task), RUN_TIMEOUT_S)


def texts(console) -> list[str]:
    return [f"{card.title}: {card.text}" for card in console.view.source.cards]


def shown_rows(console) -> list:
    model = console.view.source
    return [model.card(row) for row in range(model.rowCount())]


def test_a_real_run_shows_cards_meters_overlay_and_the_result(qtbot, tmp_path, loop, setup, artifacts) -> None:
    org = chain_org(write_script(tmp_path, CHAIN_SCRIPT), budget=Budget(max_steps=40, max_cost_usd=1.0))
    console, editor, driver = setup(org)
    seen: dict = {}

    def watch(event) -> None:
        if isinstance(event, AgentActivated) and event.agent == "ceo" and "thinking" not in seen:
            seen["thinking"] = editor.scene.node("ceo").run_state
        if isinstance(event, MessageSent) and (event.sender, event.recipient) == ("ceo", "engineer"):
            edge = next(edge for edge in editor.scene.edge_items() if (edge.channel.source, edge.channel.target) == ("ceo", "engineer"))
            seen["pulse"] = edge.pulse
        if isinstance(event, LLMCallFinished) and event.agent == "engineer":
            seen["spend"] = editor.scene.node("engineer").spend_text

    driver.hooks.append(watch)
    async def scenario():
        click_run(qtbot, console, "make hello")
        assert not console.run_button.isEnabled() and console.stop_button.isEnabled()
        await finish(driver)

        assert str(seen["thinking"]) == "thinking" and seen["pulse"] > 0 and "tok" in seen["spend"]
        assert editor.scene.node("ceo").run_state is None and editor.scene.node("engineer").spend_text == ""  # cleared at the end
        lines = texts(console)
        assert "user → ceo: make hello" in lines
        assert "ceo → engineer: Build hello.py" in lines
        assert "reviewer → engineer: Looks good" in lines  # the streamed answer became the reply card
        assert "ceo → user: hello.py shipped" in lines
        tool = next(card for card in console.view.source.cards if card.tool == "write_file")
        assert "✓" in tool.text and not tool.failed and not tool.expanded
        steps = sum(isinstance(event, LLMCallFinished) for event in driver.events)
        assert console.meters.values["max_steps"].text() == f"{steps} / 40"
        assert console.meters.bars["max_steps"].isVisible() and console.meters.bars["max_steps"].value() == int(steps / 40 * 1000)
        assert not console.meters.bars["max_tokens"].isVisible()  # no limit, no bar
        assert console.status.text() == "Finished: completed — hello.py shipped"
        assert console.run_button.isEnabled() and not console.stop_button.isEnabled()
        console.grab().save(str(artifacts / "run_console.png"))

        row = console.view.source.row_of_card(tool)  # a tool call opens with a click
        console.view.scrollTo(console.view.source.index(row))
        qtbot.mouseClick(console.view.viewport(), Qt.MouseButton.LeftButton, pos=console.view.visualRect(console.view.source.index(row)).center())
        assert tool.expanded and "result: wrote 11 bytes to hello.py" in tool.detail

        console.agent_filter.setCurrentText("reviewer")
        assert shown_rows(console) and all(card.involves("reviewer") for card in shown_rows(console))
        console.agent_filter.setCurrentText("All agents")
        qtbot.keyClicks(console.search, "SHIPPED")
        assert {card.text for card in shown_rows(console)} >= {"hello.py shipped"} and all(card.matches("shipped") for card in shown_rows(console))

    play(loop, scenario)


def test_pause_step_and_resume_with_the_buttons(qtbot, tmp_path, loop, setup) -> None:
    console, _, driver = setup(chain_org(write_script(tmp_path, CHAIN_SCRIPT)))
    async def scenario():
        click_run(qtbot, console, "make hello")
        click(qtbot, console.pause_button)  # paused from the very start
        await until(lambda: console.paused)
        assert console.pause_button.text() == "Resume" and console.step_button.isEnabled()
        click(qtbot, console.step_button)
        await until(lambda: sum(isinstance(e, RunPaused) for e in driver.events) == 2)
        console.live_model.flush()
        assert any(line == "ceo → engineer: Build hello.py" for line in texts(console))
        assert not any(card.sender == "engineer" for card in console.live_model.cards)  # only one activation ran
        click(qtbot, console.pause_button)  # Resume
        await finish(driver)
        assert console.status.text().startswith("Finished: completed")
        assert not console.step_button.isEnabled() and console.pause_button.text() == "Pause"

    play(loop, scenario)


def test_a_human_seat_is_answered_in_the_reply_box_and_a_waiting_run_can_be_stopped(qtbot, tmp_path, loop, setup) -> None:
    script = {"agent": [{"send_message": {"to": "boss", "content": "May I ship?"}}, {"finish": {"result": "the boss said yes"}}], "boss": []}
    console, _, driver = setup(human_org(write_script(tmp_path, script)))
    async def scenario():
        click_run(qtbot, console, "ship")
        await until(lambda: console.reply_box.isVisible())
        assert "May I ship?" in console.reply_box.question.text()
        qtbot.keyClicks(console.reply_box.editor, "Yes, go ahead")
        click(qtbot, console.reply_box.send)
        await finish(driver)
        assert "boss → agent: Yes, go ahead" in texts(console)
        assert console.status.text() == "Finished: completed — the boss said yes" and not console.reply_box.isVisible()

        click_run(qtbot, console, "ship again")  # this time nobody answers: Stop ends the waiting run
        await until(lambda: console.reply_box.isVisible())
        click(qtbot, console.stop_button)
        await finish(driver)
        assert console.status.text() == "Finished: stopped" and not console.reply_box.isVisible()
        assert driver.desk.questions == ()

    play(loop, scenario)


def test_past_runs_open_as_replays_and_two_runs_compare(qtbot, tmp_path, loop, setup) -> None:
    console, _, driver = setup(chain_org(write_script(tmp_path, CHAIN_SCRIPT)))
    async def scenario():
        click_run(qtbot, console, "make hello")
        await finish(driver)
        first = list(driver.events)
        click_run(qtbot, console, "make hello, again")
        await finish(driver)
        tree = console.history.tree
        assert tree.topLevelItemCount() == 2
        assert {tree.topLevelItem(i).text(1) for i in range(2)} == {"completed"}

        console.tabs.setCurrentWidget(console.history)
        console.history.select(first[0].run_id)
        click(qtbot, console.history.open_button)
        assert console.view.source is console.replay_model and console.back_to_live.isVisible()
        assert "user → ceo: make hello" in texts(console) and "user → ceo: make hello, again" not in texts(console)
        assert console.status.text() == f"Replay of {first[0].run_id}: completed"
        click(qtbot, console.back_to_live)
        assert console.view.source is console.live_model and "user → ceo: make hello, again" in texts(console)

        console.history.select(first[0].run_id, driver.events[0].run_id)
        click(qtbot, console.history.compare_button)
        comparison = console.comparison
        assert console.tabs.currentWidget() is comparison
        assert comparison.value("task", 0) == "make hello" and comparison.value("task", 1) == "make hello, again"
        assert comparison.value("status", 0) == comparison.value("status", 1) == "completed"
        assert comparison.value("steps", 0) == str(sum(isinstance(e, LLMCallFinished) for e in first))
        assert comparison.summary.item(2, 0).font().bold()  # the tasks differ: marked
        assert len(comparison.models[0].cards) == len(comparison.models[1].cards) > 5

    play(loop, scenario)
