"""The engine's blocking event iterator, read from asyncio: one worker thread per request.

The worker iterates `LocalModel.stream(...)` and hands each event to the event loop. Cancelling
(the client went away, or the server stops) makes the worker close the generator after the event
it is waiting for, which ends the sequence in the engine; the generator is always closed on the
thread that runs it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Generic, Literal, TypeVar

Event = TypeVar("Event")
Outcome = Literal["completed", "cancelled", "failed"]
_END = object()


class WorkerStream(Generic[Event]):
    """`async with WorkerStream(open_stream) as events: async for event in events: ...`

    `open_stream` runs on the worker thread; `on_finish(outcome)` is called there once the generator
    is closed. Leaving the `async with` block early (an error, a cancelled task) cancels the work.
    """

    def __init__(self, open_stream: Callable[[], Iterator[Event]], on_finish: Callable[[Outcome], None] = lambda _: None) -> None:
        self._open_stream = open_stream
        self._on_finish = on_finish
        self._cancelled = threading.Event()
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._work, name="orgide-serve-generation", daemon=True)
        self._ended = False

    async def __aenter__(self) -> WorkerStream[Event]:
        self._loop = asyncio.get_running_loop()
        self._thread.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.cancel()

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def finished(self) -> bool:
        return self._thread.ident is not None and not self._thread.is_alive()

    def __aiter__(self) -> WorkerStream[Event]:
        return self

    async def __anext__(self) -> Event:
        if self._ended:
            raise StopAsyncIteration
        item = await self._queue.get()
        if item is _END:
            self._ended = True
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            self._ended = True
            raise item
        return item  # type: ignore[return-value]

    def _post(self, item: object) -> None:
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self._cancelled.set()

    def _work(self) -> None:
        outcome: Outcome = "completed"
        try:
            stream = self._open_stream()
            try:
                for event in stream:
                    if self._cancelled.is_set():
                        outcome = "cancelled"
                        break
                    self._post(event)
            finally:
                close = getattr(stream, "close", None)
                if close is not None:
                    close()
        except BaseException as error:  # handed to the reader, raised there
            outcome = "failed"
            self._post(error)
        finally:
            self._post(_END)
            self._on_finish(outcome)
