"""Git work on a worker thread (clone, fetch, pull, push): one job at a time, progress and outcome on the UI thread."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from orgruntime.vcs import GitProgress

Work = Callable[[Callable[[GitProgress], None]], object]


class _Relay(QObject):
    """Made on the UI thread; its signals, emitted from the worker, reach the runner through queued connections."""

    progress = Signal(object)
    finished = Signal(object)
    failed = Signal(object)


class _Job(QRunnable):
    def __init__(self, work: Work, relay: _Relay) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._work = work
        self._relay = relay

    def run(self) -> None:
        try:
            result = self._work(self._relay.progress.emit)
        except Exception as problem:  # every failure reaches the UI as a message, none kills the thread
            self._relay.failed.emit(problem)
            return
        self._relay.finished.emit(result)


class TaskRunner(QObject):
    """`run(label, work, on_done, on_error)` calls `work(progress)` off the UI thread; callbacks run on the UI thread."""

    started = Signal(str)  # the label
    progress = Signal(object)  # GitProgress
    ended = Signal(str)  # the label, after the callback ran

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._pool.setExpiryTimeout(0)  # the worker thread ends with its job: none is left running at exit
        self._label: str | None = None
        self._relay: _Relay | None = None
        self._callbacks: tuple[Callable[[object], None], Callable[[Exception], None]] | None = None

    @property
    def busy(self) -> bool:
        return self._label is not None

    @property
    def label(self) -> str | None:
        return self._label

    def run(self, label: str, work: Work, on_done: Callable[[object], None],
            on_error: Callable[[Exception], None]) -> None:
        if self.busy:
            raise RuntimeError(f"a git operation is still running ({self._label})")
        relay = _Relay(self)
        relay.progress.connect(self._progress)
        relay.finished.connect(self._finished)
        relay.failed.connect(self._failed)
        self._label, self._relay, self._callbacks = label, relay, (on_done, on_error)
        self.started.emit(label)
        self._pool.start(_Job(work, relay))

    def wait(self, msecs: int = 30_000) -> bool:
        """Block until the running job ends (tests and shutdown only)."""
        return self._pool.waitForDone(msecs)

    @Slot(object)
    def _progress(self, report: object) -> None:
        self.progress.emit(report)

    @Slot(object)
    def _finished(self, result: object) -> None:
        on_done, _ = self._end()
        on_done(result)
        self.ended.emit(self._last_label)

    @Slot(object)
    def _failed(self, problem: object) -> None:
        _, on_error = self._end()
        on_error(problem)  # type: ignore[arg-type]
        self.ended.emit(self._last_label)

    def _end(self) -> tuple[Callable[[object], None], Callable[[Exception], None]]:
        assert self._callbacks is not None
        callbacks = self._callbacks
        self._last_label = self._label or ""
        if self._relay is not None:
            self._relay.deleteLater()
        self._label, self._relay, self._callbacks = None, None, None
        return callbacks
