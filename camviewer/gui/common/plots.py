"""Plot styling shared by the training curves and the ROC plot."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QGraphicsItem


def styled_plot(title: str, x_label: str, y_label: str) -> pg.PlotWidget:
    """A white pyqtgraph plot with dark axes and a light grid: readable in a lab report screenshot too."""
    plot = pg.PlotWidget(background="w")
    item = plot.getPlotItem()
    item.setTitle(title, color="#333333", size="10pt")
    for side in ("left", "bottom"):
        axis = item.getAxis(side)
        axis.setPen(pg.mkPen("#888888"))
        axis.setTextPen(pg.mkPen("#333333"))
        axis.enableAutoSIPrefix(False)  # "loss (x0.001)" reads badly; plain numbers
        axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)  # redrawn only when its range changes
    item.setLabel("bottom", x_label, color="#555555")
    item.setLabel("left", y_label, color="#555555")
    item.showGrid(x=True, y=True, alpha=0.15)
    item.setMenuEnabled(False)
    plot.setMinimumSize(160, 140)
    return plot
