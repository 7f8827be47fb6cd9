"""A job's events as JSON lines in a file, for a process that watches a run it started (the window watching torchrun).

Each line is one event: ``{"done", "total", "message", "kind", "payload"}``, where ``kind`` names the payload's
dataclass and ``payload`` holds its fields. The file is only appended to, one whole line at a time, so a reader
polling it never sees half an event; the watcher turns the kinds it knows back into their dataclasses.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any

from camviewer.core.jobs import Progress


@dataclass
class Failure:
    """The last event of a run whose processes were stopped because one failed (see ProcessFailed's fields)."""

    rank: int
    size: int | None
    exitcode: int | None
    reason: str

    def error(self):
        from camviewer.core.errors import ProcessFailed

        return ProcessFailed(self.rank, self.size, self.exitcode, self.reason)


def event_line(event: Progress) -> str:
    payload = event.payload
    record = {
        "done": event.done,
        "total": event.total,
        "message": event.message,
        "kind": type(payload).__name__ if payload is not None else None,
        "payload": asdict(payload) if is_dataclass(payload) else None,
    }
    return json.dumps(record, default=str, allow_nan=True) + "\n"


class EventLog:
    """Appends events to a file (created if needed), each line written and flushed whole."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed by close())

    def write(self, event: Progress) -> None:
        self._handle.write(event_line(event))
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()


class EventReader:
    """Reads the events appended to a file since the last call (nothing when the file does not exist yet)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._offset = 0

    def new_records(self) -> list[dict[str, Any]]:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
        except FileNotFoundError:
            return []
        whole = data[: data.rfind(b"\n") + 1]  # a line still being written waits for the next call
        self._offset += len(whole)
        return [json.loads(line) for line in whole.decode("utf-8").splitlines() if line.strip()]
