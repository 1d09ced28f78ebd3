"""Where each agent ran, in the run console (the line under the status, the history's executor column, replays)
and on the graph (under each node): from real runs whose executor places its agents (AgentPlaced from the real
runner), from run.json for past runs, and nothing at all for local runs. Also the executor picker's checks."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("qasync")

from PySide6.QtCore import Qt  # noqa: E402

from orgruntime.run import AgentPlaced, RunStarted, read_info  # noqa: E402
from tests.orgruntime.run.orgs import CHAIN_SCRIPT, chain_org, write_script  # noqa: E402
from tests.orgruntime.run.placing_executor import PlacingExecutor  # noqa: E402

RUN_TIMEOUT_S = 120
LONG_HOST = "a-very-long-worker-host-name.cluster.example.org:1a2b3c4d"


def two_node_executor(move_after: int = 3) -> PlacingExecutor:
    """An executor of its own kind (not the local one): it says the ceo and the reviewer run on node-a and the
    engineer on node-b; after `move_after` model calls the engineer moves to node-c."""
    return PlacingExecutor({"ceo": "host:node-a", "engineer": "host:node-b", "reviewer": "host:node-a"}, name="twonode",
                           mover="engineer", moved_to="host:node-c", move_after=move_after)  # fmt: skip


def hover_tooltip(qtbot, editor, agent_id: str) -> str:
    """The tooltip the scene shows for the agent's node (a help event, as a resting mouse sends)."""
    from PySide6.QtCore import QEvent, QPoint
    from PySide6.QtWidgets import QApplication, QGraphicsSceneHelpEvent, QToolTip

    QToolTip.hideText()
    event = QGraphicsSceneHelpEvent(QEvent.Type.GraphicsSceneHelp)
    event.setScenePos(editor.scene.node(agent_id).scenePos())
    event.setScreenPos(QPoint(100, 100))
    QApplication.sendEvent(editor.scene, event)
    return QToolTip.text() if QToolTip.isVisible() else ""


def run_once(qtbot, loop, console, driver, task: str, watch=None) -> None:
    if watch is not None:
        driver.hooks.append(watch)

    async def scenario():
        console.task.clear()
        qtbot.keyClicks(console.task, task)
        qtbot.mouseClick(console.run_button, Qt.MouseButton.LeftButton)
        await asyncio.wait_for(asyncio.shield(driver.task), RUN_TIMEOUT_S)

    loop.run_until_complete(asyncio.wait_for(scenario(), 2 * RUN_TIMEOUT_S))
    if watch is not None:
        driver.hooks.remove(watch)


def test_a_run_on_a_placing_executor_shows_where_each_agent_ran_live_and_in_its_replay(qtbot, tmp_path, loop, setup) -> None:
    org = chain_org(write_script(tmp_path, CHAIN_SCRIPT))
    console, editor, driver = setup(org, executor=two_node_executor)
    live: dict[str, str] = {}

    def watch(event) -> None:
        if isinstance(event, AgentPlaced) and event.agent_id == "engineer" and "first" not in live:
            live["first"] = console.placement_label.text()
            live["under engineer"] = editor.scene.node("engineer").spend_text
            live["tooltip"] = hover_tooltip(qtbot, editor, "engineer")

    run_once(qtbot, loop, console, driver, "make hello", watch)
    console.set_placement(read_info(driver.stream.run_dir))  # as the IDE does when a run ends
    placed = [(event.agent_id, event.where) for event in driver.events if isinstance(event, AgentPlaced)]
    assert ("engineer", "host:node-c") in placed, "the move was announced"
    assert live["first"].startswith("On the cluster: ") and "host:node-a — ceo" in live["first"]
    assert live["under engineer"] == "on host:node-b"
    assert console.placement_label.isVisible()
    text = console.placement_label.text()
    assert text == "On Twonode: host:node-a — ceo, reviewer · host:node-c — engineer"  # run.json named the executor
    assert console.placement_label.toolTip().splitlines() == ["ceo: host:node-a", "engineer: host:node-c", "reviewer: host:node-a"]
    console.live_model.flush()
    moved = [card.text for card in console.live_model.cards if card.text.startswith("now runs on")]
    assert moved == ["now runs on host:node-c (was host:node-b)"]
    assert live["tooltip"].endswith("runs on host:node-b")
    assert hover_tooltip(qtbot, editor, "engineer").endswith("ran on host:node-c")  # kept after the run
    assert editor.scene.node("engineer").spend_text == ""  # the marks are cleared

    tree = console.history.tree
    column = [tree.headerItem().text(i) for i in range(tree.columnCount())].index("executor")
    assert tree.topLevelItem(0).text(column) == "twonode"
    assert "engineer: host:node-c" in tree.topLevelItem(0).toolTip(column)

    run_id = driver.events[0].run_id
    console.show_live()
    driver.open_run(run_id)  # the replay: from the log's events and its run.json
    assert console.placement_label.text() == text
    console.show_live()
    assert console.placement_label.text() == text


