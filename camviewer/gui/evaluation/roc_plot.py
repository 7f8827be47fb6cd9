"""The ROC curve of an evaluation: the positive class's for two classes, one vs rest otherwise, AUC in the legend."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from camviewer.gui.training.curves import styled_plot

COLOURS = ("#e8590c", "#1971c2", "#2f9e44", "#9c36b5", "#f08c00", "#0c8599", "#c2255c", "#5c940d", "#495057")


class RocPlot(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = styled_plot("ROC", "false positive rate (1 − specificity)", "true positive rate (sensitivity)")
        self.plot.setXRange(0, 1, padding=0.02)
        self.plot.setYRange(0, 1, padding=0.02)
        self.plot.setMouseEnabled(x=False, y=False)  # rates live in [0, 1]: nothing to pan or zoom
        self.plot.getPlotItem().hideButtons()
        self.legend = self.plot.addLegend(
            offset=(-4, -4), labelTextColor="#333333", labelTextSize="8pt", brush=pg.mkBrush(255, 255, 255, 210)
        )
        self.curves: dict[str, pg.PlotDataItem] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.set_curves({}, None)

    def set_curves(self, roc: dict[str, dict], positive_class: str | None, note: str | None = None) -> None:
        """``roc``: the engine's curves by class name ({"fpr", "tpr", "auc"})."""
        item = self.plot.getPlotItem()
        item.clear()
        self.legend.clear()
        self.curves = {}
        item.plot([0, 1], [0, 1], pen=pg.mkPen("#adb5bd", width=1, style=Qt.PenStyle.DashLine), name="chance")
        for colour, (name, curve) in zip(COLOURS * 4, roc.items()):
            label = f"{name} (AUC {curve['auc']:.3f})" if len(roc) == 1 else f"{name} vs rest (AUC {curve['auc']:.3f})"
            self.curves[name] = item.plot(curve["fpr"], curve["tpr"], pen=pg.mkPen(colour, width=2), name=label)
        self.legend.setVisible(len(roc) > 1)  # one curve: its AUC is in the title, nothing covers the curve
        if positive_class is not None:
            title = f"ROC — positive class: {positive_class}"
            if positive_class in roc:
                title += f"<br>AUC {roc[positive_class]['auc']:.3f}"
        else:
            title = "ROC, one vs rest" if roc else "ROC"
        item.setTitle(title, color="#333333", size="10pt")
        if not roc and note:
            text = pg.TextItem(note, color="#555555", anchor=(0.5, 0.5))
            text.setPos(0.5, 0.55)
            item.addItem(text)
