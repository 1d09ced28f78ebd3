"""The built-in engine behind `local/<model>`: registered with litellm by the IDE (the composition root).

Inference runs in-process on the provider's worker threads (never on the UI thread). The engine
settings (threads, context size) apply when a model is loaded; the state is shown in the status bar.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from ide.app._settings import EngineSettings


class ConfiguredPool:
    """Loaded models by file, loaded once with the user's engine settings (the provider's pool protocol)."""

    def __init__(self, engine: LocalEngine) -> None:
        self._engine = engine
        self._models: dict[Path, object] = {}
        self._lock = threading.Lock()

    def get(self, name: str):
        from kernels import LocalModel, resolve_model

        path = resolve_model(name).resolve()
        with self._lock:
            if path not in self._models:
                settings = self._engine.settings
                self._engine.state_changed.emit(f"loading {name}")
                if settings.threads > 0:
                    import torch

                    torch.set_num_threads(settings.threads)
                try:
                    self._models[path] = LocalModel.load(path, max_context=settings.context_size)
                except Exception:
                    self._engine.state_changed.emit(f"could not load {name}")
                    raise
                self._engine.state_changed.emit(f"ready ({name})")
            return self._models[path]

    def loaded(self) -> int:
        return len(self._models)


class LocalEngine(QObject):
    state_changed = Signal(str)

    def __init__(self, settings: EngineSettings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.pool = ConfiguredPool(self)
        self.registered = False

    def ensure_registered(self) -> None:
        """Make litellm answer `local/` models from this engine (idempotent; imports litellm: call off the UI thread)."""
        if not self.registered:
            from kernels import register_litellm_provider

            register_litellm_provider(self.pool)
            self.registered = True

    def apply_settings(self, settings: EngineSettings) -> None:
        """New settings apply to models loaded from now on."""
        self.settings = settings
