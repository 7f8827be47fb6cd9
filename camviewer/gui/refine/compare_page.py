"""Step 5 of the refinement wizard: the measurements before and after, and the same images' maps side by side."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QCheckBox, QGridLayout, QLabel, QScrollArea, QSplitter, QVBoxLayout, QWidget, QWizardPage

from camviewer.gui.common.result_table import ResultTable, number
from camviewer.gui.refine.state import RefineState, comparison_rows


def pixmap(rgb: np.ndarray) -> QPixmap:
    rgb = np.ascontiguousarray(rgb)
    height, width = rgb.shape[:2]
    return QPixmap.fromImage(QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy())


def change(before: float | None, after: float | None, share: bool) -> str:
    if before is None or after is None:
        return "—"
    delta = after - before
    return f"{delta * 100:+.1f} pt" if share else f"{delta:+.3f}"


class ComparePage(QWizardPage):
    def __init__(self, state: RefineState) -> None:
        super().__init__()
        self.state = state
        self.setTitle("5. Before and after")
        self.setSubTitle("Measured on the same held-out images with the same ground truth and CAM method.")
        self.table = ResultTable()
        self.previews = QWidget()
        self.grid = QGridLayout(self.previews)
        scroll = QScrollArea(widgetResizable=True)
        scroll.setWidget(self.previews)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(scroll)
        splitter.setSizes([200, 260])
        self.load_box = QCheckBox("Load the fine-tuned model into the viewer on Finish", checked=True)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.load_box)
        self.setFinalPage(True)

    def initializePage(self) -> None:
        s = self.state
        rows = comparison_rows(s.before, s.after)
        self.table.set_rows(
            ["measure", "before", "after", "change"],
            [
                (name, number(before, percent=share), number(after, percent=share), change(before, after, share))
                for name, before, after, share in rows
            ],
        )
        self._show_previews()

    def _show_previews(self) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        before = dict(self.state.before.previews) if self.state.before else {}
        after = dict(self.state.after.previews) if self.state.after else {}
        method = self.state.method
        for column, title in enumerate(("image", f"before ({method})", f"after ({method})")):
            header = QLabel(f"<b>{title}</b>")
            self.grid.addWidget(header, 0, column, alignment=Qt.AlignmentFlag.AlignCenter)
        for row, key in enumerate([key for key in before if key in after], start=1):
            name = QLabel(key, wordWrap=True)
            name.setMaximumWidth(180)
            self.grid.addWidget(name, row, 0)
            for column, rgb in ((1, before[key]), (2, after[key])):
                label = QLabel()
                label.setPixmap(pixmap(rgb))
                label.setToolTip(f"{key}: {self.state.method} map, ground truth outlined in white")
                self.grid.addWidget(label, row, column, alignment=Qt.AlignmentFlag.AlignCenter)

    def preview_count(self) -> int:
        return sum(
            1
            for index in range(self.grid.count())
            if isinstance(self.grid.itemAt(index).widget(), QLabel)
            and self.grid.itemAt(index).widget().pixmap() is not None
            and not self.grid.itemAt(index).widget().pixmap().isNull()
        )
