"""The local engine the IDE registers: models load once with the user's engine settings; the status bar follows."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kernels import TinyModelSpec, write_tiny_llama_gguf
from ide.app import EngineSettings
from ide.app._local_engine import LocalEngine


def test_models_load_once_with_the_context_size_from_the_settings(tmp_path: Path, qtbot) -> None:
    path = write_tiny_llama_gguf(tmp_path / "tiny.gguf", TinyModelSpec())
    engine = LocalEngine(EngineSettings(threads=1, context_size=256))
    states: list[str] = []
    engine.state_changed.connect(states.append)
    model = engine.pool.get(str(path))
    assert model.context_length <= 256
    assert engine.pool.get(str(path)) is model and engine.pool.loaded() == 1
    assert states == [f"loading {path}", f"ready ({path})"]
    engine.apply_settings(EngineSettings(threads=1, context_size=512))
    assert engine.pool.get(str(path)) is model, "new settings apply to models loaded after them"


def test_the_status_bar_shows_the_engine_state_of_a_local_call(make_window, org_folder: Path, tmp_path: Path, qtbot) -> None:
    path = write_tiny_llama_gguf(tmp_path / "tiny.gguf", TinyModelSpec())
    window = make_window(org_folder)

    async def ask() -> str:
        import litellm

        await asyncio.to_thread(window.engine.ensure_registered)
        response = await litellm.acompletion(model=f"local/{path}", max_tokens=4, temperature=0.0,
                                             messages=[{"role": "user", "content": "hi"}])
        return response.choices[0].message.content

    task = asyncio.get_event_loop().create_task(ask())
    qtbot.waitUntil(task.done, timeout=60_000)
    assert isinstance(task.result(), str)
    qtbot.waitUntil(lambda: window.status.engine.text() == f"local engine: ready ({path})")
