"""The wizard's measuring pages: the current model before, the fine-tuned model after."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QVBoxLayout,
)

from camviewer.gui.common.log_panel import LogPanel
from camviewer.gui.common.path_field import PathField
from camviewer.gui.common.result_table import ResultTable, number
from camviewer.gui.jobs.registry import WorkerRegistry
from camviewer.gui.refine import tasks
from camviewer.gui.refine.job_page import JobPage
from camviewer.gui.refine.state import RefineState, comparison_rows

PREVIEWS = 4  # images shown before | after at the end


class MeasurePage(JobPage):
    """Steps 1 and 4: classification and localization of one model on the measurement set."""

    def __init__(
        self, state: RefineState, registry: WorkerRegistry, log: LogPanel, model, after: bool, default_data: str = ""
    ) -> None:
        title = "4. Measure the fine-tuned model" if after else "1. Measure the current model"
        subtitle = (
            "The same images, ground truth and CAM method as in step 1."
            if after
            else "On held-out images with ground truth (not the images you will train on): accuracy, "
            "sensitivity, specificity, and whether the maps point at the lesion."
        )
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
        layout.addWidget(self.controls)
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
            self.about.setText(
                f"Model: {self.state.finetuned}\nImages: {self.state.measure_data} "
                f"(ground truth {Path(self.state.masks).name}, {self.state.method})"
            )
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
            self.start_job(
                "Measuring the fine-tuned model",
                tasks.measure_model,
                s.finetuned,
                s.measure_data,
                s.masks,
                s.roi or None,
                s.method,
                s.positive_class,
                keys,
                PREVIEWS,
                self.partitions.allowed(s.measure_data),
            )
            return
        if not self.data.text() or not self.masks.text():
            return self.show_status("Choose the measurement set and its ground-truth masks.", error=True)
        if self.positive.isEnabled() and self.positive.currentData() is None:
            return self.show_status("Choose the positive class (sensitivity and specificity are its).", error=True)
        s.measure_data, s.masks, s.roi = self.data.text(), self.masks.text(), self.roi.text()
        s.method, s.positive_class = self.method.currentText(), self.positive.currentData()
        s.before = s.after = None  # an "after" measured on other images or with another method compares nothing
        self.completeChanged.emit()
        self.start_job(
            "Measuring the current model",
            tasks.measure_model,
            self.model,
            s.measure_data,
            s.masks,
            s.roi or None,
            s.method,
            s.positive_class,
            None,
            PREVIEWS,
            self.partitions.allowed(s.measure_data),
        )

    def job_returned(self, measurement) -> None:
        if self.after:
            self.state.after = measurement
        else:
            self.state.before = measurement
        rows = comparison_rows(measurement, None)
        self.table.set_rows(
            ["measure", "value"], [(name, number(value, percent=share)) for name, value, _, share in rows]
        )
        images = measurement.metrics.get("n")
        self.show_status(f"Measured on {images} images ({measurement.localization.get('with_region')} with a region).")
        self._log.info(
            f"Refinement, {'after' if self.after else 'before'}: "
            + ", ".join(f"{name} {number(value, percent=share)}" for name, value, _, share in rows)
        )

    def cancelled_text(self) -> str:
        return "Measuring was cancelled; nothing was written. Measure again to go on."
