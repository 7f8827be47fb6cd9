"""A splitter that puts its parts side by side when it is wide enough, and stacks them when it is not.

A dock beside a large image view is narrow: two plots side by side would cut their axis labels there,
while on a wide screen stacking them would waste the width.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSplitter, QWidget


class ReflowSplitter(QSplitter):
    def __init__(self, min_part_width: int, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.min_part_width = min_part_width
        self.setChildrenCollapsible(False)

    def resizeEvent(self, event) -> None:
        wide = event.size().width() >= self.count() * self.min_part_width
        orientation = Qt.Orientation.Horizontal if wide else Qt.Orientation.Vertical
        if orientation != self.orientation():
            self.setOrientation(orientation)
            if wide:
                self.setSizes([event.size().width() // max(self.count(), 1)] * self.count())
            else:  # stacked: the parts above get their minimum height, the last one the rest
                above = [self.widget(index).minimumSizeHint().height() for index in range(self.count() - 1)]
                self.setSizes([*above, max(event.size().height() - sum(above), 0)])
        super().resizeEvent(event)
