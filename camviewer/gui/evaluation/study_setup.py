"""What an evaluation asks besides the data: the label mapping, the positive class and the operating point.

    data chosen --> its labels read in a worker (no pixel decoded) --> LabelMappingTable (the user's entries
    remembered per model and dataset) --> the evaluated classes fill the positive-class list --> a positive
    class enables the operating-point choice.

Any class may be the positive one (one vs rest); with exactly two evaluated classes one is required, as
``camviewer evaluate`` requires it. A multi-label model has none: each label is its own positive class.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QComboBox, QLabel, QVBoxLayout, QWidget

from camviewer.gui.common.reflow_form import ReflowForm
from camviewer.gui.common.settings import Settings
from camviewer.gui.evaluation import tasks
from camviewer.gui.evaluation.mapping_table import LabelMappingTable
from camviewer.gui.evaluation.operating_choice import OperatingPointChoice
from camviewer.gui.jobs.latest import Latest
from camviewer.gui.jobs.registry import WorkerRegistry, describe_error

NO_POSITIVE = {True: "choose…", False: "none: every class one vs rest"}  # keyed by "exactly two classes"


class StudySetup(QWidget):
    def __init__(self, registry: WorkerRegistry, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._registry, self._settings = registry, settings
        self.model = None
        self.data = ""
        self._scans = Latest()
        self.positive = QComboBox()
        self.positive.setToolTip(
            "The class whose sensitivity, specificity, ROC curve and operating point are reported (one vs rest)"
        )
        self.operating = OperatingPointChoice()
        self.operating.set_rule(settings.eval_operating_point)
        self.mapping = LabelMappingTable()
        choices = ReflowForm(max_columns=2)  # side by side in a wide dock, one above the other in a narrow one
        choices.grid.setContentsMargins(0, 0, 0, 0)
        choices.add_row("Positive class", self.positive)
        choices.add_row("Operating point", self.operating)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(choices)
        layout.addWidget(QLabel("Labels of the data, and the model's class each one is scored as:"))
        layout.addWidget(self.mapping)
        self.mapping.mappingChanged.connect(self._mapping_edited)
        self.positive.currentIndexChanged.connect(self._positive_changed)
        self.set_model(None)

    # ------------------------------------------------------------------------------------ inputs
    def set_model(self, model) -> None:
        self.model = model
        self._show_mapping(self.mapping.labels)

    def set_data(self, data: str) -> None:
        """Read the data's labels in a worker (the latest request wins)."""
        if data == self.data:
            return
        self.data = data
        ticket = self._scans.next()
        self._show_mapping([])
        if not data or not Path(data).exists():
            return
        self._registry.start(
            f"Reading the labels of {Path(data).name}",
            tasks.dataset_labels,
            data,
            background=True,
            returned=self._scans.if_current(ticket, self._show_mapping),
            errored=self._scans.if_current(ticket, lambda error: self._scan_failed(data, error)),
        )

    def _scan_failed(self, data: str, error: BaseException) -> None:
        self._show_mapping([])
        self.mapping.note.setText(describe_error(f"Reading {data}", error)[0])

    # ------------------------------------------------------------------------------------ answers
    def label_map(self) -> str:
        return self.mapping.label_map()

    def positive_class(self) -> str | None:
        return self.positive.currentData()

    def operating_rule(self) -> str:
        return self.operating.rule() if self.positive_class() is not None else "argmax"

    def problem(self) -> str | None:
        """Why an evaluation cannot start with these answers, or None."""
        if self.mapping.problem:
            return f"Label mapping: {self.mapping.problem}"
        two = len(self.mapping.evaluated_classes()) == 2
        if self.positive.isEnabled() and self.positive_class() is None and two:
            return (
                "Choose the positive class: sensitivity and specificity are those of that class, "
                "and the model card names none."
            )
        return None

    def remember(self) -> None:
        self._settings.eval_operating_point = self.operating.rule()

    # ------------------------------------------------------------------------------------ internals
    def _model_key(self) -> str:
        return str(self.model.source or self.model.card.arch) if self.model is not None else ""

    def _show_mapping(self, labels: list[str]) -> None:
        classes = list(self.model.card.class_names) if self.model is not None else []
        saved = self._settings.label_map(self._model_key(), self.data) if self.model is not None else ""
        self.mapping.set_labels(labels if classes else [], classes, saved)
        self._fill_positive()

    def _mapping_edited(self) -> None:
        if self.model is not None and self.data:
            self._settings.remember_label_map(self._model_key(), self.data, self.mapping.label_map())
        self._fill_positive()

    def _fill_positive(self) -> None:
        """The evaluated classes, keeping the user's choice, else the card's positive class (or its group)."""
        kept = self.positive.currentData()
        self.positive.blockSignals(True)
        self.positive.clear()
        card = self.model.card if self.model is not None else None
        if card is None or card.head == "sigmoid":
            self.positive.addItem("each label" if card is not None else "—", None)
            self.positive.setEnabled(False)
        else:
            names = self.mapping.evaluated_classes()
            self.positive.addItem(NO_POSITIVE[len(names) == 2], None)
            for name in names:
                self.positive.addItem(name, name)
            groups = self.mapping.mapping.groups() if self.mapping.mapping is not None and self.mapping.labels else []
            from_card = next((name for name, members in groups if card.positive_class in members), card.positive_class)
            for wanted in (kept, from_card):
                if wanted is not None and self.positive.findData(wanted) > 0:
                    self.positive.setCurrentIndex(self.positive.findData(wanted))
                    break
            self.positive.setEnabled(True)
        self.positive.blockSignals(False)
        self._positive_changed()

    def _positive_changed(self) -> None:
        self.operating.setEnabled(self.positive_class() is not None)
