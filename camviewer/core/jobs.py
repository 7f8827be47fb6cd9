"""Progress events and cancel tokens shared by every long job.

Long work in camviewer is a plain generator that yields :class:`Progress` and checks a
:class:`CancelToken` between steps. The CLI prints the events, the GUI wraps the same
generator in a worker thread; neither needs to know about the other.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from camviewer.core.errors import Cancelled


@dataclass
class Progress:
    """One step of a long job. ``payload`` carries a partial result (an explained image, an epoch)."""

    done: int
    total: int | None
    message: str = ""
    payload: Any = None

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, self.done / self.total)


class CancelToken:
    """Thread-safe flag: set from the GUI thread, polled by the job between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled by the user")


def run_to_end(job, on_progress=None):
    """Drive a job generator to completion and return its ``return`` value."""
    while True:
        try:
            event = next(job)
        except StopIteration as stop:
            return stop.value
        if on_progress is not None:
            on_progress(event)


def relay(job, on_event):
    """Re-yield a job's events as ``on_event`` maps them (``None`` drops one) and return the job's value.

    Closing the relay closes the job, so the job's own clean-up (a checkpoint, a thread pool) still runs.
    """
    try:
        while True:
            try:
                event = next(job)
            except StopIteration as stop:
                return stop.value
            mapped = on_event(event)
            if mapped is not None:
                yield mapped
    finally:
        job.close()
