"""A progress bar that shows a job's Progress events: busy until a total is known, then done/total and the message."""

from __future__ import annotations

from PySide6.QtWidgets import QProgressBar, QWidget

from camviewer.core.jobs import Progress


class JobProgressBar(QProgressBar):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, maximum=1, value=0)

    def follow(self, runner) -> None:
        """Show a JobRunner's jobs: their progress, then done, failed or cancelled."""
        runner.progressed.connect(self.show_progress)
        runner.returned.connect(lambda _value: self.finish())
        runner.failed.connect(lambda _message, _details: self.finish("failed", complete=False))
        runner.cancelled.connect(lambda: self.finish("cancelled", complete=False))

    def busy(self) -> None:
        """Running, nothing counted yet: an indeterminate bar."""
        self.setRange(0, 0)

    def show_progress(self, event: Progress) -> None:
        if event.total:
            self.setRange(0, event.total)
            self.setValue(event.done)
        self.setFormat(event.message)

    def finish(self, text: str = "done", complete: bool = True) -> None:
        """The job ended: a full bar (or an empty one, for a cancelled or failed job) saying how."""
        self.setRange(0, 1)
        self.setValue(1 if complete else 0)
        self.setFormat(text)
