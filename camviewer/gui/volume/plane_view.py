"""One plane of a volume (axial, coronal or sagittal): the slice, its map, the crosshair, in millimetres.

The slice and its map are two pyqtgraph ImageItems in one ViewBox, as in the 2-D viewer: window/level is the
base item's levels and opacity the heat item's opacity, so neither recomputes anything. Items are laid out in
millimetres (each pixel as wide and tall as its voxel), so anisotropic voxels keep their true aspect.

Mouse, as in radiology viewers: the wheel steps through slices (Ctrl+wheel zooms); a left click or drag moves
the crosshair, which the other two planes follow; a right drag sets window/level (as in the image view), a
middle drag pans, a double click fits.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QWidget

CROSSHAIR_COLOUR = "#ffd43b"


class _PlaneBox(pg.ViewBox):
    """A ViewBox whose wheel steps slices, whose left button places the crosshair and right drag sets the window."""

    def __init__(self, plane: PlaneView) -> None:
        super().__init__(lockAspect=True, invertY=True, enableMenu=False, defaultPadding=0.02)
        self.plane = plane

    def wheelEvent(self, event, axis=None) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            super().wheelEvent(event, axis)
            return
        delta = event.delta() if hasattr(event, "delta") else event.angleDelta().y()
        if delta:
            self.plane.scrolled.emit(1 if delta > 0 else -1)
        event.accept()

    def mouseClickEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            event.accept()
            self.plane.point_at(self.mapSceneToView(event.scenePos()))
        else:
            super().mouseClickEvent(event)

    def mouseDragEvent(self, event, axis=None) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            event.accept()
            self.plane.point_at(self.mapSceneToView(event.scenePos()))
        elif event.button() == Qt.MouseButton.RightButton:
            event.accept()
            moved = event.screenPos() - event.buttonDownScreenPos()
            self.plane.windowDragged.emit(moved.x(), moved.y(), event.isStart(), event.isFinish())
        else:
            super().mouseDragEvent(event, axis)


class PlaneView(pg.GraphicsView):
    scrolled = Signal(int)  # +1 / -1: the next or previous slice
    pointed = Signal(int, int)  # (row, column) of this plane's slice, clicked or dragged to
    hovered = Signal(object)  # (row, column) under the cursor, or None when outside the slice
    windowDragged = Signal(float, float, bool, bool)  # screen pixels moved since the press, started, finished

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent, background=QColor("#000000"))
        self.name = name
        self.setObjectName(f"{name}Plane")
        self.setAcceptDrops(False)  # drops go to the main window
        self.view = _PlaneBox(self)
        self.setCentralItem(self.view)
        self.base = pg.ImageItem(axisOrder="row-major")
        self.heat = pg.ImageItem(axisOrder="row-major")
        self.heat.setZValue(10)
        pen = QPen(QColor(CROSSHAIR_COLOUR), 1)
        pen.setCosmetic(True)
        self.lines = (pg.InfiniteLine(angle=90, pen=pen), pg.InfiniteLine(angle=0, pen=pen))
        for line in self.lines:
            line.setZValue(20)
        for item in (self.base, self.heat, *self.lines):
            self.view.addItem(item)
        self.shape: tuple[int, int] = (0, 0)
        self.pixel_mm: tuple[float, float] = (1.0, 1.0)  # (row height, column width)
        self._hover = pg.SignalProxy(self.scene().sigMouseMoved, rateLimit=30, slot=self._mouse_moved)

    # ------------------------------------------------------------------------------------- layers
    def set_geometry(self, shape: tuple[int, int], pixel_mm: tuple[float, float]) -> None:
        """A new volume: the slice size (rows, columns) and its pixel size in mm; fits the view."""
        self.shape, self.pixel_mm = shape, pixel_mm
        self.fit()

    def set_slice(self, values: np.ndarray, levels: tuple[float, float]) -> None:
        self.base.setImage(values, autoLevels=False, levels=levels)
        self.base.setRect(self._rect())

    def set_levels(self, levels: tuple[float, float]) -> None:
        self.base.setLevels(levels)

    def set_map(self, map01: np.ndarray | None) -> None:
        if map01 is None:
            self.heat.clear()
            return
        self.heat.setImage(map01, autoLevels=False, levels=(0.0, 1.0))  # NaN (not seen) is transparent
        self.heat.setRect(self._rect())

    def set_colormap(self, lut: np.ndarray) -> None:
        self.heat.setLookupTable(lut)

    def set_opacity(self, opacity: float) -> None:
        self.heat.setOpacity(opacity)

    def set_crosshair(self, row: int, col: int) -> None:
        height, width = self.pixel_mm
        self.lines[0].setPos((col + 0.5) * width)
        self.lines[1].setPos((row + 0.5) * height)

    def clear(self) -> None:
        self.base.clear()
        self.heat.clear()

    def fit(self) -> None:
        self.view.setRange(self._rect(), padding=0.02)

    # -------------------------------------------------------------------------------------- mouse
    def point_at(self, point: QPointF) -> None:
        where = self._pixel(point)
        if where is not None:
            self.pointed.emit(*where)

    def mouseDoubleClickEvent(self, event) -> None:
        self.fit()
        event.accept()

    def _mouse_moved(self, args: tuple) -> None:
        self.hovered.emit(self._pixel(self.view.mapSceneToView(args[0])))

    def _pixel(self, point: QPointF) -> tuple[int, int] | None:
        """(row, column) of the slice at a point in view coordinates (mm), or None outside it."""
        if not self.shape[0]:
            return None
        row, col = int(np.floor(point.y() / self.pixel_mm[0])), int(np.floor(point.x() / self.pixel_mm[1]))
        return (row, col) if 0 <= row < self.shape[0] and 0 <= col < self.shape[1] else None

    def _rect(self) -> QRectF:
        return QRectF(0, 0, self.shape[1] * self.pixel_mm[1], self.shape[0] * self.pixel_mm[0])
