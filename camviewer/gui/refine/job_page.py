"""A wizard page that runs one job in a worker, with progress and Cancel; Next only once the step has a result.

Going Back while the step runs cancels it, and the page then says — in the page and in the log — what the
cancelled step left behind.
"""

from __future__ import annotations

from PySide6.QtWidgets import QWizardPage

from camviewer.gui.common.log_panel import LogPanel
from camviewer.gui.common.partitions import PartitionPermissions
from camviewer.gui.jobs.controls import JobControls
from camviewer.gui.jobs.registry import WorkerRegistry
from camviewer.gui.jobs.runner import JobRunner
from camviewer.gui.refine.state import RefineState


class JobPage(QWizardPage):
    def __init__(
        self, state: RefineState, registry: WorkerRegistry, log: LogPanel, title: str, subtitle: str, run_text: str
    ) -> None:
        super().__init__()
        self.state, self._log = state, log
        self.setTitle(title)
        self.setSubTitle(subtitle)
        self.runner = JobRunner(registry, self)
        self.controls = JobControls(self.runner, run_text, cancel_text="Cancel step")  # subclasses lay it out
        self.controls.cancel_button.setToolTip("Stop this step; what it has written so far is reported")
        self.controls.runClicked.connect(self.run)
        self.runner.progressed.connect(self._progressed)
        self.runner.returned.connect(self.job_returned)
        self.runner.cancelled.connect(self._cancelled)
        self.runner.finished.connect(self.completeChanged)
        self.partitions = PartitionPermissions(self)  # a CSV partition naming files elsewhere: asked, then run again
        self.partitions.retry_on(self.runner, self.run)
        self._left_by_back = False

    # ---------------------------------------------------------------------------------- hooks
    def run(self) -> None:
        raise NotImplementedError

    def has_result(self) -> bool:
        raise NotImplementedError

    def job_returned(self, value) -> None:
        raise NotImplementedError

    def cancelled_text(self) -> str:
        return "Cancelled."

    # ---------------------------------------------------------------------------------- running
    def running(self) -> bool:
        return self.runner.running()

    def isComplete(self) -> bool:
        return self.has_result() and not self.runner.running()

    def start_job(self, label: str, func, *args) -> None:
        self._left_by_back = False
        self.last_progress = None
        self.runner.start(label, func, *args)
        self.completeChanged.emit()

    def cleanupPage(self) -> None:
        """Back: a running step is cancelled (and reported when it has stopped); results are kept."""
        if self.runner.running():
            self._left_by_back = True
            self.runner.cancel()
            self.show_status("Cancelling (you went back)…")

    def show_status(self, text: str, error: bool = False) -> None:
        self.controls.say(text, error)

    def _progressed(self, event) -> None:
        self.last_progress = event

    def _cancelled(self) -> None:
        text = self.cancelled_text()
        if self._left_by_back:
            text = f"{self.title()}: cancelled by going back. {text}"
        self.show_status(text)
        self._log.warning(text)

    last_progress = None
