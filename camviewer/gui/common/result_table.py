"""A read-only table of results (metrics, scores per method, before/after), selectable and copyable as text."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QApplication, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

HEADER_PADDING = 16  # around a header's text, as the style draws it
MIN_SECTION = 40


def number(value, digits: int = 3, percent: bool = False) -> str:
    """A score as the tables show it: 3 decimals (or a percentage), "—" when undefined."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        if value != value:  # NaN
            return "—"
        return f"{value:.{max(0, digits - 2)}%}" if percent else f"{value:.{digits}f}"
    return str(value)


class ResultTable(QTableWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 0, parent)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(22)
        self.setWordWrap(False)

    def set_rows(
        self,
        headers: Sequence[str],
        rows: Sequence[Sequence[str]],
        tooltips: Sequence[Sequence[str] | None] | None = None,
        header_tips: Sequence[str] | None = None,
        stretch_values: bool = False,
    ) -> None:
        """``stretch_values``: the value columns share the width (a comparison), else the first column takes it."""
        self.clear()
        self.setColumnCount(len(headers))
        self.setRowCount(len(rows))
        self.setHorizontalHeaderLabels(list(headers))
        for column, tip in enumerate(header_tips or []):
            if tip:
                self.horizontalHeaderItem(column).setToolTip(tip)
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(str(text))
                if c > 0:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                tip = tooltips[r] if tooltips and r < len(tooltips) else None
                if tip and c < len(tip) and tip[c]:
                    item.setToolTip(tip[c])
                self.setItem(r, c, item)
        header = self.horizontalHeader()
        # a stretched column is never narrower than its title: a narrow dock scrolls, it does not cut "gradcam++"
        widest = max((header.fontMetrics().horizontalAdvance(str(text)) for text in headers[1:]), default=0)
        header.setMinimumSectionSize(max(MIN_SECTION, widest + HEADER_PADDING))
        header.setSectionResizeMode(
            QHeaderView.ResizeMode.Stretch if stretch_values else QHeaderView.ResizeMode.ResizeToContents
        )
        if headers:
            header.setSectionResizeMode(
                0, QHeaderView.ResizeMode.ResizeToContents if stretch_values else QHeaderView.ResizeMode.Stretch
            )

    def text(self, row: int, column: int) -> str:
        return self.item(row, column).text()

    def column_texts(self, column: int) -> list[str]:
        return [self.item(row, column).text() for row in range(self.rowCount())]

    def row_of(self, first_cell: str) -> int:
        return next((row for row in range(self.rowCount()) if self.item(row, 0).text() == first_cell), -1)

    def keyPressEvent(self, event) -> None:
        if event.matches(QKeySequence.StandardKey.Copy):
            rows = sorted({index.row() for index in self.selectedIndexes()}) or range(self.rowCount())
            lines = ["\t".join(self.horizontalHeaderItem(c).text() for c in range(self.columnCount()))]
            lines += ["\t".join(self.item(r, c).text() for c in range(self.columnCount())) for r in rows]
            QApplication.clipboard().setText("\n".join(lines))
            return
        super().keyPressEvent(event)
