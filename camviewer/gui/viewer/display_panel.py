"""Right panel: how the image itself is drawn: window/level presets, invert. Display only, never the model's input.

The presets come with each image (its file's own windows, CT presets for Hounsfield units, the full range);
"As decoded" draws the pixels exactly as the model sees them. A right-drag over the image sets a custom
window, shown here as centre and width in the file's units.
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLabel, QWidget

AS_DECODED = "As decoded (the model's view)"
CUSTOM = "Custom (right-drag)"


class DisplayPanel(QWidget):
    windowChosen = Signal(object)  # core.images.Window, or None: as decoded
    invertChanged = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("displayPanel")
        self.window = QComboBox()
        self.window.setToolTip(
            "Window/level of the image (display only: the model always sees the decoded pixels). "
            "Right-drag over the image: left/right for the width, up/down for the level"
        )
        self.window.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.window.setMinimumContentsLength(12)
        self.current = QLabel("as decoded")
        self.current.setToolTip("Centre and width of the window, in the file's units")
        self.invert = QCheckBox("Invert")
        self.invert.setToolTip("Swap black and white (I); display only")
        self._presets: list = []
        self.set_presets([])
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.current, 1)
        row.addWidget(self.invert)
        holder = QWidget()
        holder.setLayout(row)
        form = QFormLayout(self)
        form.setContentsMargins(6, 6, 6, 6)
        form.addRow("Window", self.window)
        form.addRow(holder)
        self.window.activated.connect(self._chosen)
        self.invert.toggled.connect(self.invertChanged)

    def set_presets(self, presets: list) -> None:
        """The windows this image offers (``core.images.Window``), after "As decoded"."""
        self._presets = list(presets)
        with QSignalBlocker(self.window):
            self.window.clear()
            self.window.addItem(AS_DECODED)
            for window in self._presets:
                self.window.addItem(f"{window.name}  ({_number(window.center)} / {_number(window.width)})")
            self.window.addItem(CUSTOM)
            self.window.model().item(self.window.count() - 1).setEnabled(False)  # chosen by dragging

    def show_window(self, window, text: str) -> None:
        """What the view shows now (after a preset, a drag or a new image)."""
        self.current.setText(text)
        index = (
            0
            if window is None
            else next(
                (row + 1 for row, preset in enumerate(self._presets) if preset == window), self.window.count() - 1
            )
        )
        with QSignalBlocker(self.window):
            self.window.setCurrentIndex(index)

    def choose(self, index: int) -> None:
        """Row ``index`` of the list: 0 as decoded, then the presets."""
        if 0 <= index <= len(self._presets):
            self.window.setCurrentIndex(index)
            self._chosen(index)

    def presets(self) -> list:
        return list(self._presets)

    def _chosen(self, index: int) -> None:
        if index == 0:
            self.windowChosen.emit(None)
        elif index <= len(self._presets):
            self.windowChosen.emit(self._presets[index - 1])


def _number(value: float) -> str:
    return str(int(round(value))) if float(value).is_integer() or abs(value) >= 10 else f"{value:.3g}"
