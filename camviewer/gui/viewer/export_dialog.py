"""Export a whole folder: maps (.npy), overlays (.png) and predictions.csv, in a worker with progress and Cancel.

The engine's ``explain_to_folder`` does the work (same layout as ``camviewer explain``). The output
folder is proposed outside the image folder; an existing export is only replaced if the user agrees.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from camviewer.core.jobs import CancelToken
from camviewer.gui.jobs.registry import Job, WorkerRegistry, describe_error
from camviewer.gui.viewer import tasks

OUTPUTS = ("predictions.csv", "maps", "overlays")


class ExportDialog(QDialog):
    done = Signal(object)  # the engine's summary dict, or None when cancelled or failed

    def __init__(
        self,
        registry: WorkerRegistry,
        model,
        paths: list[str],
        methods: tuple[str, ...],
        target: str,
        layer: str | None,
        colormap: str,
        opacity: float,
        suggested_dir: Path,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("exportDialog")
        self.setWindowTitle("Export folder")
        self._registry = registry
        self._job: Job | None = None
        self._request = {
            "model": model,
            "paths": list(paths),
            "methods": methods,
            "target": target,
            "layer": layer,
            "colormap": colormap,
            "opacity": opacity,
        }
        self.summary: dict | None = None
        self.out_dir = QLineEdit(str(suggested_dir))
        self.out_dir.setToolTip("Where the maps, overlays and predictions.csv go")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.progress = QProgressBar(maximum=max(1, len(paths)), value=0)
        explained = {"pred": "the predicted class", "all": "every class"}.get(target, f"class {target}")
        self.status = QLabel(
            f"{len(paths):,} images · {', '.join(methods)} for {explained} · {colormap} overlays", wordWrap=True
        )
        self.buttons = QDialogButtonBox()
        self.start_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel_or_close)
        row = QHBoxLayout()
        row.addWidget(self.out_dir, 1)
        row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Output folder", row)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addWidget(self.progress)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(560)
        self._show_progress = None  # throttled progress updater, made when superqt is loaded

    def running(self) -> bool:
        return self._job is not None

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export to folder", self.out_dir.text())
        if folder:
            self.out_dir.setText(folder)

    def start(self) -> None:
        out = Path(self.out_dir.text()).expanduser()
        if not self.out_dir.text().strip():
            self.status.setText("Choose an output folder.")
            return
        existing = [name for name in OUTPUTS if (out / name).exists()]
        if existing and not self._may_replace(out, existing):
            return
        from superqt.utils import qthrottled

        self._show_progress = qthrottled(self._apply_progress, timeout=50, parent=self)
        cancel = CancelToken()
        self.start_button.setEnabled(False)
        self.out_dir.setEnabled(False)
        self.status.setText("Starting…")
        request = self._request
        self._job = self._registry.start(
            f"Exporting to {out}",
            tasks.export_folder,
            request["model"],
            request["paths"],
            str(out),
            request["methods"],
            request["target"],
            request["layer"],
            request["colormap"],
            request["opacity"],
            cancel,
            cancel=cancel,
            yielded=self._show_progress,
            returned=self._returned,
            errored=self._failed,
            finished=self._finished,
        )
        self._registry.cancelled.connect(self._cancelled)

    def _may_replace(self, out: Path, existing: list[str]) -> bool:
        answer = QMessageBox.question(
            self,
            "Replace the existing export?",
            f"{out} already holds {', '.join(existing)}. Files with the same names will be overwritten.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _apply_progress(self, event) -> None:
        if event.total:
            self.progress.setMaximum(event.total)
            self.progress.setValue(event.done)
        self.status.setText(f"{event.done:,}/{event.total or '?'} · {Path(event.message).name}")

    def _returned(self, summary: dict) -> None:
        self._stop_progress()
        self.summary = summary
        failed = len(summary["failed"])
        self.progress.setValue(self.progress.maximum())
        self.status.setText(
            f"Exported {summary['explained']:,} image(s) to {summary['out']}"
            + (f"; {failed} could not be read" if failed else "")
        )

    def _stop_progress(self) -> None:
        """Drop a pending throttled update (it must not hide the result) and stop its timer."""
        self._show_progress.cancel()
        self._show_progress.flush(restart_timer=False)

    def _failed(self, error: BaseException) -> None:
        self._stop_progress()
        message, details = describe_error(self._job.label if self._job else "Export", error)
        self.status.setText(message)
        self._registry.failed.emit(message, details)

    def _cancelled(self, label: str) -> None:
        if self._job is not None and label == self._job.label:
            self._stop_progress()
            self.status.setText("Cancelled. predictions.csv holds the images finished so far.")

    def _finished(self) -> None:
        self._job = None
        self._registry.cancelled.disconnect(self._cancelled)
        self.cancel_button.setText("Close")
        self.done.emit(self.summary)

    def cancel_or_close(self) -> None:
        if self._job is not None:
            self._job.stop()
            self.status.setText("Cancelling…")
        else:
            self.reject()

    def reject(self) -> None:  # Escape or the window's close button while running: cancel first
        if self._job is not None:
            self.cancel_or_close()
            return
        super().reject()
