"""Where the positive class is called: argmax, Youden's J, a target sensitivity or a fixed probability threshold.

The choice is written as core's rule text (``argmax``, ``youden``, ``sensitivity:0.9``, ``threshold:0.3``;
see camviewer.core.evaluation.operating), so the dock and ``camviewer evaluate --operating-point`` agree.
"""

from __future__ import annotations

import contextlib

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QHBoxLayout, QWidget

CHOICES = {
    "argmax": (
        "highest probability (argmax)",
        "An image is called positive when the positive class is the most likely",
    ),
    "youden": ("Youden's J", "The threshold with the best sensitivity + specificity − 1 on these images (optimistic)"),
    "sensitivity": ("target sensitivity", "The highest threshold that reaches this sensitivity on these images"),
    "threshold": ("probability threshold", "Called positive when the positive class's probability is at least this"),
}
DEFAULTS = {"sensitivity": 0.9, "threshold": 0.5}


class OperatingPointChoice(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = QComboBox()
        for key, (text, tip) in CHOICES.items():
            self.kind.addItem(text, key)
            self.kind.setItemData(self.kind.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.value = QDoubleSpinBox(decimals=3, minimum=0.0, maximum=1.0, singleStep=0.05)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.kind, 1)
        layout.addWidget(self.value)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self._kind_changed()

    def rule(self) -> str:
        kind = self.kind.currentData()
        return kind if kind not in DEFAULTS else f"{kind}:{self.value.value():g}"

    def set_rule(self, text: str) -> None:
        kind, _, value = (text or "argmax").partition(":")
        index = self.kind.findData(kind)
        self.kind.setCurrentIndex(max(0, index))
        if value and index >= 0:
            with contextlib.suppress(ValueError):  # a hand-edited settings file: keep the default
                self.value.setValue(float(value))

    def _kind_changed(self) -> None:
        kind = self.kind.currentData()
        self.value.setEnabled(kind in DEFAULTS)
        self.value.setVisible(kind in DEFAULTS)
        if kind in DEFAULTS:
            self.value.setValue(DEFAULTS[kind])
        self.kind.setToolTip(CHOICES[kind][1])
