"""Compare mode: one image with several maps side by side (several methods, or several classes).

All maps come from the same engine pass. Every cell is a base ImageItem and a heat ImageItem in its
own ViewBox; the ViewBoxes are linked, so zooming or panning one moves them all.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget


class _Cell:
    def __init__(self, layout: pg.GraphicsLayout, row: int, column: int) -> None:
        self.label = layout.addLabel("", row=2 * row, col=column, color="#e8e8e8", size="10pt")
        self.label.setMaximumHeight(24)  # else label rows take as much height as image rows
        self.view = layout.addViewBox(
            row=2 * row + 1, col=column, lockAspect=True, invertY=True, enableMenu=False, defaultPadding=0.02
        )
        self.base = pg.ImageItem(axisOrder="row-major")
        self.heat = pg.ImageItem(axisOrder="row-major")
        self.heat.setZValue(10)
        self.view.addItem(self.base)
        self.view.addItem(self.heat)


class CompareView(pg.GraphicsLayoutWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("compareView")
        self.setBackground(QColor("#202124"))
        self.setAcceptDrops(False)
        self.cells: list[_Cell] = []
        self._lut: np.ndarray | None = None
        self._opacity = 0.5
        self._shape: tuple[int, int] | None = None

    def show_maps(self, display: np.ndarray, maps: list[tuple[str, np.ndarray]]) -> None:
        """``maps``: (title, H x W map in [0, 1]) per cell, all for the image ``display``."""
        if len(maps) != len(self.cells):
            self._build(len(maps))
        for cell, (title, map01) in zip(self.cells, maps):
            cell.label.setText(title)
            cell.base.setImage(display, autoLevels=False, levels=(0, 255))
            cell.heat.setImage(map01, autoLevels=False, levels=(0.0, 1.0))
            if self._lut is not None:
                cell.heat.setLookupTable(self._lut)
            cell.heat.setOpacity(self._opacity)
        if display.shape[:2] != self._shape:
            self._shape = display.shape[:2]
            self.fit()

    def clear_maps(self) -> None:
        for cell in self.cells:
            cell.heat.clear()

    def set_colormap(self, lut: np.ndarray) -> None:
        self._lut = lut
        for cell in self.cells:
            cell.heat.setLookupTable(lut)

    def set_opacity(self, opacity: float) -> None:
        self._opacity = opacity
        for cell in self.cells:
            cell.heat.setOpacity(opacity)

    def fit(self) -> None:
        if self.cells and self._shape is not None:
            height, width = self._shape
            self.cells[0].view.setRange(xRange=(0, width), yRange=(0, height), padding=0.02)

    def titles(self) -> list[str]:
        return [cell.label.text for cell in self.cells]

    def _build(self, count: int) -> None:
        self.ci.clear()
        columns = max(1, math.ceil(math.sqrt(count)))
        self.cells = [_Cell(self.ci, index // columns, index % columns) for index in range(count)]
        for cell in self.cells[1:]:
            cell.view.setXLink(self.cells[0].view)
            cell.view.setYLink(self.cells[0].view)
        self._shape = None
