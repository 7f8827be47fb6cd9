"""The Trust dock: do the model's maps point at the right place, and are they faithful? One row per CAM method.

    dataset + ground truth + methods + threshold + tolerance --> worker: ``camviewer localize``
    (and optionally ``camviewer faithfulness`` with the weight-randomization sanity check) --> table

So a user can pick the method that is right for their model; "Use this method" sets the viewer's.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from camviewer.gui.common.log_panel import LogPanel
from camviewer.gui.common.path_field import PathField
from camviewer.gui.common.result_table import ResultTable, number
from camviewer.gui.common.settings import Settings
from camviewer.gui.jobs.controls import JobControls
from camviewer.gui.jobs.registry import WorkerRegistry
from camviewer.gui.jobs.runner import JobRunner
from camviewer.gui.trust import tasks
from camviewer.gui.trust.truth_dialog import KINDS, ask_for_truth

COLUMNS = {  # summary key -> (header, tooltip)
    "with_region": ("images with a region", "Images that have a ground-truth region (the others score only the ROI)"),
    "pointing_game": ("pointing game ↑", "Share of images whose map peaks inside the region"),
    "iou": ("IoU ↑", "Mean IoU of the thresholded map and the region"),
    "dice": ("Dice ↑", "Mean Dice of the thresholded map and the region"),
    "box_iou": ("box IoU ↑", "Mean IoU of the map's largest component's box and the ground-truth box"),
    "energy_in_region": ("energy in region ↑", "Mean share of the map's mass inside the region"),
    "energy_in_roi": ("energy in ROI ↑", "Mean share of the map's mass inside the region of interest"),
}
FAITHFULNESS = {
    "deletion_auc": ("deletion AUC ↓", "Probability as the most important pixels are removed (lower: more faithful)"),
    "insertion_auc": ("insertion AUC ↑", "Probability as the most important pixels are restored (higher: better)"),
    "average_drop": ("average drop ↓", "Relative confidence lost when only the map's region is kept"),
    "sanity": ("sanity check", "Does the map change when the model's weights are randomized? It must."),
}
THRESHOLDS = {"0.2": 0.2, "otsu": "otsu", "tuned": "tuned"}


class TrustPanel(QWidget):
    methodChosen = Signal(str)

    def __init__(
        self, registry: WorkerRegistry, settings: Settings, log: LogPanel, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("trustPanel")
        self._registry, self._settings, self._log = registry, settings, log
        self.runner = JobRunner(registry, self)
        self.model = None
        self.report: dict | None = None
        self.data = PathField(
            "Choose the images to score",
            placeholder="dataset folder (class sub-folders) or images",
            tooltip="Images matched to the ground truth by their path relative to this folder",
        )
        self.data.setText(settings.trust_dataset)
        self.truth_kind = QComboBox()
        for key, text in KINDS.items():
            self.truth_kind.addItem(text, key)
        self.truth_kind.currentIndexChanged.connect(lambda: ask_for_truth(self.truth, self.truth_kind.currentData()))
        self.truth = PathField("Choose the ground truth", placeholder="masks/ mirroring the dataset's folders")
        self.roi = PathField("Choose region-of-interest masks", placeholder="optional: roi/ (e.g. lungs, cell body)")
        self.data.chosen.connect(self._propose_truth)
        self.methods_box = QGroupBox("CAM methods")
        self.methods_grid = QGridLayout(self.methods_box)
        self.method_checks: dict[str, QCheckBox] = {}
        self.threshold = QComboBox(editable=True)
        self.threshold.addItems(list(THRESHOLDS))
        self.threshold.setToolTip(
            "Binarize maps for IoU/Dice: a fraction of the maximum (0.2, Zhou et al.), Otsu, or "
            "tuned per class on half of the images (scores reported on the other half)"
        )
        self.tolerance = QDoubleSpinBox(minimum=0, maximum=500, decimals=0, suffix=" px")
        self.tolerance.setToolTip("Pointing game: a peak this close to the region counts as a hit")
        self.faithfulness = QCheckBox("Faithfulness and sanity check")
        self.faithfulness.setToolTip(
            "Deletion/insertion curves, average drop, and whether maps change when the "
            "weights are randomized (slower: many forward passes per image)"
        )
        self.faith_images = QSpinBox(minimum=1, maximum=100_000, value=32, suffix=" images")
        self.faith_images.setToolTip("Faithfulness is measured on the first images only")
        self.controls = JobControls(self.runner, "Run trust report", cancelled_text="Trust report cancelled.")
        self.table = ResultTable()
        self.table.setSelectionBehavior(ResultTable.SelectionBehavior.SelectItems)
        self.table.setToolTip("One column per CAM method; click a column to pick its method")
        self.best = QLabel("", wordWrap=True)
        self.method_choice = QComboBox()
        self.method_choice.setToolTip("The method to show in the viewer")
        self.method_choice.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.use_button = QPushButton("Use in the viewer", enabled=False)
        self.use_button.setToolTip("Show this method's maps in the viewer (the CAM panel's method)")
        self._layout()
        self.controls.runClicked.connect(self.start)
        self.use_button.clicked.connect(self._use_method)
        self.table.cellClicked.connect(self._column_clicked)
        self.table.horizontalHeader().sectionClicked.connect(lambda column: self._column_clicked(0, column))
        self.runner.returned.connect(self._reported)
        self.set_methods(("gradcam",), ("gradcam",))
        if self.data.text():
            self._propose_truth(self.data.text())

    def _layout(self) -> None:
        inputs = QGridLayout()
        inputs.addWidget(QLabel("Images"), 0, 0)
        inputs.addWidget(self.data, 0, 1, 1, 2)
        inputs.addWidget(self.truth_kind, 1, 0)
        inputs.addWidget(self.truth, 1, 1, 1, 2)
        inputs.addWidget(QLabel("ROI masks"), 2, 0)
        inputs.addWidget(self.roi, 2, 1, 1, 2)
        options = QHBoxLayout()
        options.addWidget(QLabel("Threshold"))
        options.addWidget(self.threshold)
        options.addWidget(QLabel("Tolerance"))
        options.addWidget(self.tolerance)
        options.addStretch(1)
        faith = QHBoxLayout()
        faith.addWidget(self.faithfulness)
        faith.addWidget(self.faith_images)
        faith.addStretch(1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.best, 1)
        bottom.addWidget(self.method_choice)
        bottom.addWidget(self.use_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(inputs)
        layout.addWidget(self.methods_box)
        layout.addLayout(options)
        layout.addLayout(faith)
        layout.addWidget(self.controls)
        layout.addWidget(self.table, 1)
        layout.addLayout(bottom)

    # ---------------------------------------------------------------------------------- inputs
    def set_model(self, model) -> None:
        self.model = model

    def set_methods(self, methods: tuple[str, ...], checked: tuple[str, ...]) -> None:
        """The engine's CAM methods (known once it has loaded); ``checked`` (the method on screen) are ticked too."""
        previous = {name for name, box in self.method_checks.items() if box.isChecked()} | set(checked)
        while self.methods_grid.count():
            item = self.methods_grid.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        self.method_checks = {}
        for index, name in enumerate(methods):
            box = QCheckBox(name, checked=name in previous)
            self.methods_grid.addWidget(box, index // 4, index % 4)
            self.method_checks[name] = box

    def set_checked_methods(self, methods: list[str]) -> None:
        for name, box in self.method_checks.items():
            box.setChecked(name in methods)

    def checked_methods(self) -> list[str]:
        return [name for name, box in self.method_checks.items() if box.isChecked()]

    def _propose_truth(self, data: str) -> None:
        """`camviewer synth` layout: masks/ and roi/ inside the dataset folder."""
        folder = Path(data) if data else None
        if folder is None or not folder.is_dir():
            return
        if not self.truth.text() and (folder / "masks").is_dir():
            self.truth_kind.setCurrentIndex(0)
            self.truth.setText(str(folder / "masks"))
        if not self.roi.text() and (folder / "roi").is_dir():
            self.roi.setText(str(folder / "roi"))

    def request(self) -> tasks.TrustRequest:
        """The job's inputs; raises ValueError with a message for the user."""
        if not self.data.text():
            raise ValueError("Choose the images to score.")
        if not self.truth.text():
            raise ValueError("Choose the ground truth (masks folder, boxes CSV or COCO JSON).")
        methods = self.checked_methods()
        if not methods:
            raise ValueError("Tick at least one CAM method.")
        text = self.threshold.currentText().strip()
        threshold = THRESHOLDS.get(text)
        if threshold is None:
            try:
                threshold = float(text)
            except ValueError:
                threshold = -1.0
            if not 0 < threshold < 1:
                raise ValueError("Threshold: otsu, tuned or a fraction of the map's maximum between 0 and 1.")
        kind = self.truth_kind.currentData()
        truth = {"masks": None, "boxes": None, "coco": None, kind: self.truth.text()}
        return tasks.TrustRequest(
            self.data.text(),
            truth["masks"],
            truth["boxes"],
            truth["coco"],
            self.roi.text() or None,
            methods,
            threshold,
            self.tolerance.value(),
            self.faithfulness.isChecked(),
            self.faith_images.value(),
        )

    # ------------------------------------------------------------------------------------- runs
    def start(self) -> None:
        if self.model is None:
            return self._show("Open or train a model first.", error=True)
        try:
            request = self.request()
        except ValueError as error:
            return self._show(str(error), error=True)
        self._settings.trust_dataset = request.data
        self._show(f"Scoring {', '.join(request.methods)} on {Path(request.data).name}…")
        self.runner.start(f"Trust report on {Path(request.data).name}", tasks.trust_report, self.model, request)

    def _reported(self, report: dict) -> None:
        """One row per score, one column per method: methods compare side by side in a narrow dock."""
        self.report = report
        summary = report["localization"]["summary"]
        faith = (report["faithfulness"] or {}).get("summary", {})
        methods = list(summary)
        table = {**COLUMNS, **(FAITHFULNESS if faith else {})}
        rows, tips = [], []
        for key, (title, tip) in table.items():
            row = [title]
            for method in methods:
                value = {**summary[method], **faith.get(method, {})}.get(key)
                if key == "sanity":
                    row.append("—" if value is None else "passed" if value["passed"] else "FAILED")
                elif key == "with_region":
                    row.append(f"{value} / {summary[method]['images']}")
                else:
                    row.append(number(value))
            rows.append(row)
            tips.append([tip] * (len(methods) + 1))
        self.table.set_rows(["score", *methods], rows, tips, stretch_values=True)
        self.method_choice.clear()
        self.method_choice.addItems(methods)
        best = max(
            methods, key=lambda m: tuple(summary[m].get(k) or 0.0 for k in ("pointing_game", "energy_in_region"))
        )
        self.method_choice.setCurrentText(best)
        self.use_button.setEnabled(bool(methods))
        self.best.setText(
            f"Best here: <b>{best}</b> (pointing game {number(summary[best]['pointing_game'])}, "
            f"energy in region {number(summary[best]['energy_in_region'], percent=True)})"
        )
        failed = report["localization"]["failed"]
        regions = summary[methods[0]]["with_region"] if methods else 0
        self._show(
            f"Scored {report['images']:,} images ({regions} with a region) with {len(methods)} method(s)"
            + (f"; {len(failed)} could not be read" if failed else "")
            + (
                f"; tuned thresholds {report['localization']['thresholds']}"
                if report["localization"].get("thresholds")
                else ""
            )
            + "."
        )
        self._log.info(
            f"Trust report on {report['images']:,} images: "
            + "; ".join(
                f"{m} pointing game {number(s['pointing_game'])}, energy in region {number(s['energy_in_region'])}"
                for m, s in summary.items()
            )
        )

    def methods_shown(self) -> list[str]:
        return [self.table.horizontalHeaderItem(c).text() for c in range(1, self.table.columnCount())]

    def value(self, score_title: str, method: str) -> str:
        return self.table.text(self.table.row_of(score_title), self.methods_shown().index(method) + 1)

    def selected_method(self) -> str | None:
        return self.method_choice.currentText() or None

    def _column_clicked(self, _row: int, column: int) -> None:
        if column >= 1:
            self.method_choice.setCurrentText(self.table.horizontalHeaderItem(column).text())

    def _use_method(self) -> None:
        method = self.selected_method()
        if method:
            self.methodChosen.emit(method)
            self._log.info(f"The viewer now shows {method} maps")

    def _show(self, text: str, error: bool = False) -> None:
        self.controls.say(text, error)
