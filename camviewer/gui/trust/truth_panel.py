"""Right panel, bottom: the ground truth of the current image and how well the shown heatmap matches it.

Pointing game (is the map's peak inside the region, within a tolerance), IoU and Dice of the map
thresholded at a fraction of its maximum, box IoU against ground-truth boxes, and the share of the map's
energy inside the region and inside the region of interest. Scores are those of ``camviewer localize``
(``trust.score_map``), computed for the map on screen.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from camviewer.gui.common.result_table import number

SCORES = {
    "pointing_hit": ("Pointing game", "Is the map's peak inside the region (within the tolerance)?"),
    "iou": ("IoU", "Intersection over union of the thresholded map and the region"),
    "dice": ("Dice", "Dice coefficient of the thresholded map and the region"),
    "box_iou": ("Box IoU", "IoU of the map's largest component's box and the best ground-truth box"),
    "energy_in_region": ("Energy in region", "Share of the map's total mass inside the region"),
    "energy_in_roi": ("Energy in ROI", "Share of the map's total mass inside the region of interest"),
}


class TruthPanel(QWidget):
    optionsChanged = Signal(float, float)  # threshold (fraction of the maximum), tolerance (pixels)
    summaryChanged = Signal(str)  # one line for the status bar ("" when there is nothing to say)

    def __init__(self, load_action: QAction, show_action: QAction, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("truthPanel")
        self.load_button = QToolButton()
        self.load_button.setDefaultAction(load_action)
        self.load_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.show_box = QCheckBox("Show outline")
        self.show_box.setToolTip(show_action.toolTip())
        self.show_box.setChecked(show_action.isChecked())
        self.show_box.toggled.connect(show_action.setChecked)
        show_action.toggled.connect(self.show_box.setChecked)
        self.source = QLabel("<i>None loaded</i>", wordWrap=True)
        self.threshold = QDoubleSpinBox(minimum=0.01, maximum=0.99, singleStep=0.05, decimals=2, value=0.2)
        self.threshold.setSuffix(" × max")
        self.threshold.setToolTip(
            "IoU and Dice score the map thresholded at this fraction of its maximum (0.2 as in Zhou et al.); "
            "the outline in the CAM options is a display setting of its own"
        )
        self.tolerance = QDoubleSpinBox(minimum=0.0, maximum=500.0, singleStep=1.0, decimals=0, value=0.0, suffix=" px")
        self.tolerance.setToolTip("Pointing game: a peak this close to the region counts as a hit")
        self.note = QLabel("", wordWrap=True)
        self.note.setStyleSheet("color: #555")
        self.values: dict[str, QLabel] = {}
        form = QGridLayout()  # two columns of scores: the dock is tall already
        form.setContentsMargins(0, 0, 0, 0)
        form.setHorizontalSpacing(8)
        for index, (key, (title, tip)) in enumerate(SCORES.items()):
            label = QLabel("—")
            label.setToolTip(tip)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            name = QLabel(title)
            name.setToolTip(tip)
            name.setStyleSheet("color: #555")
            form.addWidget(name, index // 2, 2 * (index % 2))
            form.addWidget(label, index // 2, 2 * (index % 2) + 1)
            self.values[key] = label
        form.setColumnStretch(1, 1)
        form.setColumnStretch(3, 1)
        options = QGridLayout()  # two rows: the dock is narrow
        options.setContentsMargins(0, 0, 0, 0)
        options.addWidget(QLabel("IoU/Dice at"), 0, 0)
        options.addWidget(self.threshold, 0, 1)
        options.addWidget(QLabel("Pointing tolerance"), 1, 0)
        options.addWidget(self.tolerance, 1, 1)
        options.setColumnStretch(2, 1)
        top = QHBoxLayout()
        top.addWidget(self.load_button)
        top.addWidget(self.show_box)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.source)
        layout.addLayout(options)
        layout.addLayout(form)
        layout.addWidget(self.note)
        self.threshold.valueChanged.connect(self._options_edited)
        self.tolerance.valueChanged.connect(self._options_edited)
        self.show_scores(None, "")

    def _options_edited(self, *_args) -> None:
        self.optionsChanged.emit(self.threshold.value(), self.tolerance.value())

    def show_source(self, description: str | None) -> None:
        self.source.setText(description or "<i>None loaded</i>")

    def show_scores(self, scores: dict | None, note: str) -> None:
        """The scores of the map on screen (``score_map``'s dict), or dashes with a note saying why not."""
        for key, label in self.values.items():
            value = None if scores is None else scores.get(key)
            if key == "pointing_hit" and value is not None:
                label.setText("hit ✓" if value else "miss ✗")
                label.setStyleSheet(
                    "color: #2b8a3e; font-weight: bold" if value else "color: #c92a2a; font-weight: bold"
                )
            else:
                label.setText(number(value, percent=key.startswith("energy")) if value is not None else "—")
                label.setStyleSheet("")
        self.note.setText(note)
        self.note.setVisible(bool(note))
        self.summaryChanged.emit(summary_line(scores))

    def texts(self) -> dict[str, str]:
        return {key: label.text() for key, label in self.values.items()}


def summary_line(scores: dict | None) -> str:
    """ "ground truth: hit ✓ · IoU 0.412 · in region 63.0%" for the status bar."""
    if not scores:
        return ""
    parts = []
    if scores.get("pointing_hit") is not None:
        parts.append("hit ✓" if scores["pointing_hit"] else "miss ✗")
    if scores.get("iou") is not None:
        parts.append(f"IoU {number(scores['iou'])}")
    if scores.get("energy_in_region") is not None:
        parts.append(f"in region {number(scores['energy_in_region'], percent=True)}")
    if scores.get("energy_in_roi") is not None:
        parts.append(f"in ROI {number(scores['energy_in_roi'], percent=True)}")
    return "ground truth: " + " · ".join(parts) if parts else ""
