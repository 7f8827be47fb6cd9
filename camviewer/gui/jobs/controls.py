"""The controls of one runner's jobs: Run, Cancel, a progress bar that tells the time left, a status line.

    Run ------> ``runClicked``: the owner checks its inputs and starts the runner (or says what is missing)
    started --> Run greyed out, Cancel enabled, ``runningChanged(True)``
    Cancel ---> ``runner.cancel()`` (and ``cancelling_text``, if given, in the status line)
    failed ---> the message in red (unless the owner words failures itself), ``cancelled`` --> ``cancelled_text``
    finished -> Run enabled, Cancel greyed out, ``runningChanged(False)``

The progress bar follows the runner itself (:meth:`JobProgressBar.follow`), so it shows the runner's kind
of progress: a JobRunner's Progress events by default, or the batches over epochs of a training run
when the owner passes a TrainingProgressBar with a TrainRunner.
"""

from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import Signal, SignalInstance
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from camviewer.gui.common.status_label import StatusLabel
from camviewer.gui.jobs.progress_bar import JobProgressBar


class Runner(Protocol):
    """What the controls need of a runner (JobRunner, TrainRunner); ``failed``/``cancelled`` when asked to report them."""

    started: SignalInstance
    finished: SignalInstance

    def running(self) -> bool: ...

    def cancel(self) -> None: ...


class JobControls(QWidget):
    runClicked = Signal()
    runningChanged = Signal(bool)

    def __init__(
        self,
        runner: Runner,
        run_text: str,
        *,
        cancel_text: str = "Cancel",
        progress: JobProgressBar | None = None,
        status_lines: int = 0,
        bar_below: bool = False,
        report_failures: bool = True,
        cancelled_text: str | None = None,
        cancelling_text: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """``bar_below``: the bar on a line of its own, under the buttons; ``status_lines``: see StatusLabel."""
        super().__init__(parent)
        self._runner = runner
        self._running = False
        self._cancelling_text = cancelling_text
        self.run_button = QPushButton(run_text)
        self.cancel_button = QPushButton(cancel_text, enabled=False)
        self.progress = progress if progress is not None else JobProgressBar()
        self.status = StatusLabel(status_lines)
        self._buttons = QHBoxLayout()
        self._layout(bar_below)
        self.progress.follow(runner)  # first: an owner's own words for an outcome come after the bar's
        self.run_button.clicked.connect(self.runClicked)
        self.cancel_button.clicked.connect(self.cancel)
        runner.started.connect(lambda: self._set_running(True))
        runner.finished.connect(lambda: self._set_running(runner.running()))  # a job started again stays running
        if report_failures:
            runner.failed.connect(lambda message, *_details: self.say(str(message), error=True))
        if cancelled_text is not None:
            runner.cancelled.connect(lambda: self.say(cancelled_text))

    def _layout(self, bar_below: bool) -> None:
        self._buttons.setContentsMargins(0, 0, 0, 0)
        self._buttons.addWidget(self.run_button)
        self._buttons.addWidget(self.cancel_button)
        if bar_below:
            self._buttons.addStretch(1)
        else:
            self._buttons.addWidget(self.progress, 1)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(self._buttons)
        if bar_below:
            column.addWidget(self.progress)
        column.addWidget(self.status)

    def add_button(self, button: QWidget) -> None:
        """Another button at the end of the row (e.g. the training panel's Resume…)."""
        self._buttons.addWidget(button)

    def running(self) -> bool:
        return self._running

    def say(self, text: str, error: bool = False) -> None:
        self.status.say(text, error)

    def cancel(self) -> None:
        if self._runner.running():
            self._runner.cancel()
            if self._cancelling_text:
                self.say(self._cancelling_text)

    def _set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        if running != self._running:
            self._running = running
            self.runningChanged.emit(running)
