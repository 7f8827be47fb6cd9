"""Centre view: the image and its heatmap as two pyqtgraph ImageItems in one ViewBox.

The heatmap layer is coloured by a lookup table and blended by the item's own opacity, so the opacity
slider only changes a QGraphicsItem property: no recomputation, no new image, just a repaint. Where the
model did not see the image (outside a centre or border crop: NaN in the map) the heatmap is transparent
and a shaded, hatched item says "not seen", never the cold end of the colormap. The
outline of the thresholded map (contours or boxes) is a third item above both. Ground truth, when loaded,
is drawn by two more items of its own (the region in green, the region of interest dashed in cyan), so
it can be shown or hidden without touching the map.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem, QWidget

EMPTY_MESSAGE = "Open a folder (Ctrl+O) or drop images here"
TRUTH_COLOUR, ROI_COLOUR = "#51cf66", "#22b8cf"


class ImageView(pg.GraphicsView):
    hovered = Signal(str)  # "x, y: image value, map value" for the status bar
    mapChanged = Signal(object)  # the map on screen (H x W in [0, 1]) or None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background=QColor("#202124"))
        self.setObjectName("imageView")
        self.setAcceptDrops(False)  # drops go to the main window, which opens them
        self.view = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False, defaultPadding=0.02)
        self.setCentralItem(self.view)
        self.base = pg.ImageItem(axisOrder="row-major")
        self.heat = pg.ImageItem(axisOrder="row-major")
        self.heat.setZValue(10)
        self.outline = QGraphicsPathItem()
        pen = QPen(QColor("white"), 2)
        pen.setCosmetic(True)  # same width at any zoom
        self.outline.setPen(pen)
        self.outline.setZValue(20)
        self.unseen = [_path_item("#00000000", 0, Qt.PenStyle.NoPen, 15) for _ in range(2)]
        self.unseen[0].setBrush(QColor(0, 0, 0, 150))
        self.unseen[1].setBrush(QBrush(QColor(200, 200, 200, 170), Qt.BrushStyle.BDiagPattern))
        for item in self.unseen:
            item.setToolTip("Not seen by the model (outside its crop)")
        self.truth = _path_item(TRUTH_COLOUR, 2.0, Qt.PenStyle.SolidLine, 30)
        self.truth.setToolTip("Ground truth region")
        self.roi = _path_item(ROI_COLOUR, 1.5, Qt.PenStyle.DashLine, 25)
        self.message = pg.TextItem(EMPTY_MESSAGE, color="#c8c8c8", anchor=(0.5, 0.5))
        for item in (self.base, self.heat, *self.unseen, self.outline, self.truth, self.roi, self.message):
            self.view.addItem(item)
        self.pixels: np.ndarray | None = None  # decoded float pixels, for the value under the cursor
        self.map: np.ndarray | None = None
        self._outline = ("none", 0.5)
        self._hover = pg.SignalProxy(self.scene().sigMouseMoved, rateLimit=30, slot=self._mouse_moved)
        self.scene().sigMouseClicked.connect(self._mouse_clicked)
        self.clear(EMPTY_MESSAGE)

    # ------------------------------------------------------------------------------------ layers
    def set_image(self, display: np.ndarray, pixels: np.ndarray) -> None:
        """Show a new base image (H x W x 3 uint8); the old heatmap is removed until its own arrives."""
        new_size = self.pixels is None or self.pixels.shape[:2] != pixels.shape[:2]
        self.pixels = pixels
        self.base.setImage(display, autoLevels=False, levels=(0, 255))
        self.base.setVisible(True)
        self.message.setVisible(False)
        self.set_map(None)
        if new_size:
            self.fit()

    def set_map(self, map01: np.ndarray | None) -> None:
        self.map = map01
        if map01 is None:
            self.heat.clear()
        else:
            self.heat.setImage(map01, autoLevels=False, levels=(0.0, 1.0))  # NaN is drawn transparent
        path = _not_seen_path(map01)
        for item in self.unseen:
            item.setPath(path)
        self._draw_outline()
        self.mapChanged.emit(map01)

    def set_colormap(self, lut: np.ndarray) -> None:
        self.heat.setLookupTable(lut)

    def set_opacity(self, opacity: float) -> None:
        self.heat.setOpacity(opacity)

    def set_outline(self, mode: str, threshold: float) -> None:
        self._outline = (mode, threshold)
        self._draw_outline()

    def set_truth(
        self, outline: list[np.ndarray], boxes: list[tuple[int, int, int, int]], roi_outline: list[np.ndarray]
    ) -> None:
        """Ground truth of the current image: region contours (K x 2 x, y) or boxes, and the ROI's contours."""
        region = QPainterPath()
        for points in outline:
            _add_polygon(region, np.asarray(points) + 0.5)  # through pixel centres, like the map's outline
        if not outline:
            for x, y, w, h in boxes:
                region.addRect(QRectF(x, y, w, h))
        roi = QPainterPath()
        for points in roi_outline:
            _add_polygon(roi, np.asarray(points) + 0.5)
        self.truth.setPath(region)
        self.roi.setPath(roi)

    def clear_truth(self) -> None:
        self.truth.setPath(QPainterPath())
        self.roi.setPath(QPainterPath())

    def set_truth_visible(self, visible: bool) -> None:
        self.truth.setVisible(visible)
        self.roi.setVisible(visible)

    def clear(self, message: str = EMPTY_MESSAGE) -> None:
        """No image: show a hint (or why the image could not be shown) instead."""
        self.pixels = None
        self.base.clear()
        self.set_map(None)
        self.clear_truth()
        self.message.setText(message)
        self.message.setPos(0.5, 0.5)
        self.message.setVisible(True)
        self.view.setRange(QRectF(0, 0, 1, 1), padding=0)

    def fit(self) -> None:
        if self.pixels is not None:
            height, width = self.pixels.shape[:2]
            self.view.setRange(QRectF(0, 0, width, height), padding=0.02)

    # ----------------------------------------------------------------------------------- outline
    def _draw_outline(self) -> None:
        mode, threshold = self._outline
        path = QPainterPath()
        if self.map is not None and mode != "none":
            from camviewer.core import overlay

            mask = overlay.threshold_mask(self.map, threshold)
            if mode == "contour":
                for points in overlay.contours(mask):
                    _add_polygon(path, points + 0.5)  # through pixel centres
            else:
                for x, y, w, h in overlay.component_boxes(mask):
                    path.addRect(QRectF(x, y, w, h))
        self.outline.setPath(path)

    # ------------------------------------------------------------------------------------- mouse
    def _mouse_moved(self, args: tuple) -> None:
        if self.pixels is None:
            return
        point = self.view.mapSceneToView(args[0])
        x, y = int(np.floor(point.x())), int(np.floor(point.y()))
        height, width = self.pixels.shape[:2]
        if not (0 <= x < width and 0 <= y < height):
            self.hovered.emit("")
            return
        value = self.pixels[y, x]
        shown = f"{float(value):.3f}" if np.ndim(value) == 0 else "(" + ", ".join(f"{v:.3f}" for v in value) + ")"
        text = f"x {x}, y {y}   image {shown}"
        if self.map is not None:
            value = float(self.map[y, x])
            text += "   map: not seen by the model" if np.isnan(value) else f"   map {value:.3f}"
        self.hovered.emit(text)

    def _mouse_clicked(self, event) -> None:
        if event.double():
            self.fit()


