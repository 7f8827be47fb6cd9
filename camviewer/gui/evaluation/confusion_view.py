"""A confusion matrix as a clickable grid: rows are the true class, columns the prediction.

Each cell shows its count and its share of the true class (the row), shaded by that share so a small
class's errors stand out as much as a large one's. Clicking a cell (or Enter on it) asks to browse
exactly those images. Class names in the column headers wrap between words ("Bacterial / Pneumonia")
and a column is never narrower than its longest word: a narrow dock scrolls, it does not cut names.
"""

from __future__ import annotations

import re

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

LIGHT, DARK = QColor("#f8f9fa"), QColor("#1864ab")
HEADER_PADDING = 16  # around a header's text, as the style draws it
MAX_ROWS_SHOWN = 6


class ConfusionView(QTableWidget):
    cellChosen = Signal(str, str)  # true class, predicted class

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 0, parent)
        self.setObjectName("confusionView")
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setWordWrap(True)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.horizontalHeader().setMinimumSectionSize(56)
        self.verticalHeader().setMinimumSectionSize(40)
        self.setToolTip("Rows: true class · columns: predicted class. Click a cell to browse its images.")
        self.setStyleSheet("QTableWidget::item:selected { border: 2px solid #e8590c; }")
        self.class_names: list[str] = []
        self.matrix: list[list[int]] = []
        self.cellClicked.connect(self._chosen)
        self.cellActivated.connect(self._chosen)

    def set_matrix(self, class_names: list[str], matrix: list[list[int]]) -> None:
        self.class_names, self.matrix = list(class_names), [list(map(int, row)) for row in matrix]
        self.clear()
        size = len(class_names)
        self.setRowCount(size)
        self.setColumnCount(size)
        headers = [header_text(name) for name in class_names]
        self.setHorizontalHeaderLabels(headers)
        self.setVerticalHeaderLabels(class_names)
        metrics = self.horizontalHeader().fontMetrics()
        widest = max((metrics.horizontalAdvance(line) for text in headers for line in text.split("\n")), default=0)
        self.horizontalHeader().setMinimumSectionSize(max(56, widest + HEADER_PADDING))
        shown_rows = min(size, MAX_ROWS_SHOWN)  # more classes scroll
        header = self.horizontalHeader().sizeHint().height()
        self.setMinimumHeight(header + shown_rows * self.verticalHeader().minimumSectionSize() + 4)
        for index, name in enumerate(class_names):
            self.horizontalHeaderItem(index).setToolTip(f"predicted {name}")
            self.verticalHeaderItem(index).setToolTip(f"true {name}")
        bold = QFont(self.font())
        bold.setBold(True)
        for row, counts in enumerate(self.matrix):
            total = sum(counts)
            for column, count in enumerate(counts):
                share = count / total if total else 0.0
                item = QTableWidgetItem(f"{count:,}\n{share:.0%}" if count else "0")
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                item.setBackground(_shade(share))
                item.setForeground(QColor("white") if share > 0.55 else QColor("#212529" if count else "#adb5bd"))
                if row == column:
                    item.setFont(bold)
                item.setToolTip(
                    f"true {class_names[row]} → predicted {class_names[column]}: {count:,} image"
                    f"{'s' if count != 1 else ''} ({share:.0%} of the true {class_names[row]} images)."
                    "\nClick to browse them with their heatmaps."
                )
                self.setItem(row, column, item)

    def total(self) -> int:
        return sum(sum(row) for row in self.matrix)

    def cell_text(self, true_class: str, predicted: str) -> str:
        return self.item(self.class_names.index(true_class), self.class_names.index(predicted)).text()

    def choose(self, true_class: str, predicted: str) -> None:
        """Select a cell as a click would (tests, keyboard users)."""
        row, column = self.class_names.index(true_class), self.class_names.index(predicted)
        self.setCurrentCell(row, column)
        self._chosen(row, column)

    def _chosen(self, row: int, column: int) -> None:
        if 0 <= row < len(self.class_names) and 0 <= column < len(self.class_names):
            self.cellChosen.emit(self.class_names[row], self.class_names[column])


def _shade(share: float) -> QColor:
    t = min(max(share, 0.0), 1.0)
    return QColor(*(round(a + (b - a) * t) for a, b in zip(LIGHT.getRgb()[:3], DARK.getRgb()[:3])))


def header_text(name: str) -> str:
    """A class name on as many lines as it has words ("Bacterial Pneumonia" -> two lines; "a_b" breaks after _)."""
    return "\n".join(part for part in re.split(r"(?<=[_-])|\s+", name) if part)
