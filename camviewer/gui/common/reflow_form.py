"""A form of label-field pairs laid out in as many columns as its width allows (one to ``max_columns``).

A dock panel is narrow beside a large image view and wide on a big screen: one column then reads well
without squeezing fields until their text is cut, and the wide case does not waste a screen's height.
The column count is chosen from the pairs' own size hints, again whenever the width changes.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QLayout, QWidget

SPACING = 12  # between a field and the next pair's label


class ReflowForm(QWidget):
    def __init__(self, max_columns: int = 3, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.max_columns = max_columns
        self.pairs: list[tuple[QLabel | None, QWidget]] = []
        self.grid = QGridLayout(self)
        self.grid.setHorizontalSpacing(SPACING)
        self.grid.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)  # may narrow to one column
        self.columns = 0

    def add_row(self, text: str | None, widget: QWidget) -> QLabel | None:
        """A labelled field, or (``text`` None) a widget that fills its pair's place, e.g. a check box."""
        label = None
        if text is not None:
            label = QLabel(text)
            label.setToolTip(widget.toolTip())
            label.setBuddy(widget)
        self.pairs.append((label, widget))
        self._arrange(self._columns_for(self.width()), force=True)
        return label

    def pair_width(self) -> int:
        """The widest pair's natural width (label, spacing, field), what one column needs."""
        labels = max((label.sizeHint().width() for label, _ in self.pairs if label is not None), default=0)
        fields = max((widget.sizeHint().width() for _, widget in self.pairs), default=0)
        return labels + self.grid.horizontalSpacing() + fields

    def minimumSizeHint(self) -> QSize:
        """As narrow as one column: the form reflows instead of widening its dock."""
        margins = self.grid.contentsMargins()
        labels = max((label.minimumSizeHint().width() for label, _ in self.pairs if label is not None), default=0)
        fields = max((widget.minimumSizeHint().width() for _, widget in self.pairs), default=0)
        width = labels + self.grid.horizontalSpacing() + fields + margins.left() + margins.right()
        return QSize(width, self.grid.minimumSize().height())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._arrange(self._columns_for(event.size().width()))

    def _columns_for(self, width: int) -> int:
        margins = self.grid.contentsMargins()
        usable = width - margins.left() - margins.right()
        need = self.pair_width() + SPACING
        return max(1, min(self.max_columns, (usable + SPACING) // max(need, 1)))

    def _arrange(self, columns: int, force: bool = False) -> None:
        if columns == self.columns and not force:
            return
        self.columns = columns
        for label, widget in self.pairs:
            for item in (label, widget):
                if item is not None:
                    self.grid.removeWidget(item)
        rows = -(-len(self.pairs) // columns)
        for index, (label, widget) in enumerate(self.pairs):
            column, row = divmod(index, rows)  # filled down the columns: related fields stay together
            if label is None:
                self.grid.addWidget(widget, row, 2 * column, 1, 2)
            else:
                self.grid.addWidget(label, row, 2 * column, alignment=Qt.AlignmentFlag.AlignRight)
                self.grid.addWidget(widget, row, 2 * column + 1)
        for column in range(2 * self.max_columns):
            self.grid.setColumnStretch(column, 1 if column % 2 and column < 2 * columns else 0)
