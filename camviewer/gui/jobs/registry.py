"""The one place background work is started: a registry of superqt workers.

Every job goes through :meth:`WorkerRegistry.start`, which keeps a reference to the worker until
it has finished (a collected worker would be a crash), sends its errors to one ``failed`` signal as
a user-facing message (never a console traceback), and lets the window cancel everything and wait
for ``idle`` before it closes. superqt is imported on first use, after the window has painted.

Cancelling: a job that was given a :class:`~camviewer.core.jobs.CancelToken` is cancelled through
it, so the engine stops between steps and its generators close normally; other generator jobs are
asked to quit between yields.
"""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal

from camviewer.core.errors import CamviewerError, Cancelled
from camviewer.core.jobs import CancelToken
from camviewer.gui.common.remedies import with_remedy

# Workers mostly wait in C code (decoding, torch) with the GIL released; two cores but more jobs.
MIN_POOL_THREADS = 6


@dataclass(eq=False)
class Job:
    label: str
    worker: Any  # superqt WorkerBase
    cancel: CancelToken | None
    background: bool  # work nobody would miss (thumbnails, viewing, loading): closing does not ask about it

    def stop(self) -> None:
        if self.cancel is not None:
            self.cancel.cancel()
        elif hasattr(self.worker, "aborted"):  # a GeneratorWorker: quits between yields
            self.worker.quit()


class WorkerRuntimeError(Exception):
    """A RuntimeError raised in a generator job, re-raised as another type (see :func:`_shielded`)."""


def _shielded(func: Callable[..., Generator], *args: Any, **kwargs: Any) -> Generator:
    """Run a generator job, turning RuntimeError (torch's usual error) into WorkerRuntimeError.

    superqt's GeneratorWorker takes a RuntimeError from the generator for "the worker was deleted":
    it then only warns and never emits ``finished``, so the job would look alive forever.
    """
    try:
        return (yield from func(*args, **kwargs))
    except RuntimeError as error:
        raise WorkerRuntimeError(str(error)) from error


def describe_error(label: str, error: BaseException) -> tuple[str, str]:
    """(one line for the user, with what to do about a camviewer error, and details for the log)."""
    if isinstance(error, WorkerRuntimeError) and error.__cause__ is not None:
        error = error.__cause__
    if isinstance(error, CamviewerError):
        return with_remedy(str(error), error), ""
    details = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return f"{label} failed: {type(error).__name__}: {error}", details


class WorkerRegistry(QObject):
    """Starts workers, holds them while they run, reports their errors, and tells when all are done."""

    failed = Signal(str, str)  # message for the user, details (traceback) for the log
    cancelled = Signal(str)  # label of a job that stopped because it was cancelled
    idle = Signal()  # the last running job has finished

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs: list[Job] = []
        pool = QThreadPool.globalInstance()
        pool.setMaxThreadCount(max(pool.maxThreadCount(), MIN_POOL_THREADS))

    def start(
        self,
        label: str,
        func: Callable,
        *args: Any,
        cancel: CancelToken | None = None,
        background: bool = False,
        yielded: Callable | None = None,
        returned: Callable | None = None,
        errored: Callable[[BaseException], None] | None = None,
        finished: Callable[[], None] | None = None,
        **kwargs: Any,
    ) -> Job:
        """Run ``func(*args, **kwargs)`` (a function or a generator) in the thread pool.

        ``errored`` replaces the default report for errors the caller handles itself (it receives
        the exception; cancellations never reach it).
        """
        from superqt.utils import create_worker

        if inspect.isgeneratorfunction(func):
            func, args = _shielded, (func, *args)
        worker = create_worker(func, *args, _start_thread=False, _ignore_errors=True, **kwargs)
        job = Job(label, worker, cancel, background)
        if yielded is not None:
            worker.yielded.connect(yielded)
        if returned is not None:
            worker.returned.connect(returned)
        worker.errored.connect(lambda error: self._on_error(job, error, errored))
        if finished is not None:
            worker.finished.connect(finished)
        worker.finished.connect(lambda: self._on_finished(job))
        self._jobs.append(job)
        worker.start()
        return job

    def running(self, include_background: bool = True) -> list[str]:
        return [job.label for job in self._jobs if include_background or not job.background]

    def __len__(self) -> int:
        return len(self._jobs)

    def cancel_all(self) -> None:
        for job in list(self._jobs):
            job.stop()

    def _on_error(self, job: Job, error: BaseException, handler: Callable | None) -> None:
        if isinstance(error, Cancelled):
            self.cancelled.emit(job.label)
        elif handler is not None:
            handler(error)
        else:
            self.failed.emit(*describe_error(job.label, error))

    def _on_finished(self, job: Job) -> None:
        if job in self._jobs:
            self._jobs.remove(job)
        if not self._jobs:
            self.idle.emit()
