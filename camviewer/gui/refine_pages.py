"""The refinement wizard's measuring and building pages, on a common base that runs one job per page.

A :class:`JobPage` runs its step in a worker (through the window's registry) with progress and Cancel;
Next is enabled only once the step has a result. Going Back while the step runs cancels it, and the page
then says — in the page and in the log — what the cancelled step left behind.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from camviewer.gui import study_tasks
from camviewer.gui.files import unused_folder
from camviewer.gui.job_progress import JobProgressBar
from camviewer.gui.job_runner import JobRunner
from camviewer.gui.log_panel import LogPanel
from camviewer.gui.path_field import PathField
from camviewer.gui.refine_state import RefineState, comparison_rows
from camviewer.gui.result_table import ResultTable, number
from camviewer.gui.status_label import StatusLabel
from camviewer.gui.workers import WorkerRegistry

PREVIEWS = 4  # images shown before | after at the end


class JobPage(QWizardPage):
    def __init__(self, state: RefineState, registry: WorkerRegistry, log: LogPanel, title: str, subtitle: str,
                 run_text: str) -> None:
        super().__init__()
        self.state, self._log = state, log
        self.setTitle(title)
        self.setSubTitle(subtitle)
        self.runner = JobRunner(registry, self)
        self.run_button = QPushButton(run_text)
        self.cancel_button = QPushButton("Cancel step", enabled=False)
        self.cancel_button.setToolTip("Stop this step; what it has written so far is reported")
        self.progress = JobProgressBar()
        self.status = StatusLabel()
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.runner.cancel)
        self.progress.follow(self.runner)
        self.runner.progressed.connect(self._progressed)
        self.runner.returned.connect(self.job_returned)
        self.runner.failed.connect(lambda message, _details: self.show_status(message, error=True))
        self.runner.cancelled.connect(self._cancelled)
        self.runner.finished.connect(self._finished)
        self._left_by_back = False

    def job_row(self) -> QWidget:
        holder = QWidget()
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)
        row.addWidget(self.progress, 1)
        column = QVBoxLayout(holder)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(row)
        column.addWidget(self.status)
        return holder

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
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.busy()
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
        self.status.say(text, error)

    def _progressed(self, event) -> None:
        self.last_progress = event

    def _cancelled(self) -> None:
        text = self.cancelled_text()
        if self._left_by_back:
            text = f"{self.title()}: cancelled by going back. {text}"
        self.show_status(text)
        self._log.warning(text)

    def _finished(self) -> None:
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.completeChanged.emit()

    last_progress = None


class MeasurePage(JobPage):
    """Steps 1 and 4: classification and localization of one model on the measurement set."""

    def __init__(self, state: RefineState, registry: WorkerRegistry, log: LogPanel, model, after: bool,
                 default_data: str = "") -> None:
        title = "4. Measure the fine-tuned model" if after else "1. Measure the current model"
        subtitle = ("The same images, ground truth and CAM method as in step 1." if after else
                    "On held-out images with ground truth (not the images you will train on): accuracy, "
                    "sensitivity, specificity, and whether the maps point at the lesion.")
        super().__init__(state, registry, log, title, subtitle, "Measure again" if after else "Measure")
        self.model, self.after = model, after
        self.table = ResultTable()
        layout = QVBoxLayout(self)
        if not after:
            self.data = PathField("Choose the measurement set", placeholder="held-out dataset folder with ground truth")
            self.masks = PathField("Choose the ground-truth masks", placeholder="masks/ mirroring the dataset")
            self.roi = PathField("Choose ROI masks", placeholder="optional: roi/ (lungs, cell body)")
            self.method = QComboBox()
            self.method.addItems(list(state.methods))
            self.method.setCurrentText(state.method)
            self.positive = QComboBox()
            self.positive.setToolTip("Sensitivity and specificity are those of this class")
            if len(state.class_names) == 2:
                self.positive.addItem("choose…", None)
                for name in state.class_names:
                    self.positive.addItem(name, name)
                self.positive.setCurrentIndex(max(0, self.positive.findData(state.card_positive)))
            else:
                self.positive.addItem("not applicable", None)
                self.positive.setEnabled(False)
            self.data.chosen.connect(self._propose_truth)
            form = QFormLayout()
            form.addRow("Measurement set", self.data)
            form.addRow("Ground truth", self.masks)
            form.addRow("ROI masks", self.roi)
            form.addRow("CAM method", self.method)
            form.addRow("Positive class", self.positive)
            layout.addLayout(form)
            if default_data:
                self.data.set_path(default_data)
        else:
            self.about = QLabel(wordWrap=True)
            layout.addWidget(self.about)
        layout.addWidget(self.job_row())
        layout.addWidget(self.table, 1)

    def _propose_truth(self, data: str) -> None:
        folder = Path(data) if data else None
        if folder is not None and folder.is_dir():
            if (folder / "masks").is_dir():
                self.masks.setText(str(folder / "masks"))
            if (folder / "roi").is_dir():
                self.roi.setText(str(folder / "roi"))

    def initializePage(self) -> None:
        if self.after:
            self.about.setText(f"Model: {self.state.finetuned}\nImages: {self.state.measure_data} "
                               f"(ground truth {Path(self.state.masks).name}, {self.state.method})")
            stale = self.state.after is None or self.state.after.checkpoint != self.state.finetuned
            if stale and not self.runner.running():
                self.state.after = None
                self.table.set_rows([], [])
                self.run()

    def has_result(self) -> bool:
        measurement = self.state.after if self.after else self.state.before
        return measurement is not None

    def run(self) -> None:
        s = self.state
        if self.after:
            keys = [key for key, _ in s.before.previews] if s.before is not None else None
            self.start_job("Measuring the fine-tuned model", study_tasks.measure_model, s.finetuned, s.measure_data,
                           s.masks, s.roi or None, s.method, s.positive_class, keys, PREVIEWS)
            return
        if not self.data.text() or not self.masks.text():
            return self.show_status("Choose the measurement set and its ground-truth masks.", error=True)
        if self.positive.isEnabled() and self.positive.currentData() is None:
            return self.show_status("Choose the positive class (sensitivity and specificity are its).", error=True)
        s.measure_data, s.masks, s.roi = self.data.text(), self.masks.text(), self.roi.text()
        s.method, s.positive_class = self.method.currentText(), self.positive.currentData()
        s.before = s.after = None  # an "after" measured on other images or with another method compares nothing
        self.completeChanged.emit()
        self.start_job("Measuring the current model", study_tasks.measure_model, self.model, s.measure_data, s.masks,
                       s.roi or None, s.method, s.positive_class, None, PREVIEWS)

    def job_returned(self, measurement) -> None:
        if self.after:
            self.state.after = measurement
        else:
            self.state.before = measurement
        rows = comparison_rows(measurement, None)
        self.table.set_rows(["measure", "value"], [(name, number(value, percent=share))
                                                    for name, value, _, share in rows])
        images = measurement.metrics.get("n")
        self.show_status(f"Measured on {images} images ({measurement.localization.get('with_region')} with a region).")
        self._log.info(f"Refinement, {'after' if self.after else 'before'}: " + ", ".join(
            f"{name} {number(value, percent=share)}" for name, value, _, share in rows))

    def cancelled_text(self) -> str:
        return "Measuring was cancelled; nothing was written. Measure again to go on."


class BuildPage(JobPage):
    """Step 2: the enhanced copy of the training set (the original is never touched)."""

    MODES = {
        "cam-overlay": "Weight each image by its own map (what the model found important stays, the rest fades)",
        "roi-mask": "Keep only the region of interest (nothing outside it, e.g. a marker, can be learned)",
        "crop": "Cut a border margin, at training and inference (stored in the model card)",
    }

    def __init__(self, state: RefineState, registry: WorkerRegistry, log: LogPanel, model, default_train: str) -> None:
        super().__init__(state, registry, log, "2. Build the enhanced training set",
                         "A new folder is written; the original images are never modified.", "Build")
        self.model = model
        self.data = PathField("Choose the training set", placeholder="the training set (class sub-folders)")
        self.mode_group = QButtonGroup(self)
        self.floor = QDoubleSpinBox(minimum=0.0, maximum=1.0, singleStep=0.05, value=0.3)
        self.floor.setToolTip("Weight where the map is 0")
        self.roi = PathField("Choose ROI masks", placeholder="roi/ mirroring the training set")
        self.border = QDoubleSpinBox(minimum=0.01, maximum=0.45, singleStep=0.01, value=0.1)
        self.border.setToolTip("Fraction cut from each side")
        self.out = PathField("Choose a new folder for the enhanced set", placeholder="a new, empty folder")
        self.out.chosen.connect(lambda _path: setattr(self, "_auto_out", False))  # typed or browsed
        grid = QGridLayout()
        extras = {"cam-overlay": ("floor", self.floor), "roi-mask": ("ROI masks", self.roi), "crop": ("border", self.border)}
        for row, (mode, text) in enumerate(self.MODES.items()):
            button = QRadioButton(mode, checked=row == 0)
            button.setToolTip(text)
            button.setProperty("mode", mode)
            self.mode_group.addButton(button, row)
            grid.addWidget(button, 2 * row, 0)
            grid.addWidget(QLabel(extras[mode][0]), 2 * row, 1, alignment=Qt.AlignmentFlag.AlignRight)
            grid.addWidget(extras[mode][1], 2 * row, 2)
            note = QLabel(text, wordWrap=True)
            note.setStyleSheet("color: #555")
            grid.addWidget(note, 2 * row + 1, 0, 1, 3)
        grid.setColumnStretch(2, 1)
        self.mode_group.idToggled.connect(lambda *_: self._propose_out())
        self.data.chosen.connect(self._data_chosen)
        form = QFormLayout()
        form.addRow("Training set", self.data)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(grid)
        out_form = QFormLayout()
        out_form.addRow("Enhanced set", self.out)
        layout.addLayout(out_form)
        layout.addWidget(self.job_row())
        layout.addStretch(1)
        self._auto_out = True
        if default_train:
            self.data.set_path(default_train)

    def mode(self) -> str:
        return self.mode_group.checkedButton().property("mode")

    def set_mode(self, mode: str) -> None:
        for button in self.mode_group.buttons():
            button.setChecked(button.property("mode") == mode)

    def _data_chosen(self, data: str) -> None:
        if data and (Path(data) / "roi").is_dir():
            self.roi.setText(str(Path(data) / "roi"))
        self._propose_out()

    def _propose_out(self) -> None:
        if self._auto_out and self.data.text():
            data = Path(self.data.text())
            self.out.setText(str(unused_folder(data.parent, f"{data.name}-{self.mode()}")))

    def has_result(self) -> bool:
        return self.state.built is not None

    def run(self) -> None:
        data, out, mode = self.data.text(), self.out.text(), self.mode()
        if not data or not out:
            return self.show_status("Choose the training set and a new folder for the enhanced set.", error=True)
        if mode == "roi-mask" and not self.roi.text():
            return self.show_status("roi-mask needs the ROI masks folder.", error=True)
        self.state.train_data, self._building = data, out
        self.state.built = None
        self.completeChanged.emit()
        model = self.model if mode == "cam-overlay" else None
        self.start_job(f"Building {Path(out).name}", study_tasks.build_refined_set, data, out, mode, model,
                       self.roi.text() or None, self.state.method, self.floor.value(), self.border.value())

    def job_returned(self, manifest: dict) -> None:
        self.state.built, self.state.built_mode = self._building, manifest["mode"]
        skipped = len(manifest["skipped"])
        text = (f"Wrote {manifest['images']} images to {self._building} ({manifest['mode']})"
                + (f"; skipped {skipped}" if skipped else "") + ".")
        self.show_status(text)
        self._log.info(f"Refinement: {text}")
        self._auto_out = True

    def cancelled_text(self) -> str:
        done = self.last_progress.done if self.last_progress is not None else 0
        if Path(self._building).exists():
            self.state.partial_sets.append(self._building)
        self._auto_out = True
        self._propose_out()
        return (f"Building was cancelled after {done} images: {self._building} holds an incomplete set (no "
                "refine.json) and will not be used. Build again into a new folder.")

    _building = ""
