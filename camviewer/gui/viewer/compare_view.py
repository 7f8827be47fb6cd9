"""Compare mode: maps side by side: several methods or classes of one image, two models, before and after.

Every tile is a base ImageItem and a heat ImageItem (plus an optional outline, e.g. the ground truth) in
its own ViewBox; the ViewBoxes are linked, so zooming or panning one moves them all. The grid is laid
out for the widget's shape and the image's: on every resize the column count that gives the largest
tiles is chosen again and the tiles are refitted (unless the user has zoomed), so no tile is left tiny
and no column falls off the edge. The main window's two-model comparison and the refinement wizard's
before/after page use this same view.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsTextItem, QWidget

LABEL_HEIGHT = 24  # the title over a tile's top: the image is fitted below it
PADDING = 0.02


@dataclass
class Tile:
    title: str
    display: np.ndarray  # H x W x 3 uint8 base image
    map01: np.ndarray | None  # H x W in [0, 1], or None: the image alone
    outline: QPainterPath | None = None  # drawn over the map (e.g. the ground truth), in image pixels
    tooltip: str = ""


class _Cell:
    """One tile: a ViewBox with the base image, the map and an outline; its title drawn over its top edge (a
    child of the box, so it stays put while the image is zoomed or panned)."""

    def __init__(self) -> None:
        self.view = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False, defaultPadding=PADDING)
        self.label = QGraphicsTextItem(self.view)
        self.label.setDefaultTextColor(QColor("#e8e8e8"))
        self.label.setZValue(1000)
        self.label.setPos(2, 0)
        self.base = pg.ImageItem(axisOrder="row-major")
        self.heat = pg.ImageItem(axisOrder="row-major")
        self.heat.setZValue(10)
        self.outline = QGraphicsPathItem()
        pen = QPen(QColor("white"), 2)
        pen.setCosmetic(True)
        self.outline.setPen(pen)
        self.outline.setZValue(20)
        for item in (self.base, self.heat, self.outline):
            self.view.addItem(item)

    def set_title(self, title: str) -> None:
        self.label.setHtml(
            f"<span style='background-color: rgba(32, 33, 36, 180)'>&nbsp;{html.escape(title)}&nbsp;</span>"
        )
        self.title = title


def best_columns(count: int, width: float, height: float, image_width: float, image_height: float) -> int:
    """The column count whose tiles show the image largest in a ``width`` x ``height`` area."""
    best, best_scale = 1, -1.0
    for columns in range(1, count + 1):
        rows = math.ceil(count / columns)
        tile_w, tile_h = width / columns, height / rows - LABEL_HEIGHT
        scale = min(tile_w / image_width, tile_h / image_height) if tile_h > 0 else 0.0
        if scale > best_scale + 1e-9:
            best, best_scale = columns, scale
    return best


class CompareView(pg.GraphicsLayoutWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("compareView")
        self.setBackground(QColor("#202124"))
        self.setAcceptDrops(False)
        self.cells: list[_Cell] = []
        self.columns = 1
        self._lut: np.ndarray | None = None
        self._opacity = 0.5
        self._shape: tuple[int, int] | None = None
        self._fitted = True
        self._relayout = QTimer(self, singleShot=True, interval=0)  # once the new size has settled
        self._relayout.timeout.connect(self._lay_out)

    # ------------------------------------------------------------------------------------- tiles
    def show_maps(self, display: np.ndarray, maps: list[tuple[str, np.ndarray]]) -> None:
        """``maps``: (title, H x W map in [0, 1]) per tile, all for the image ``display``."""
        self.show_tiles([Tile(title, display, map01) for title, map01 in maps])

    def show_tiles(self, tiles: list[Tile]) -> None:
        if len(tiles) != len(self.cells):
            self._build(len(tiles))
        for cell, tile in zip(self.cells, tiles):
            cell.set_title(tile.title)
            cell.view.setToolTip(tile.tooltip or tile.title)
            cell.base.setImage(tile.display, autoLevels=False, levels=(0, 255))
            if tile.map01 is None:
                cell.heat.clear()
            else:
                cell.heat.setImage(tile.map01, autoLevels=False, levels=(0.0, 1.0))
                if self._lut is not None:
                    cell.heat.setLookupTable(self._lut)
            cell.heat.setOpacity(self._opacity)
            cell.outline.setPath(tile.outline or QPainterPath())
        shape = tiles[0].display.shape[:2] if tiles else None
        if shape != self._shape:
            self._shape = shape
            self._lay_out(force=True)

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

    def titles(self) -> list[str]:
        return [cell.title for cell in self.cells]

    # ---------------------------------------------------------------------------------- layout
    def fit(self) -> None:
        self._fitted = True
        if self.cells and self._shape is not None:
            height, width = self._shape
            for cell in self.cells:
                cell.view.setRange(xRange=(0, width), yRange=(0, height), padding=PADDING)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if hasattr(self, "_relayout"):  # pyqtgraph calls this while it is being built
            self._relayout.start()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._relayout.start()

    def _lay_out(self, force: bool = False) -> None:
        """Place the tiles in the column count that suits this size; refit them unless the user zoomed."""
        if not self.cells:
            return
        height, width = self._shape or (1, 1)
        columns = best_columns(len(self.cells), max(self.width(), 1), max(self.height(), 1), width, height)
        if columns != self.columns or force:
            self.columns = columns
            self.ci.clear()
            for index, cell in enumerate(self.cells):
                row, column = divmod(index, columns)
                self.ci.addItem(cell.view, row=row, col=column)
        if self._fitted or force:
            self.fit()

    def _build(self, count: int) -> None:
        self.ci.clear()
        self.cells = [_Cell() for _ in range(count)]
        for cell in self.cells:
            cell.view.sigRangeChangedManually.connect(self._user_zoomed)
        for cell in self.cells[1:]:
            cell.view.setXLink(self.cells[0].view)
            cell.view.setYLink(self.cells[0].view)
        self.columns = 0  # placed by the next layout
        self._shape = None

    def _user_zoomed(self, *_args) -> None:
        self._fitted = False
