"""A progress bar that shows a job's Progress events: busy until a total is known, then done/total, the
message and the time left; at the end, how the job ended (done, failed, cancelled), never spinning.

The time left is measured, not guessed: the pace runs from the first count seen to the latest, so what
happened before it (loading a model, batches of a resumed run) does not count, and a long job (a trust
report of minutes) tells how long it still needs from its second progress line on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QProgressBar, QWidget

from camviewer.core.jobs import Progress

if TYPE_CHECKING:
    from camviewer.gui.jobs.runner import JobRunner


class JobProgressBar(QProgressBar):
    left_words = "left"

    def __init__(self, parent: QWidget | None = None, clock: Callable[[], float] = time.perf_counter) -> None:
        super().__init__(parent, maximum=1, value=0)
        self.clock = clock
        self._pace_start: tuple[float, int] | None = None  # (time, steps done) at the first count of this job

    def follow(self, runner: JobRunner) -> None:
        """Show a JobRunner's jobs: busy, their progress, then done, failed or cancelled."""
        runner.started.connect(self.busy)
        runner.progressed.connect(self.show_progress)
        runner.returned.connect(lambda _value: self.finish())
        runner.failed.connect(lambda _message, _details: self.finish("failed", complete=False))
        runner.cancelled.connect(lambda: self.finish("cancelled", complete=False))
        runner.finished.connect(self.settle)

    def busy(self) -> None:
        """Running, nothing counted yet: an indeterminate bar, and the pace is measured afresh."""
        self._pace_start = None
        self.setRange(0, 0)

    def show_progress(self, event: Progress) -> None:
        if event.total:
            self.show_count(event.done, event.total, event.message)
        else:
            self.setFormat(event.message)

    def show_count(self, done: int, total: int, text: str) -> None:
        """``done`` of ``total`` steps, saying ``text`` and the time left at the pace since the first count."""
        now = self.clock()
        if self._pace_start is None:
            self._pace_start = (now, done)
        started, done_before = self._pace_start
        rate = (done - done_before) / (now - started) if now > started else 0.0
        if rate > 0:
            text += f" · {format_duration((total - done) / rate)} {self.left_words}"
        self.setRange(0, total)
        self.setValue(min(done, total))
        self.setFormat(text)

    def finish(self, text: str = "done", complete: bool = True) -> None:
        """The job ended: a full bar (or an empty one, for a cancelled or failed job) saying how."""
        self.setRange(0, 1)
        self.setValue(1 if complete else 0)
        self.setFormat(text)

    def settle(self) -> None:
        """The job is over: a bar still busy (it ended before any outcome was shown) stops spinning."""
        if self.maximum() == 0:
            self.setRange(0, 1)
            self.setValue(0)


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
