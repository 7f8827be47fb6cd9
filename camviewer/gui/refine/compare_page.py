"""Step 5 of the refinement wizard: the measurements before and after, and the same images' maps side by side.

The maps are shown in the viewer's own compare view (the one that puts two models side by side): pick an
image in the list, its map before and after fine-tuning appear next to each other, with the ground
truth outlined, zoomed and panned together.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QPainterPath
from PySide6.QtWidgets import QCheckBox, QLabel, QListWidget, QSplitter, QVBoxLayout, QWizardPage

from camviewer.core.trust.comparison import TOLERANCE, compare
from camviewer.gui.common.result_table import ResultTable, number
from camviewer.gui.refine.state import RefineState, comparison_rows
from camviewer.gui.viewer.compare_view import CompareView, Tile
from camviewer.gui.viewer.image_view import add_polygon


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
        self.verdict = QLabel(wordWrap=True)
        self.verdict.setObjectName("refineVerdict")
        self.table = ResultTable()
        self.images = QListWidget()
        self.images.setToolTip("Held-out images with a ground-truth region: pick one to see its maps")
        self.view = CompareView()
        self.view.setMinimumHeight(220)
        self.images.currentTextChanged.connect(self._show_image)
        maps = QSplitter(Qt.Orientation.Horizontal)
        maps.addWidget(self.images)
        maps.addWidget(self.view)
        maps.setStretchFactor(1, 1)
        maps.setSizes([160, 600])
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(maps)
        splitter.setSizes([200, 320])
        self.load_box = QCheckBox("Load the fine-tuned model into the viewer on Finish", checked=True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.verdict)
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
        self._show_verdict()

    def _show_verdict(self) -> None:
        """Say plainly whether the fine-tuned model is better; a worse one is not offered as the result."""
        s = self.state
        if s.before is None or s.after is None:
            self.verdict.setText("")
            return
        verdict = compare(s.before, s.after)
        if verdict.outcome == "better":
            text = f"<b>Better.</b> {'; '.join(verdict.reasons)}, with no loss beyond {TOLERANCE} elsewhere."
        elif verdict.outcome == "worse":
            text = (
                f"<b style='color:#b00020'>Worse: keep the current model.</b> {'; '.join(verdict.reasons)}. "
                f"The fine-tuned model stays in {s.run_dir} but is not loaded."
            )
        else:
            text = f"<b>No clear change</b> (nothing moved by more than {TOLERANCE}): the current model is as good."
        self.verdict.setText(text)
        self.load_box.setChecked(verdict.outcome == "better")
        self.load_box.setEnabled(verdict.outcome != "worse")
        self.load_box.setToolTip("" if verdict.outcome != "worse" else "The fine-tuned model measured worse")

    def _show_previews(self) -> None:
        self._before = dict(self.state.before.previews) if self.state.before else {}
        self._after = dict(self.state.after.previews) if self.state.after else {}
        self.images.clear()
        self.images.addItems([key for key in self._before if key in self._after])
        if self.images.count():
            self.images.setCurrentRow(0)

    def _show_image(self, key: str) -> None:
        if key not in self._before or key not in self._after:
            return
        method = self.state.method
        self.view.show_tiles(
            [
                _tile(f"before ({method})", self._before[key], f"{key}: the {method} map before fine-tuning"),
                _tile(f"after ({method})", self._after[key], f"{key}: the {method} map after fine-tuning"),
            ]
        )

    def preview_count(self) -> int:
        """Maps ready to compare: two per image listed (before and after)."""
        return 2 * self.images.count()

    def set_colormap(self, lut: np.ndarray) -> None:
        self.view.set_colormap(lut)


def _tile(title: str, preview, tooltip: str) -> Tile:
    truth = QPainterPath()
    for points in preview.truth:
        add_polygon(truth, np.asarray(points) + 0.5)
    return Tile(title, preview.display, preview.map01, truth, tooltip)
