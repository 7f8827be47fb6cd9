"""The status bar: a summary line that stays, the cursor readout, the zoom, the model, a busy bar.

The summary (the image's size and format, the map shown, the last error) is a widget, not a temporary
message: a tooltip of a hovered button covers it for a moment, then it is back. Long messages are
elided at the end, with the whole text in the tooltip (and every error in the log).
"""

from __future__ import annotations

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QLabel, QMainWindow, QProgressBar, QSizePolicy

from camviewer.gui.common.elided_label import ElidedLabel

ERROR_STYLE = "color: #b00020"
MODEL_WIDTH = 280  # a long run name is elided (its full path is in the tooltip)


class StatusArea:
    def __init__(self, window: QMainWindow) -> None:
        bar = window.statusBar()
        self.summary = ElidedLabel()
        self.summary.setObjectName("statusSummary")
        self.summary.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # takes what is left
        self.readout = QLabel("")
        self.readout.setObjectName("cursorReadout")
        self.readout.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.readout.setToolTip("Under the cursor: position, the file's value (HU, raw samples), the map's value")
        self.zoom = QLabel("")
        self.zoom.setObjectName("zoomLevel")
        self.zoom.setToolTip("Zoom: screen pixels per image pixel (1 for 1:1, F to fit)")
        self.model = ElidedLabel("No model")  # stays visible: temporary messages do not cover it
        self.model.setObjectName("modelStatus")
        self.model.setMaximumWidth(MODEL_WIDTH)
        self.busy = QProgressBar(maximum=0, visible=False)
        self.busy.setMaximumWidth(90)
        self.busy.setToolTip("Computing…")
        bar.addWidget(self.summary, 1)
        for widget in (self.readout, self.zoom, self.model, self.busy):
            bar.addPermanentWidget(widget)

    def say(self, text: str, error: bool = False) -> None:
        self.summary.setText(text)
        self.summary.setStyleSheet(ERROR_STYLE if error else "")

    def show_zoom(self, zoom: float) -> None:
        self.zoom.setText(f"zoom {zoom * 100:.0f}%" if zoom >= 0.1 else f"zoom {zoom * 100:.1f}%")

    def show_model(self, text: str, tooltip: str, warning: bool) -> None:
        self.model.setText(text)
        self.model.setToolTip(tooltip)
        self.model.setStyleSheet("color: #a15c00; font-weight: bold" if warning else "")
