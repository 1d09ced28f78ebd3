"""Graph editor at scale: a generated org of 1,000 agents and 3,000 channels, offscreen.

Prints medians: open + first paint, a full-view repaint, a zoom step, a pan step, one mouse move
while dragging a selected node, and auto-layout. Figures only; never pass/fail.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_graph_editor.py [--agents N] [--channels M]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from orgruntime import Layout  # noqa: E402
from tests.widgets.orgs import generated_org  # noqa: E402
from widgets import GraphEditor, OrgDocument, auto_layout  # noqa: E402


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def timed(action, repeats: int) -> list[float]:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return samples


def drag_node(app, editor: GraphEditor, agent_id: str, repeats: int) -> tuple[list[float], list[float], float]:
    """Press on the node, move it in small steps (timing each), release; at 100% zoom around it."""
    view, viewport = editor.view, editor.view.viewport()
    editor.select_agent(agent_id)
    app.processEvents()
    start = view.mapFromScene(editor.scene.node(agent_id).scenePos())
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    moves, moves_full = [], []
    point = start
    for index in range(1, repeats * 3 + 1):
        point = start + QPoint(index * 3, index * 2)
        t0 = time.perf_counter()
        QTest.mouseMove(viewport, point)
        app.processEvents()  # Qt repaints what the move changed
        moves.append(time.perf_counter() - t0)
    for index in range(1, repeats + 1):
        point = start + QPoint(index * 3, index * 2)
        t0 = time.perf_counter()
        QTest.mouseMove(viewport, point)
        viewport.repaint()  # the worst case: the whole viewport
        moves_full.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point)
    return moves, moves_full, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--channels", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    org = generated_org(args.agents, args.channels, seed=1)

    layout_samples = timed(lambda: auto_layout(org), 3)
    org = org.__class__(**{**{f: getattr(org, f) for f in ("name", "entry", "agents", "channels")},
                           "layout": Layout.of(auto_layout(org))})

    def open_and_paint() -> GraphEditor:
        editor = GraphEditor(OrgDocument(org))
        editor.resize(1400, 900)
        editor.show()
        editor.view.fit_all()
        editor.view.viewport().repaint()
        return editor

    open_samples = []
    for _ in range(3):
        start = time.perf_counter()
        editor = open_and_paint()
        app.processEvents()
        open_samples.append(time.perf_counter() - start)
        editor.close()
        editor.deleteLater()
        app.processEvents()
    editor = open_and_paint()
    app.processEvents()
    view = editor.view
    viewport = view.viewport()

    full_repaint = timed(viewport.repaint, args.repeats)

    def zoom_step() -> None:
        view.zoom_by(1.1, viewport.rect().center().toPointF())
        viewport.repaint()

    zoom = timed(zoom_step, args.repeats)

    direction = [1]

    def pan_step() -> None:
        direction[0] = -direction[0]
        view.pan_by(40 * direction[0], 25 * direction[0])
        viewport.repaint()

    pan = timed(pan_step, args.repeats)

    view.resetTransform()  # 100%: every item paints itself
    editor.select_agent(org.entry)
    app.processEvents()
    repaint_at_100 = timed(viewport.repaint, args.repeats)
    factor = [1.1]

    def zoom_near() -> None:  # in and out around 100%: every visible node re-renders its cache
        view.zoom_by(factor[0], viewport.rect().center().toPointF())
        factor[0] = 1 / factor[0]
        viewport.repaint()

    zoom_at_100 = timed(zoom_near, args.repeats)
    pan_at_100 = timed(pan_step, args.repeats)
    app.processEvents()
    hub_moves, moves_full, release = drag_node(app, editor, org.entry, args.repeats)
    degree = {agent_id: 0 for agent_id in org.agent_ids}
    for channel in org.channels:
        degree[channel.source] += 1
        degree[channel.target] += 1
    typical = sorted(org.agent_ids, key=lambda agent_id: degree[agent_id])[len(org.agent_ids) // 2]
    typical_moves, _, _ = drag_node(app, editor, typical, args.repeats)

    print(f"graph editor, {len(org.agents)} agents, {len(org.channels)} channels (offscreen, medians)")
    print(f"  open + first paint      {median_ms(open_samples):8.1f} ms   (target < 1000)")
    print(f"  full-view repaint       {median_ms(full_repaint):8.1f} ms   (target < 16; whole org in view)")
    print(f"  full-view repaint 100%  {median_ms(repaint_at_100):8.1f} ms   (target < 16; zoom 100%, around the entry)")
    print(f"  zoom step + repaint     {median_ms(zoom):8.1f} ms   (target < 16; whole org in view)")
    print(f"  zoom step at 100%       {median_ms(zoom_at_100):8.1f} ms   (target < 16)")
    print(f"  pan step + repaint      {median_ms(pan):8.1f} ms   (target < 16; whole org in view)")
    print(f"  pan step at 100%        {median_ms(pan_at_100):8.1f} ms   (target < 16)")
    print(f"  drag a typical node ({degree[typical]} channels), one mouse move + Qt's repaint "
          f"{median_ms(typical_moves):6.1f} ms   (target < 8)")
    print(f"  drag the entry hub ({degree[org.entry]} channels), one mouse move + Qt's repaint "
          f"{median_ms(hub_moves):6.1f} ms   (target < 8)")
    print(f"  drag the hub, move + whole viewport repainted {median_ms(moves_full):8.1f} ms")
    print(f"  drag release (one MoveNodes edit)  {release * 1000:8.1f} ms")
    print(f"  auto-layout             {median_ms(layout_samples):8.1f} ms   (target < 2000)")
    editor.close()


if __name__ == "__main__":
    main()
