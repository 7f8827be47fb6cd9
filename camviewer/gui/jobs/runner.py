"""One long job at a time for a panel or a wizard page, started through the window's WorkerRegistry.

The runner makes the job's CancelToken, passes it to the task as its last argument, forwards what the task
yields, throttles progress to at most one update per ``THROTTLE_MS`` (a single-shot timer, so nothing
ticks while idle), and tells that the job ``started`` and how it ended: ``returned``, ``failed`` (already
reported to the log through the registry, unless an ``error_handler`` took it) or ``cancelled``;
``finished`` comes last.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from camviewer.core.jobs import CancelToken, Progress
from camviewer.gui.jobs.registry import Job, WorkerRegistry, describe_error

THROTTLE_MS = 50


class JobRunner(QObject):
    started = Signal()  # a job has started (``running()`` is True)
    progressed = Signal(object)  # the latest Progress, at most every THROTTLE_MS
    event = Signal(object)  # every item the task yields, unthrottled (tasks keep these few)
    returned = Signal(object)
    failed = Signal(str, str)  # message, details
    cancelled = Signal()
    finished = Signal()

    def __init__(self, registry: WorkerRegistry, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._registry = registry
        self._job: Job | None = None
        self._outcome: str | None = None
        self._latest: Progress | None = None
        self._timer = QTimer(self, singleShot=True, interval=THROTTLE_MS)
        self._timer.timeout.connect(self._flush)
        # Takes the exception of a failed job; returns True when it dealt with it (then it is not reported).
        self.error_handler: Callable[[BaseException], bool] | None = None

    def running(self) -> bool:
        return self._job is not None

    @property
    def label(self) -> str:
        return self._job.label if self._job is not None else ""

    def start(self, label: str, func: Callable, *args: Any, background: bool = False) -> bool:
        """Run ``func(*args, cancel_token)``; False (and nothing started) while another job runs."""
        if self._job is not None:
            return False
        token = CancelToken()
        self._outcome, self._latest = None, None
        self._job = self._registry.start(
            label,
            func,
            *args,
            token,
            cancel=token,
            background=background,
            yielded=self._yielded,
            returned=self._returned,
            errored=self._errored,
            finished=self._finished,
        )
        self.started.emit()  # before anything the worker sends: those signals wait for the event loop
        return True

    def cancel(self) -> None:
        if self._job is not None:
            self._job.stop()

    # ---------------------------------------------------------------------------------- private
    def _yielded(self, item: Any) -> None:
        self.event.emit(item)
        if isinstance(item, Progress):
            self._latest = item
            if not self._timer.isActive():
                self._timer.start()

    def _flush(self) -> None:
        latest, self._latest = self._latest, None
        if latest is not None:
            self.progressed.emit(latest)

    def _stop_progress(self) -> None:
        self._timer.stop()
        self._latest = None  # a late progress line must not cover the outcome

    def _returned(self, value: Any) -> None:
        self._outcome = "returned"
        self._stop_progress()
        self.returned.emit(value)

    def _errored(self, error: BaseException) -> None:
        self._outcome = "failed"
        self._stop_progress()
        if self.error_handler is not None and self.error_handler(error):
            return
        self.report(error)

    def report(self, error: BaseException, label: str | None = None) -> None:
        """Tell the log and ``failed`` about an error (one an ``error_handler`` held back, for instance)."""
        message, details = describe_error(label or self.label or "Job", error)
        self._registry.failed.emit(message, details)
        self.failed.emit(message, details)

    def _finished(self) -> None:
        self._stop_progress()
        self._job = None
        if self._outcome is None:  # Cancelled never reaches errored: the registry reports it as a cancel
            self._outcome = "cancelled"
            self.cancelled.emit()
        self.finished.emit()
