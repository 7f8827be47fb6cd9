"""The label mapping as an editable table: each data label, the model class(es) it stands for, and how it matched.

The matching itself is core's (:class:`camviewer.core.data.labels.LabelMapping`, torch-free): the table only
keeps the user's own entries (``overrides``, a label map) and shows what they make of the data. A cell takes
one class, or several joined by ``|`` (a group, scored as one class); an empty cell goes back to the
automatic match. Labels that match nothing are flagged and named under the table.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStyledItemDelegate,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from camviewer.core.data.labels import GROUP_SEPARATOR, LabelMapping, LabelMappingError, format_label_map

HOW_TEXT = {"exact": "same name", "normalized": "case/punctuation", "explicit": "your entry", "unmatched": "no match"}
UNMATCHED = QColor("#fde2e2")
EDITED = QColor("#e6f0ff")
ROW_HEIGHT = 22
MAX_VISIBLE_ROWS = 6


class _ClassEditor(QStyledItemDelegate):
    """An editable combo of the model's classes; type ``A | B`` for a group."""

    def __init__(self, table: LabelMappingTable) -> None:
        super().__init__(table)
        self._table = table

    def createEditor(self, parent, option, index):
        editor = QComboBox(parent, editable=True)
        editor.addItems(self._table.model_classes)
        return editor

    def setEditorData(self, editor, index) -> None:
        editor.setEditText(index.data() or "")

    def setModelData(self, editor, model, index) -> None:
        model.setData(index, editor.currentText())


class LabelMappingTable(QWidget):
    mappingChanged = Signal()  # the user changed an entry (or reset them); ``mapping`` and ``problem`` are new

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("labelMappingTable")
        self.labels: list[str] = []
        self.model_classes: list[str] = []
        self.overrides: dict[str, list[str]] = {}
        self.mapping: LabelMapping | None = None
        self.problem: str | None = None  # why the mapping cannot be used as it stands
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Data label", "Model class(es)", "Match"])
        self.table.horizontalHeaderItem(1).setToolTip(
            "The class this label stands for; several joined by | make a group, scored as one class "
            "(probabilities summed). Clear a cell to go back to the automatic match."
        )
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.SelectedClicked
        )
        self.table.setItemDelegateForColumn(1, _ClassEditor(self))
        self.note = QLabel(wordWrap=True)
        self.note.setTextFormat(Qt.TextFormat.RichText)
        self.reset_button = QPushButton("Automatic", enabled=False)
        self.reset_button.setToolTip(
            "Forget your entries: match labels to classes by name (case and punctuation aside)"
        )
        row = QHBoxLayout()
        row.addWidget(self.note, 1)
        row.addWidget(self.reset_button, alignment=Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addLayout(row)
        self.table.itemChanged.connect(self._edited)
        self.reset_button.clicked.connect(self.reset)
        self._show()

    # ------------------------------------------------------------------------------------ state
    def set_labels(self, labels: list[str], model_classes: list[str], label_map: str | dict | None = None) -> None:
        """The data's labels, the model's classes and the user's earlier entries (a label map, or None)."""
        from camviewer.core.data.labels import parse_label_map

        self.labels, self.model_classes = list(labels), list(model_classes)
        try:
            entries = parse_label_map(label_map) if isinstance(label_map, str) else dict(label_map or {})
        except LabelMappingError:
            entries = {}
        self.overrides = {label: list(classes) for label, classes in entries.items()}  # kept while labels load
        self._rebuild()

    def label_map(self) -> str:
        """The user's entries as label-map text (what evaluation and the settings take), in the model's spelling."""
        if self.mapping is None:
            return format_label_map(self.overrides)
        return format_label_map(
            {label: self.mapping.classes_of(label) or classes for label, classes in self.overrides.items()}
        )

    def evaluated_classes(self) -> list[str]:
        """The classes an evaluation with this mapping scores (the model's when nothing is known yet)."""
        if self.mapping is None or not self.labels:
            return list(self.model_classes)
        return [name for name, _ in self.mapping.groups()]

    def reset(self) -> None:
        self.overrides = {}
        self._rebuild()
        self.mappingChanged.emit()

    def _edited(self, item: QTableWidgetItem) -> None:
        if item.column() != 1:
            return
        label = self.labels[item.row()]
        names = [name.strip() for name in item.text().split(GROUP_SEPARATOR) if name.strip()]
        if names:
            self.overrides[label] = names
        else:
            self.overrides.pop(label, None)
        self._rebuild()
        self.mappingChanged.emit()

    def _rebuild(self) -> None:
        try:
            self.mapping = LabelMapping.build(self.labels, self.model_classes, self.overrides)
            unmatched = self.mapping.unmatched
            self.problem = f"No model class for {', '.join(map(repr, unmatched))}: choose one." if unmatched else None
        except LabelMappingError as error:
            self.mapping, self.problem = None, str(error)
        self._show()

    # ------------------------------------------------------------------------------------ view
    def _show(self) -> None:
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.labels))
        for row, label in enumerate(self.labels):
            match = next((m for m in self.mapping.matches if m.label == label), None) if self.mapping else None
            classes = list(match.classes) if match and match.classes else self.overrides.get(label, [])
            how = "explicit" if label in self.overrides else (match.how if match else "unmatched")
            cells = [
                label,
                f" {GROUP_SEPARATOR} ".join(classes),
                HOW_TEXT[how] + (" (group)" if len(classes) > 1 else ""),
            ]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column != 1:
                    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                if how == "unmatched" or (label in self.overrides and self.mapping is None):
                    item.setBackground(QBrush(UNMATCHED))
                elif label in self.overrides:
                    item.setBackground(QBrush(EDITED))
                self.table.setItem(row, column, item)
        self.table.resizeColumnToContents(0)
        self.table.resizeColumnToContents(2)
        visible = min(max(len(self.labels), 1), MAX_VISIBLE_ROWS)  # as tall as its rows, then it scrolls
        self.table.setFixedHeight(self.table.horizontalHeader().sizeHint().height() + visible * ROW_HEIGHT + 4)
        self.table.blockSignals(False)
        self.reset_button.setEnabled(bool(self.overrides))
        self.note.setText(self._note())

    def _note(self) -> str:
        if not self.labels:
            return "<i>The data's labels appear here once data and model are chosen.</i>"
        if self.problem:
            return f"<span style='color:#b00020'>{html.escape(self.problem)}</span>"
        lines = []
        groups = [name for name, members in self.mapping.groups() if len(members) > 1]
        if groups:
            lines.append(f"Scored as one class each (probabilities summed): {html.escape(', '.join(groups))}.")
        uncovered = self.mapping.uncovered_classes()
        if uncovered:
            lines.append(
                f"Model classes no label stands for (predicted, never true): {html.escape(', '.join(uncovered))}."
            )
        return "<br>".join(lines) or "Every label is a model class."
