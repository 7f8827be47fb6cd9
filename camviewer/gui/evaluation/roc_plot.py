"""The ROC curve of an evaluation: the positive class's for two classes, one vs rest otherwise, AUC in the legend.

The legend sits under the plot, never over it: inside a small plot a legend covers the curves it names.
"""

from __future__ import annotations

import html

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from camviewer.gui.training.curves import styled_plot

COLOURS = ("#e8590c", "#1971c2", "#2f9e44", "#9c36b5", "#f08c00", "#0c8599", "#c2255c", "#5c940d", "#495057")


class RocPlot(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = styled_plot("ROC", "FPR (1 − specificity)", "TPR (sensitivity)")
        self.plot.setXRange(0, 1, padding=0.02)
        self.plot.setYRange(0, 1, padding=0.02)
        self.plot.setMouseEnabled(x=False, y=False)  # rates live in [0, 1]: nothing to pan or zoom
        self.plot.getPlotItem().hideButtons()
        self.plot.setToolTip("x: false positive rate (1 − specificity); y: true positive rate (sensitivity)")
        self.plot.setMinimumHeight(200)  # the axis titles need it
        self.legend = QLabel(wordWrap=True)
        self.legend.setStyleSheet("color: #333")
        self.curves: dict[str, pg.PlotDataItem] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.legend)
        self.set_curves({}, None)

    def set_curves(self, roc: dict[str, dict], positive_class: str | None, note: str | None = None) -> None:
        """``roc``: the engine's curves by class name ({"fpr", "tpr", "auc"})."""
        item = self.plot.getPlotItem()
        item.clear()
        self.curves = {}
        item.plot([0, 1], [0, 1], pen=pg.mkPen("#adb5bd", width=1, style=Qt.PenStyle.DashLine), name="chance")
        entries = []
        for colour, (name, curve) in zip(COLOURS * 4, roc.items()):
            label = f"{name} (AUC {curve['auc']:.3f})" if len(roc) == 1 else f"{name} vs rest (AUC {curve['auc']:.3f})"
            self.curves[name] = item.plot(curve["fpr"], curve["tpr"], pen=pg.mkPen(colour, width=2), name=label)
            entries.append(f"<span style='color:{colour}'>━</span>&nbsp;{html.escape(label)}")
        self.legend.setText(" &nbsp; ".join(entries))
        self.legend.setVisible(len(roc) > 1)  # one curve: its AUC is in the title
        if positive_class is not None:
            title = f"ROC — {positive_class} positive"
            if positive_class in roc:
                title += f" · AUC {roc[positive_class]['auc']:.3f}"  # one short line: the curves keep the room
        else:
            title = "ROC, one vs rest" if roc else "ROC"
        item.setTitle(title, color="#333333", size="10pt")
        if not roc and note:
            text = pg.TextItem(note, color="#555555", anchor=(0.5, 0.5))
            text.setPos(0.5, 0.55)
            item.addItem(text)
