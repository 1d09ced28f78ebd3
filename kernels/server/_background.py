"""A server on its own thread and event loop, for callers without one (tests, the IDE)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from kernels._local_model import LocalModel
from kernels.server._app import RunningServer, start_server
from kernels.server._settings import ServerSettings


class BackgroundServer:
    """`with BackgroundServer(model, settings) as server: ... server.base_url ...`"""

    def __init__(self, model: LocalModel, settings: ServerSettings, *, model_name: str | None = None) -> None:
        self.model = model
        self.settings = settings
        self.model_name = model_name
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="orgide-serve", daemon=True)
        self._running: RunningServer | None = None

    @property
    def running(self) -> RunningServer:
        if self._running is None:
            raise RuntimeError("the server is not started")
        return self._running

    @property
    def url(self) -> str:
        return self.running.url

    @property
    def base_url(self) -> str:
        return self.running.base_url

    def start(self) -> BackgroundServer:
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(start_server(self.model, self.settings, model_name=self.model_name), self._loop)
        try:
            self._running = started.result()
        except BaseException:
            self._shut_loop()
            raise
        return self

    def stop(self) -> None:
        if self._running is not None:
            asyncio.run_coroutine_threadsafe(self._running.stop(), self._loop).result()
            self._running = None
        self._shut_loop()

    def _shut_loop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
        self._loop.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()
