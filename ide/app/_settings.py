"""What the IDE remembers between sessions, in QSettings: recent orgs, window layout, theme, models, engine,
run options (executor, Ray address, model servers: properties of this machine, never of the org).

API keys are never kept here: they live in the OS keyring (see `_secrets`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from ide.app._run_options import EXECUTORS, LOCAL, RunOptions

MAX_RECENT = 10
DEFAULT_MODEL = "local/smollm2-135m-instruct"


@dataclass(frozen=True)
class EngineSettings:
    threads: int = 0  # 0: as many as the machine has
    context_size: int = 2048


class AppSettings:
    """Typed access to the IDE's QSettings (organisation and application 'orgide' unless given)."""

    def __init__(self, settings: QSettings | None = None) -> None:
        self.qsettings = settings or QSettings("orgide", "orgide")

    # --- recent orgs ---
    def recent_orgs(self) -> list[Path]:
        value = self.qsettings.value("recent/orgs", [])
        items = [value] if isinstance(value, str) else list(value or [])
        return [Path(item) for item in items if isinstance(item, str) and item]

    def add_recent(self, folder: Path) -> list[Path]:
        folder = folder.expanduser().resolve()
        recent = [folder, *[p for p in self.recent_orgs() if p != folder]][:MAX_RECENT]
        self.qsettings.setValue("recent/orgs", [str(p) for p in recent])
        return recent

    def forget_recent(self, folder: Path) -> None:
        kept = [p for p in self.recent_orgs() if p != folder]
        self.qsettings.setValue("recent/orgs", [str(p) for p in kept])

    # --- window ---
    def window_state(self) -> tuple[QByteArray | None, QByteArray | None]:
        geometry = self.qsettings.value("window/geometry")
        state = self.qsettings.value("window/state")
        return (geometry if isinstance(geometry, QByteArray) else None,
                state if isinstance(state, QByteArray) else None)

    def save_window_state(self, geometry: QByteArray, state: QByteArray) -> None:
        self.qsettings.setValue("window/geometry", geometry)
        self.qsettings.setValue("window/state", state)

    # --- preferences ---
    @property
    def theme(self) -> str:
        value = self.qsettings.value("appearance/theme", "system")
        return value if value in ("system", "light", "dark") else "system"

    @theme.setter
    def theme(self, value: str) -> None:
        self.qsettings.setValue("appearance/theme", value)

    @property
    def default_model(self) -> str:
        value = self.qsettings.value("models/default", DEFAULT_MODEL)
        return value if isinstance(value, str) and value.strip() else DEFAULT_MODEL

    @default_model.setter
    def default_model(self, value: str) -> None:
        self.qsettings.setValue("models/default", value.strip())

    @property
    def engine(self) -> EngineSettings:
        return EngineSettings(
            threads=_int(self.qsettings.value("engine/threads", 0), 0, 0, os.cpu_count() or 1),
            context_size=_int(self.qsettings.value("engine/context_size", 2048), 2048, 256, 131072),
        )

    @engine.setter
    def engine(self, value: EngineSettings) -> None:
        self.qsettings.setValue("engine/threads", value.threads)
        self.qsettings.setValue("engine/context_size", value.context_size)

    @property
    def run_options(self) -> RunOptions:
        """As stored; a hand-edited file with a wrong shape falls back to the defaults for that part."""
        executor = self.qsettings.value("runs/executor", LOCAL)
        address = self.qsettings.value("runs/ray_address", "")
        return RunOptions(executor=executor if executor in EXECUTORS else LOCAL,
                          ray_address=address.strip() if isinstance(address, str) else "",
                          model_servers=_servers(self.qsettings.value("runs/model_servers", "{}")))

    @run_options.setter
    def run_options(self, value: RunOptions) -> None:
        self.qsettings.setValue("runs/executor", value.executor)
        self.qsettings.setValue("runs/ray_address", value.ray_address.strip())
        self.qsettings.setValue("runs/model_servers", json.dumps({model: list(urls) for model, urls in value.model_servers.items()}))

    def sync(self) -> None:
        self.qsettings.sync()


def _int(value: object, default: int, low: int, high: int) -> int:
    try:
        number = int(str(value))
    except ValueError:
        return default
    return min(high, max(low, number))


def _servers(value: object) -> dict[str, tuple[str, ...]]:
    try:
        data = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {model: tuple(urls) for model, urls in data.items()
            if isinstance(model, str) and isinstance(urls, list) and urls and all(isinstance(url, str) for url in urls)}