def _path_item(colour: str, width: float, style: Qt.PenStyle, z: float) -> QGraphicsPathItem:
    item = QGraphicsPathItem()
    pen = QPen(QColor(colour), width, style)
    pen.setCosmetic(True)  # same width at any zoom
    item.setPen(pen)
    item.setZValue(z)
    return item


def _not_seen_path(map01: np.ndarray | None) -> QPainterPath:
    """The image minus the box the model saw (maps are NaN outside it); empty when it saw everything."""
    path = QPainterPath()
    if map01 is None or not np.isnan(map01).any():
        return path
    seen = ~np.isnan(map01)
    rows, cols = np.flatnonzero(seen.any(axis=1)), np.flatnonzero(seen.any(axis=0))
    path.setFillRule(Qt.FillRule.OddEvenFill)
    path.addRect(QRectF(0, 0, map01.shape[1], map01.shape[0]))
    if len(rows):
        path.addRect(QRectF(cols[0], rows[0], cols[-1] + 1 - cols[0], rows[-1] + 1 - rows[0]))
    return path


def _add_polygon(path: QPainterPath, points: np.ndarray) -> None:
    if len(points) == 0:
        return
    path.moveTo(QPointF(*points[0]))
    for x, y in points[1:]:
        path.lineTo(QPointF(x, y))
    path.closeSubpath()
