"""Export a whole folder: maps (.npy), overlays (.png) and predictions.csv, with the window's job controls.

The engine's ``explain_to_folder`` does the work (same layout and guarantees as ``camviewer explain``), run by
a JobRunner: Export, Cancel, a progress bar with the time left and a status line, as in every panel. The
output folder is proposed outside the image folder; a folder that holds an earlier export is continued or
replaced only if the user says so.
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
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from camviewer.gui.jobs.controls import JobControls
from camviewer.gui.jobs.registry import WorkerRegistry
from camviewer.gui.jobs.runner import JobRunner
from camviewer.gui.viewer import tasks

CANCELLED = "Cancelled. predictions.csv lists the images finished so far; export again and choose Continue."


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
        self._request = (model, list(paths), methods, target, layer, colormap, opacity)
        self.summary: dict | None = None
        self.runner = JobRunner(registry, self)
        self.out_dir = QLineEdit(str(suggested_dir))
        self.out_dir.setToolTip("Where the maps, overlays and predictions.csv go")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        explained = {"pred": "the predicted class", "all": "every class"}.get(target, f"class {target}")
        self.description = QLabel(
            f"{len(paths):,} images · {', '.join(methods)} for {explained} · {colormap} overlays", wordWrap=True
        )
        self.controls = JobControls(self.runner, "Export", cancelled_text=CANCELLED, cancelling_text="Cancelling…")
        self.start_button, self.progress, self.status = (
            self.controls.run_button,
            self.controls.progress,
            self.controls.status,
        )
        self.close_button = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.close_button.rejected.connect(self.reject)
        self.controls.runClicked.connect(self.start)
        self.controls.runningChanged.connect(self.out_dir.setDisabled)
        self.runner.returned.connect(self._returned)
        self.runner.finished.connect(lambda: self.done.emit(self.summary))
        row = QHBoxLayout()
        row.addWidget(self.out_dir, 1)
        row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Output folder", row)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.description)
        layout.addWidget(self.controls)
        layout.addWidget(self.close_button)
        self.setMinimumWidth(560)

    def running(self) -> bool:
        return self.runner.running()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export to folder", self.out_dir.text())
        if folder:
            self.out_dir.setText(folder)

    def start(self) -> None:
        if not self.out_dir.text().strip():
            self.controls.say("Choose an output folder.", error=True)
            return
        out = Path(self.out_dir.text()).expanduser()
        from camviewer.core.explain.table import earlier_export

        found = earlier_export(out)
        if_exists = self.ask_about_earlier_export(out, found) if found else "refuse"
        if if_exists is None:
            return
        self.summary = None
        model, paths, methods, target, layer, colormap, opacity = self._request
        self.runner.start(
            f"Exporting to {out}",
            tasks.export_folder,
            model,
            paths,
            str(out),
            methods,
            target,
            layer,
            colormap,
            opacity,
            if_exists,
        )

    def ask_about_earlier_export(self, out: Path, found: list[str]) -> str | None:
        """ "resume", "overwrite", or None (not now) for a folder that holds an earlier export."""
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Continue or replace the export?",
            f"{out} already holds an export ({', '.join(found)}).\n\n"
            "Continue it: explain only the images it does not list yet, keeping the others.\n"
            "Replace it: remove its maps, overlays and predictions.csv first.",
            parent=self,
        )
        resume = box.addButton("Continue it", QMessageBox.ButtonRole.AcceptRole)
        replace = box.addButton("Replace it", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(resume)
        box.exec()
        clicked = box.clickedButton()
        return "resume" if clicked is resume else "overwrite" if clicked is replace else None

    def _returned(self, summary: dict) -> None:
        from camviewer.core.filenames import printable

        self.summary = summary
        failed, earlier = len(summary["failed"]), summary["already_done"]
        self.controls.say(
            f"Exported {summary['explained']:,} image(s) to {printable(summary['out'])}"
            + (f" ({earlier:,} were already done)" if earlier else "")
            + (f"; {failed} could not be read" if failed else "")
        )

    def reject(self) -> None:  # Close, Escape or the window's close button while running: cancel first
        if self.runner.running():
            self.controls.cancel()
            return
        super().reject()
