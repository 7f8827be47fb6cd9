"""The Trust dock: do the model's maps point at the right place, and are they faithful? One column per CAM method.

    dataset + ground truth (or the one loaded with Ctrl+G) + methods + target + threshold + tolerance
    --> worker: ``camviewer localize`` (and optionally ``camviewer faithfulness`` with the
    weight-randomization sanity check) --> table: each score with chance beside it

So a user can pick the method that is right for their model: "Best here" names one only when its pointing
game beats chance, and says which images were refused (a label that matches no class) and which methods
were skipped (they do not apply to this model), with the reasons. "Use in the viewer" sets the viewer's.
"""

from __future__ import annotations

from collections import Counter
from html import escape
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from camviewer.gui.common.log_panel import LogPanel
from camviewer.gui.common.partitions import PartitionPermissions
from camviewer.gui.common.path_field import PathField
from camviewer.gui.common.result_table import ResultTable, number
from camviewer.gui.common.settings import Settings
from camviewer.gui.jobs.controls import JobControls
from camviewer.gui.jobs.registry import WorkerRegistry
from camviewer.gui.jobs.runner import JobRunner
from camviewer.gui.trust import tasks
from camviewer.gui.trust.method_list import MethodList
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
P_VALUE = ("p vs chance", "Pointing game: the chance of as many hits or more from random points (one-sided)")
THRESHOLDS = {"0.2": 0.2, "otsu": "otsu", "tuned": "tuned"}
TARGETS = {"gt": "the ground truth's class", "pred": "the predicted class"}
LOADED = "loaded"  # the truth kind of the ground truth loaded in the viewer
CHANCE_TIP = "In brackets: chance, the same score for a random point, a flat map or randomly placed pixels"