def test_a_local_run_shows_no_placement_anywhere(qtbot, tmp_path, loop, setup) -> None:
    org = chain_org(write_script(tmp_path, CHAIN_SCRIPT))
    console, editor, driver = setup(org)
    spend_lines: list[str] = []
    driver.hooks.append(lambda _event: spend_lines.append(editor.scene.node("engineer").spend_text))
    run_once(qtbot, loop, console, driver, "make hello")
    info = read_info(driver.stream.run_dir)
    assert info["executor"] == "local"
    console.set_placement(info)  # as the IDE does when a run ends
    assert not console.placement_label.isVisible() and console.placement_label.text() == ""
    assert not any(isinstance(event, AgentPlaced) for event in driver.events)
    assert any("tok" in line for line in spend_lines) and not any(" on " in line for line in spend_lines)
    assert " on " not in hover_tooltip(qtbot, editor, "engineer")
    tree = console.history.tree
    column = [tree.headerItem().text(i) for i in range(tree.columnCount())].index("executor")
    assert tree.topLevelItem(0).text(column) == "" and tree.topLevelItem(0).toolTip(column) == ""
    driver.open_run(info["run_id"])
    assert not console.placement_label.isVisible()


def test_a_new_run_forgets_the_last_placement_and_a_resumed_one_keeps_it(qtbot, setup, tmp_path) -> None:
    org = chain_org(write_script(tmp_path, CHAIN_SCRIPT))
    console, editor, _ = setup(org)
    start = RunStarted(run_id="r1", seq=1, ts=1.0, org_name="Chain", entry="ceo", task="t")
    console.feed(start)
    console.feed(AgentPlaced(run_id="r1", seq=2, ts=1.0, agent_id="ceo", where="h1:n1"))
    assert console.placement_label.text() == "On the cluster: h1:n1 — ceo"
    console.feed(RunStarted(run_id="r1", seq=3, ts=2.0, org_name="Chain", entry="ceo", task="t", resumed=True))
    assert console.placement_label.text() == "On the cluster: h1:n1 — ceo"
    console.feed(RunStarted(run_id="r2", seq=1, ts=3.0, org_name="Chain", entry="ceo", task="t"))
    assert console.placement_label.text() == "" and not console.placement_label.isVisible()


def test_many_agents_on_one_host_are_counted_and_a_long_host_is_elided_under_its_node(qtbot, setup, tmp_path) -> None:
    from widgets._geometry import NODE_WIDTH
    from widgets.run_console import Placement, RunOverlay

    placement = Placement(executor="ray", where={f"a{i}": "h:n1" for i in range(9)})
    assert placement.text() == "On Ray: h:n1 — a0, a1, a2, a3, a4, a5 and 3 more"
    console, editor, _ = setup(chain_org(write_script(tmp_path, CHAIN_SCRIPT)))
    overlay = RunOverlay(editor)
    overlay.feed(AgentPlaced(run_id="r", seq=1, ts=1.0, agent_id="ceo", where=LONG_HOST))
    line = editor.scene.node("ceo").spend_text
    assert line.startswith("on a-very") and "…" in line and line.endswith("1a2b3c4d")
    assert overlay._metrics.horizontalAdvance(line) <= NODE_WIDTH
    overlay.clear()
    assert editor.scene.node("ceo").spend_text == ""


def test_history_of_runs_from_before_executors_shows_no_executor(qtbot, setup, tmp_path) -> None:
    console, _, _ = setup(chain_org(write_script(tmp_path, CHAIN_SCRIPT)))
    console.set_history([{"run_id": "old", "status": "completed"}, {"run_id": "ray1", "status": "completed", "executor": "ray",
                                                                    "placement": {"ceo": "h:n1", "worker": ""}}])
    tree = console.history.tree
    column = [tree.headerItem().text(i) for i in range(tree.columnCount())].index("executor")
    rows = {tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole): tree.topLevelItem(i) for i in range(2)}
    assert rows["old"].text(column) == "" and rows["ray1"].text(column) == "ray"
    assert rows["ray1"].toolTip(column) == "ceo: h:n1"


def test_the_executor_picker_checks_the_address_and_blocks_run_until_it_is_fixed(qtbot, setup, tmp_path) -> None:
    console, _, driver = setup(chain_org(write_script(tmp_path, CHAIN_SCRIPT)))
    picker = console.executor_picker
    picker.set_address_check(lambda text: None if text.strip() in ("", "good:1") else f"'{text}' is bad")
    edits: list[tuple[str, str]] = []
    picker.changed.connect(lambda executor, address: edits.append((executor, address)))
    assert not picker.address.isVisible()  # local: no address to give
    picker.executor_choice.setCurrentIndex(picker.executor_choice.findData("ray"))
    assert picker.address.isVisible() and picker.valid
    qtbot.keyClicks(picker.address, "nope")
    assert not picker.valid and picker.error.isVisible() and picker.error.text() == "'nope' is bad"
    assert not console.run_button.isEnabled()
    qtbot.keyClicks(console.task, "go")
    qtbot.keyClick(console.task, Qt.Key.Key_Return)
    assert driver.stream is None and console.status.text() == "'nope' is bad"
    picker.address.clear()
    qtbot.keyClicks(picker.address, "good:1")
    assert picker.valid and not picker.error.isVisible() and console.run_button.isEnabled()
    assert edits[-1] == ("ray", "good:1")

    picker.set_available("ray", False, "install the cluster extra")
    assert picker.executor == "local" and not picker.is_available("ray")
    item = picker.executor_choice.model().item(picker.executor_choice.findData("ray"))
    assert not item.isEnabled() and item.toolTip() == "install the cluster extra"
    picker.set_choice("ray", "good:1")  # a stored choice this machine cannot use
    assert picker.executor == "local" and picker.valid
