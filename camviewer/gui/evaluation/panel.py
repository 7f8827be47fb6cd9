"""The Evaluation dock: the viewer's model on a dataset (or one split of it), as ``camviewer evaluate`` does.

    dataset + split + StudySetup (label mapping, positive class, operating point) --> worker
    (camviewer.core.evaluation.run.evaluate) --> confusion matrix, ROC curve, ReportTables (metrics with
    95% intervals, per class); a confusion-matrix cell --> ``cellChosen(paths, title, true class)``: the browser lists
    exactly those images, each shown with its heatmap.

A two-class evaluation needs its positive class: it is pre-filled from the model card and, when the
card names none, the user must pick it; it is printed next to sensitivity, specificity and the ROC.
Any class of more may be chosen too (one vs rest).
The split of a camviewer run is found by the engine (the split.csv beside the checkpoint). "Export
report…" writes one self-contained HTML report (``camviewer report``: model card, metrics with intervals,
curves, example maps per cell, and the Trust dock's tables when it scored the same model), with progress
and Cancel; "Export files…" writes the engine's report files. Neither replaces a file without asking.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from camviewer.gui.common.files import checkpoint_name, suggested_export_dir
from camviewer.gui.common.log_panel import LogPanel
from camviewer.gui.common.partitions import PartitionPermissions
from camviewer.gui.common.path_field import PathField
from camviewer.gui.common.reflow_splitter import ReflowSplitter
from camviewer.gui.common.result_table import number
from camviewer.gui.common.settings import Settings
from camviewer.gui.evaluation import tasks
from camviewer.gui.evaluation.confusion_view import ConfusionView
from camviewer.gui.evaluation.report_tables import ReportTables
from camviewer.gui.evaluation.roc_plot import RocPlot
from camviewer.gui.evaluation.study_setup import StudySetup
from camviewer.gui.jobs.controls import JobControls
from camviewer.gui.jobs.registry import WorkerRegistry
from camviewer.gui.jobs.runner import JobRunner

SPLITS = {"all": "All images", "train": "Training split", "val": "Validation split", "test": "Test split"}
CHART_WIDTH = 280  # the confusion matrix and the ROC need this much each, side by side
REPORT_FILES = (
    "metrics.json",
    "roc.csv",
    "predictions.csv",
    "confusion_matrix.png",
    "roc.png",
    "calibration.png",
    "training_curves.png",
)


class EvaluationPanel(QWidget):
    cellChosen = Signal(list, str, str)  # image paths, title for the browser, their true class

    def __init__(
        self, registry: WorkerRegistry, settings: Settings, log: LogPanel, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("evaluationPanel")
        self._registry, self._settings, self._log = registry, settings, log
        self.runner = JobRunner(registry, self)
        self.model = None  # the viewer's LoadedModel
        self.result = None  # EvaluationResult of the last run
        self._result_model = self._running_model = None  # the LoadedModel behind it / behind the running job
        self._result_name = ""
        self.model_label = QLabel("<i>No model loaded</i>", wordWrap=True)
        self.data = PathField(
            "Choose the data to evaluate",
            placeholder="dataset folder or CSV",
            tooltip="Class sub-folders, {train,val,test} folders or a CSV partition",
        )
        self.data.setText(settings.eval_dataset)
        self.split = QComboBox()
        for key, text in SPLITS.items():
            self.split.addItem(text, key)
        self.split.setCurrentIndex(max(0, self.split.findData(settings.eval_split)))
        self.split.setToolTip(
            "Which images: a split of the data's own layout, else of the run that trained the "
            "model (split.csv beside the checkpoint)"
        )
        self.setup = StudySetup(registry, settings)
        self.positive = self.setup.positive
        self.controls = JobControls(self.runner, "Evaluate", cancelled_text="Evaluation cancelled.")
        self.controls.run_button.setToolTip("Predict every image and compute the metrics (in the background)")
        self.confusion = ConfusionView()
        self.roc = RocPlot()
        self.tables = ReportTables()
        self.metrics = self.tables.summary
        self.export_button = QPushButton("Export files…", enabled=False)
        self.export_button.setToolTip("metrics.json, roc.csv, predictions.csv and the figures, into a folder")
        self.report_runner = JobRunner(registry, self)
        self.report_controls = JobControls(self.report_runner, "Export report…", cancelled_text="Report cancelled.")
        self.report_controls.run_button.setToolTip(
            "One HTML file to send: model card, metrics with intervals, curves, example images and their "
            "maps for each confusion-matrix cell, and the Trust dock's tables for this model"
        )
        self.report_controls.run_button.setEnabled(False)
        # The Trust dock's last results for a model, as (report, request), or None: set by the workbench.
        self.trust_results: Callable[[object], tuple | None] = lambda model: None
        self._layout()
        self.controls.runClicked.connect(self.start)
        self.controls.runningChanged.connect(
            lambda running: self.export_button.setEnabled(not running and self.result is not None)
        )
        self.export_button.clicked.connect(self.choose_report_folder)
        self.report_controls.runClicked.connect(self.choose_html_report)
        self.report_runner.returned.connect(self._report_written)
        self.data.chosen.connect(self.setup.set_data)
        self.confusion.cellChosen.connect(self._cell_chosen)
        self.runner.returned.connect(self._evaluated)
        self._partitions = PartitionPermissions(self)
        self._partitions.retry_on(self.runner, self.start)
        self.set_model(None)

    def _layout(self) -> None:
        """The setup (data, classes, labels) above the results; once evaluated, the results get most of the height."""
        form = QGridLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.addWidget(QLabel("Data"), 0, 0)
        form.addWidget(self.data, 0, 1, 1, 3)
        form.addWidget(QLabel("Images"), 1, 0)
        form.addWidget(self.split, 1, 1)
        form.setColumnStretch(1, 1)
        setup = QWidget()
        setup_layout = QVBoxLayout(setup)
        setup_layout.setContentsMargins(0, 0, 0, 0)
        setup_layout.addWidget(self.model_label)
        setup_layout.addLayout(form)
        setup_layout.addWidget(self.setup)
        setup_layout.addStretch(1)
        scroll = QScrollArea(widgetResizable=True, frameShape=QFrame.Shape.NoFrame)
        scroll.setWidget(setup)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        caption = QLabel(
            "<b>Confusion matrix</b> — rows: true class, columns: predicted class. Click a cell to browse its images.",
            wordWrap=True,
        )
        caption.setStyleSheet("color: #444")
        charts = ReflowSplitter(CHART_WIDTH)  # side by side when the dock is wide, else stacked
        charts.addWidget(self.confusion)
        charts.addWidget(self.roc)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.controls)
        top_layout.addWidget(caption)
        top_layout.addWidget(charts, 1)
        self.results = results = QSplitter(Qt.Orientation.Vertical, childrenCollapsible=False)
        results.addWidget(top)
        results.addWidget(self.tables)
        results.setSizes([300, 190])
        results.setStretchFactor(0, 1)  # room first for the charts; the tables scroll
        results.setStretchFactor(1, 0)
        self.splitter = QSplitter(Qt.Orientation.Vertical, childrenCollapsible=False)
        self.splitter.addWidget(scroll)
        self.splitter.addWidget(results)
        self.splitter.setSizes([300, 400])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.splitter, 1)
        row = QHBoxLayout()
        row.addWidget(self.report_controls, 1)
        row.addWidget(self.export_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(row)

    def show_results(self) -> None:
        """Evaluated: the results take most of the panel (the setup scrolls above them)."""
        total = sum(self.splitter.sizes())
        self.splitter.setSizes([round(total * 0.1), total - round(total * 0.1)])  # drag it back to edit the setup
        charts = sum(self.results.sizes()) - self.tables.minimumSizeHint().height()
        self.results.setSizes([charts, self.tables.minimumSizeHint().height()])

    # ------------------------------------------------------------------------------------ model
    def set_model(self, model) -> None:
        """The viewer's model (``LoadedModel`` or None); its card pre-fills the positive class."""
        self.model = model
        self.setup.set_model(model)
        self._mark_stale()
        if model is None:
            self.model_label.setText("<i>No model loaded: open one (Ctrl+M) or train one.</i>")
            return
        card = model.card
        name = checkpoint_name(model.source)
        self.model_label.setText(f"Model: <b>{name}</b> · {card.arch} · {', '.join(card.class_names)}")
        self.model_label.setToolTip(str(model.source or ""))

    def offer_held_out(self, data: str, split: str) -> None:
        """A model trained in the window: its training data, restricted to the split it never trained on."""
        self.data.set_path(data)
        self.split.setCurrentIndex(max(0, self.split.findData(split)))

    def _mark_stale(self) -> None:
        """Results of another model stay readable, but their cells no longer browse (the new model would explain them)."""
        stale = self.result is not None and self._result_model is not self.model
        self.confusion.setEnabled(not stale)
        if stale:
            self._show(f"Shown: the results of {self._result_name}. Evaluate again for the model loaded now.")

    def positive_class(self) -> str | None:
        return self.setup.positive_class()

    # ------------------------------------------------------------------------------------- runs
    def start(self) -> None:
        if self.model is None:
            return self._show("Open or train a model first.", error=True)
        data = self.data.text()
        if not data:
            return self._show("Choose the data to evaluate.", error=True)
        self.setup.set_data(data)  # the table follows; the run takes this model and dataset's remembered entries
        problem = self.setup.problem()
        if problem:
            return self._show(problem, error=True)
        split = self.split.currentData()
        self._settings.eval_dataset, self._settings.eval_split = data, split
        self.setup.remember()
        self._show(f"Evaluating on {Path(data).name} ({SPLITS[split].lower()})…")
        name = checkpoint_name(self.model.source, "the model")
        self._running_model = self.model
        self.runner.start(
            f"Evaluating {name} on {Path(data).name}",
            tasks.evaluate_model,
            self.model,
            data,
            None if split == "all" else split,
            self.positive_class(),
            self.setup.label_map(),
            self.setup.operating_rule(),
            self._partitions.allowed(data),
        )

    def _evaluated(self, result) -> None:
        self.result, self._result_model = result, self._running_model
        self.report_controls.run_button.setEnabled(not self.report_runner.running())
        model = self._result_model
        self._result_name = checkpoint_name(model.source, "the demo model")
        report = result.report
        skipped = f"; {len(result.skipped)} unreadable image(s) skipped" if result.skipped else ""
        source = f" (split from {result.split_source})" if result.split_source else ""
        if report is None:
            self.confusion.set_matrix([], [])
            self.roc.set_curves({}, None, "multi-label model: per-label AUC in the table")
            self.tables.show_multilabel(result.multilabel)
            line = f"Evaluated {result.multilabel['n']:,} images (multi-label){source}{skipped}."
        else:
            self.confusion.set_matrix(report.class_names, report.confusion_matrix)
            self.roc.set_curves(result.roc, report.positive_class, report.roc_auc_note)
            self.tables.show_report(report)
            line = f"Evaluated {report.n:,} images{source}: accuracy {report.accuracy:.3f}"
            if report.positive_class is not None:
                line += (
                    f", sensitivity {number(report.sensitivity)}, specificity {number(report.specificity)} "
                    f"(positive class: {report.positive_class})"
                )
            line += f"{skipped}."
        self._show(line)
        self._log.info(line)
        self.show_results()
        self._mark_stale()  # the viewer may have changed model while this ran

    def _cell_chosen(self, true_class: str, predicted: str) -> None:
        if self.result is None or self.result.report is None:
            return
        paths = self.result.cell_paths(true_class, predicted)
        self.cellChosen.emit(paths, f"true {true_class} → predicted {predicted} ({len(paths)})", true_class)

    def _show(self, text: str, error: bool = False) -> None:
        self.controls.say(text, error)

    # ------------------------------------------------------------------------------------ export
    def choose_report_folder(self) -> None:
        if self.result is None:
            return self._show("Evaluate first; the report is written from the last evaluation.", error=True)
        start = suggested_export_dir(self._settings.last_export_dir)
        folder = QFileDialog.getExistingDirectory(self, "Export the evaluation report into", str(start))
        if folder:
            self.export_report(folder)

    def export_report(self, folder: str | Path) -> None:
        folder = Path(folder)
        existing = [name for name in REPORT_FILES if (folder / name).exists()]
        if existing:
            answer = QMessageBox.question(
                self,
                "Replace the existing report?",
                f"{folder} already holds {', '.join(existing)}. Replace these files?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        self._settings.last_export_dir = str(folder)
        model = self._result_model  # the training curves are those of the model that was evaluated
        checkpoint = str(model.source) if model is not None and model.source else None
        self._registry.start(
            f"Writing the report to {folder}",
            tasks.write_evaluation_report,
            self.result,
            str(folder),
            checkpoint,
            returned=self._exported,
        )

    def choose_html_report(self) -> None:
        if self.result is None:
            return self.report_controls.say("Evaluate first; the report is written from the last evaluation.", True)
        model = self._result_model
        name = Path(model.source).stem if model is not None and model.source else "evaluation"
        start = suggested_export_dir(self._settings.last_export_dir) / f"{name}-report.html"
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Export the evaluation report",
            str(start),
            "HTML (*.html)",
            options=QFileDialog.Option.DontConfirmOverwrite,  # asked below, as for every export
        )
        if path:
            self.export_html(path)

    def export_html(self, path: str | Path) -> None:
        """One HTML report of the last evaluation (in a worker: the example maps take a while)."""
        path = Path(path)
        if path.exists():
            answer = QMessageBox.question(
                self,
                "Replace the existing report?",
                f"{path} exists. Replace it?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        self._settings.last_export_dir = str(path.parent)
        model = self._result_model
        history = Path(model.source).parent / "history.csv" if model is not None and model.source else None
        self.report_controls.say(f"Writing {path.name}: example maps for each confusion-matrix cell…")
        self.report_runner.start(
            f"Writing the report {path.name}",
            tasks.write_html_report,
            self.result,
            model,
            str(path),
            history,
            self.trust_results(model),
        )

    def _report_written(self, path) -> None:
        line = f"Wrote the report to {path}."
        self._log.info(line)
        self.report_controls.say(line)

    def _exported(self, files: dict) -> None:
        folder = Path(next(iter(files.values()))).parent if files else ""
        line = f"Wrote the evaluation report to {folder}: {', '.join(files)}"
        self._log.info(line)
        self._show(line)
