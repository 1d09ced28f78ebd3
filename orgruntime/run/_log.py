"""The durable run log: `<run_dir>/events.jsonl` (one event per line, flushed per event, fsynced at step
boundaries) and `<run_dir>/run.json` (status, totals, task, models, the org's commit and dirty flag)."""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orgruntime.run._errors import RunLogError
from orgruntime.run._events import (
    Event,
    EventFormatError,
    LLMCallFinished,
    RunFinished,
    TokenDelta,
    ToolReturned,
    event_from_json,
    event_to_line,
)

EVENTS_FILE = "events.jsonl"
INFO_FILE = "run.json"
WORKSPACE_DIR = "workspace"
STEP_BOUNDARIES = (LLMCallFinished, ToolReturned, RunFinished)  # a step: a model call or a tool with side effects


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def is_run_id(text: str) -> bool:
    return bool(text) and len(text) <= 64 and all(c.isalnum() or c in "-_" for c in text)


class EventLog:
    """Appends events to events.jsonl; TokenDelta stays out (LLMCallFinished carries the whole text).

    Every event is written and flushed at once, so a killed process loses nothing. A step boundary also
    asks for an fsync (against power loss); a background thread runs them, coalescing the requests of
    each `fsync_interval_s`, so the run does not wait for the disk at every step. `close` fsyncs the rest.
    """

    fsync_interval_s = 0.05

    def __init__(self, run_dir: Path, *, fsync: bool = True) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        self.path = run_dir / EVENTS_FILE
        self._file = open(self.path, "a", encoding="utf-8")
        self._fsync_wanted = threading.Event()
        self._closing = False
        self._syncer = threading.Thread(target=self._sync_loop, name="run log fsync", daemon=True) if fsync else None
        if self._syncer is not None:
            self._syncer.start()

    def append(self, event: Event) -> None:
        if isinstance(event, TokenDelta):
            return
        self._file.write(event_to_line(event) + "\n")
        self._file.flush()
        if self._syncer is not None and isinstance(event, STEP_BOUNDARIES):
            self._fsync_wanted.set()

    def _sync_loop(self) -> None:
        descriptor = self._file.fileno()
        while True:
            self._fsync_wanted.wait()
            self._fsync_wanted.clear()
            if self._closing:
                return
            try:
                os.fsync(descriptor)
            except OSError:  # the file was closed under us: close() does the last fsync
                return
            time.sleep(self.fsync_interval_s)

    def close(self) -> None:
        if self._file.closed:
            return
        if self._syncer is not None:
            self._closing = True
            self._fsync_wanted.set()
            self._syncer.join()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()


@dataclass(frozen=True)
class LoadedLog:
    events: tuple[Event, ...]
    torn_tail: str | None  # the incomplete last line a crash left, if any
    good_bytes: int  # length of the complete part of the file


def load_events(run_dir: Path) -> LoadedLog:
    path = run_dir / EVENTS_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RunLogError(f"{run_dir} has no {EVENTS_FILE}") from None
    except OSError as error:
        raise RunLogError(f"cannot read {path}: {error.strerror}") from None
    events: list[Event] = []
    position = 0
    torn: str | None = None
    for number, raw in enumerate(data.splitlines(keepends=True), start=1):
        complete = raw.endswith(b"\n")
        try:
            if not complete:
                raise ValueError("no line end")
            events.append(event_from_json(json.loads(raw)))
        except (ValueError, EventFormatError) as error:
            if position + len(raw) == len(data):  # only the last line may be torn
                torn = raw.decode("utf-8", errors="replace")
                break
            raise RunLogError(f"{path}:{number}: not a valid event: {error}") from None
        position += len(raw)
    return LoadedLog(tuple(events), torn, position)


def drop_torn_tail(run_dir: Path, loaded: LoadedLog) -> None:
    if loaded.torn_tail is not None:
        with open(run_dir / EVENTS_FILE, "r+b") as handle:
            handle.truncate(loaded.good_bytes)
            handle.flush()
            os.fsync(handle.fileno())


def write_info(run_dir: Path, info: Mapping[str, Any]) -> None:
    """run.json, written atomically (temp file, fsync, rename)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=".run.", suffix=".json", dir=run_dir)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(dict(info), handle, indent=2, ensure_ascii=False, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, run_dir / INFO_FILE)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_info(run_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((run_dir / INFO_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunLogError(f"{run_dir} has no {INFO_FILE}") from None
    except (OSError, ValueError) as error:
        raise RunLogError(f"cannot read {run_dir / INFO_FILE}: {error}") from None
    if not isinstance(data, dict):
        raise RunLogError(f"{run_dir / INFO_FILE} is not a JSON object")
    return data


def list_runs(runs_dir: Path) -> list[dict[str, Any]]:
    """run.json of every run under `runs_dir`, oldest first; unreadable ones are listed with status "unreadable"."""
    if not runs_dir.is_dir():
        return []
    runs = []
    for run_dir in sorted(runs_dir.iterdir()):
        if not run_dir.is_dir() or not is_run_id(run_dir.name):
            continue
        try:
            info = read_info(run_dir)
        except RunLogError as error:
            info = {"run_id": run_dir.name, "status": "unreadable", "error": str(error)}
        runs.append(info)
    return sorted(runs, key=_start_order)


def _start_order(info: dict[str, Any]) -> tuple[str, float, str]:
    started_ts = info.get("started_ts")
    precise = float(started_ts) if isinstance(started_ts, (int, float)) and not isinstance(started_ts, bool) else 0.0
    return str(info.get("started_at", "")), precise, str(info.get("run_id", ""))


def finished_event(events: Iterable[Event]) -> RunFinished | None:
    return next((event for event in events if isinstance(event, RunFinished)), None)