class TrustPanel(QWidget):
    methodChosen = Signal(str)

    def __init__(
        self, registry: WorkerRegistry, settings: Settings, log: LogPanel, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("trustPanel")
        self._registry, self._settings, self._log = registry, settings, log
        self.runner = JobRunner(registry, self)
        self._partitions = PartitionPermissions(self)
        self._partitions.retry_on(self.runner, self.start)
        self.model = None
        self.report: dict | None = None
        self._running = self._report_source = (None, None)  # (model, request) of the running / last report
        self.data = PathField(
            "Choose the images to score",
            placeholder="dataset folder (class sub-folders) or images",
            tooltip="Images matched to the ground truth by their path relative to this folder",
        )
        self.data.setText(settings.trust_dataset)
        self.truth_kind = QComboBox()
        for key, text in KINDS.items():
            self.truth_kind.addItem(text, key)
        self.truth_kind.currentIndexChanged.connect(self._truth_kind_changed)
        self.truth = PathField("Choose the ground truth", placeholder="masks/ mirroring the dataset's folders")
        self.loaded_truth = None  # tasks.TruthSource loaded in the viewer (Ctrl+G)
        self.target = QComboBox()
        for key, text in TARGETS.items():
            self.target.addItem(text, key)
        self.target.setToolTip(
            "Whose map is scored: the class of the ground truth's label (an image whose label matches no "
            "class is refused and counted, never scored on the prediction instead), or the predicted class"
        )
        self.label_map = QLineEdit(placeholderText="label map, e.g. Infiltrate=Infiltration (optional)")
        self.label_map.setToolTip(
            "Ground-truth labels to model classes where the names differ: LABEL=CLASS;LABEL=CLASS|CLASS. "
            "Names that differ only in case or punctuation match by themselves."
        )
        self.roi = PathField("Choose region-of-interest masks", placeholder="optional: roi/ (e.g. lungs, cell body)")
        self.data.chosen.connect(self._propose_truth)
        self.methods_box = MethodList()
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
        inputs.addWidget(QLabel("Scored map"), 3, 0)
        inputs.addWidget(self.target, 3, 1)
        inputs.addWidget(self.label_map, 3, 2)
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
        self.methods_box.set_methods(methods, checked)

    @property
    def method_checks(self) -> dict[str, QCheckBox]:
        return self.methods_box.checks

    def set_checked_methods(self, methods: list[str]) -> None:
        self.methods_box.set_checked(methods)

    def checked_methods(self) -> list[str]:
        return self.methods_box.checked()

    def use_loaded_truth(self, source) -> None:
        """The ground truth loaded in the viewer (Ctrl+G) becomes the one scored against, as it was read."""
        self.loaded_truth = source
        if self.truth_kind.findData(LOADED) < 0:
            self.truth_kind.addItem("Loaded in the viewer", LOADED)
        self.truth_kind.setCurrentIndex(self.truth_kind.findData(LOADED))
        if not self.data.text():
            self.data.setText(source.root)

    def _truth_kind_changed(self) -> None:
        kind = self.truth_kind.currentData()
        loaded = kind == LOADED
        self.truth.setEnabled(not loaded)
        if loaded:
            self.truth.setText(self.loaded_truth.description)
            self.truth.setToolTip(f"Loaded with Trust > Load ground truth; paths relative to {self.loaded_truth.root}")
        else:
            if self.truth.text() == getattr(self.loaded_truth, "description", None):
                self.truth.setText("")
            ask_for_truth(self.truth, kind)

    def _propose_truth(self, data: str) -> None:
        """`camviewer synth` layout: masks/ and roi/ inside the dataset folder."""
        folder = Path(data) if data else None
        if folder is None or not folder.is_dir() or self.truth_kind.currentData() == LOADED:
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
            raise ValueError("Choose the ground truth (masks folder, boxes CSV, COCO JSON or Pascal VOC folder).")
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
        loaded = self.loaded_truth if kind == LOADED else None
        truth = {**dict.fromkeys(KINDS), **({} if loaded else {kind: self.truth.text()})}
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
            voc=truth["voc"],
            target=self.target.currentData(),
            label_map=self.label_map.text().strip() or None,
            loaded=loaded,
            allow_outside=self._partitions.allowed(self.data.text()),
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
        self._running = (self.model, request)
        self._show(f"Scoring {', '.join(request.methods)} on {Path(request.data).name}…")
        self.methods_box.collapse(animate=False)  # the results get the room; the title still names the methods
        self.runner.start(f"Trust report on {Path(request.data).name}", tasks.trust_report, self.model, request)

    def _reported(self, report: dict) -> None:
        """One row per score, one column per method (methods compare side by side in a narrow dock);
        each localization score with its chance value in brackets."""
        self.report, self._report_source = report, self._running
        localization = report["localization"]
        summary = localization["summary"]
        faith = (report["faithfulness"] or {}).get("summary", {})
        methods = list(summary)
        table = {**COLUMNS, "pointing_game_p": P_VALUE, **(FAITHFULNESS if faith else {})}
        rows, tips = [], []
        for key, (title, tip) in table.items():
            row = [title]
            for method in methods:
                entry = {**summary[method], **faith.get(method, {})}
                row.append(_cell(key, entry))
            rows.append(row)
            tip = f"{tip}. {CHANCE_TIP}" if key in COLUMNS and key != "with_region" else tip
            tips.append([tip] * (len(methods) + 1))
        self.table.set_rows(["score", *methods], rows, tips, stretch_values=True)
        self.method_choice.clear()
        self.method_choice.addItems(methods)
        best = localization["best"]
        if best["method"]:
            self.method_choice.setCurrentText(best["method"])
            self.best.setText(
                f"Best here: <b>{escape(best['method'], quote=False)}</b> ({escape(best['reason'], quote=False)})"
            )
        else:
            self.best.setText(f"No best method: {escape(best['reason'], quote=False)}.")
        self.use_button.setEnabled(bool(methods))
        self._show(self._outcome(report))
        self._log.info(
            f"Trust report on {report['images']:,} images (target {localization['target']}): "
            + "; ".join(
                f"{m} pointing game {number(s['pointing_game'])} (chance {number(s['chance_pointing_game'])})"
                for m, s in summary.items()
            )
            + f"; best: {best['method'] or 'none'} ({best['reason']})"
        )

    @staticmethod
    def _outcome(report: dict) -> str:
        """What was scored, refused, skipped and unreadable, in one status text."""
        localization = report["localization"]
        methods = list(localization["summary"])
        regions = localization["summary"][methods[0]]["with_region"] if methods else 0
        parts = [
            f"Scored {report['explained']:,} of {report['images']:,} images ({regions} maps with a region) "
            f"with {len(methods)} method(s), target: {TARGETS.get(localization['target'], localization['target'])}"
        ]
        if not localization["plan"].matched:
            parts.append("no image matched the ground truth (paths relative to the images folder)")
        refused = Counter(refusal["reason"] for refusal in localization["refused"])
        parts += [f"refused {count}: {reason}" for reason, count in refused.most_common()]
        parts += [f"skipped {method}: {reason}" for method, reason in localization["skipped_methods"].items()]
        if localization["failed"]:
            parts.append(f"{len(localization['failed'])} could not be read")
        if localization.get("thresholds"):
            parts.append(f"tuned thresholds {localization['thresholds']}")
        return "; ".join(parts) + "."

    def results_for(self, model) -> tuple[dict, tasks.TrustRequest] | None:
        """The last report and its request, when they are the given model's (for the evaluation report)."""
        if self.report is None or self._report_source[0] is not model:
            return None
        return self.report, self._report_source[1]

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


def _cell(key: str, entry: dict) -> str:
    value = entry.get(key)
    if key == "sanity":
        return "—" if value is None else "passed" if value["passed"] else "FAILED"
    if key == "with_region":
        return f"{value} / {entry['maps']}"
    if key == "pointing_game_p":
        return "—" if value is None else "< 0.001" if value < 0.001 else f"{value:.3f}"
    chance = entry.get(f"chance_{key}")
    return number(value) + (f" ({number(chance)})" if value is not None and chance is not None else "")
