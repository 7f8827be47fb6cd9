"""Centre view: the image and its heatmap as two pyqtgraph ImageItems in one ViewBox, a colour bar beside them.

The heatmap layer is coloured by a lookup table and blended by the item's own opacity, so the opacity
slider only changes a QGraphicsItem property: no recomputation, no new image, just a repaint. Where the
model did not see the image (outside a centre or border crop: NaN in the map) the heatmap is transparent
and a shaded, hatched item says "not seen", never the cold end of the colormap. The
outline of the thresholded map (contours or boxes) is a third item above both. Ground truth, when loaded,
is drawn by two more items of its own (the region in green, the region of interest dashed in cyan), so
it can be shown or hidden without touching the map.

Display only, never what the model sees: window/level and invert of the base layer (right-drag, presets;
see :mod:`~camviewer.gui.viewer.window_level`), the map's scale (each map stretched over its own range,
or one fixed maximum in the map's raw units, shown on the colour bar), zoom (fit, 1:1). The cursor
readout gives the file's own value (HU of a CT, raw 16-bit samples) and the map's value and raw value;
it is refreshed whenever the image, the map or the window changes under a still cursor.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem, QWidget

from camviewer.gui.viewer.state import Picture
from camviewer.gui.viewer.window_level import WindowLevel

EMPTY_MESSAGE = "Open a folder (Ctrl+O) or drop images here"
TRUTH_COLOUR, ROI_COLOUR = "#51cf66", "#22b8cf"
PADDING = 0.02
COLORBAR_STOPS = 32


class _ImageBox(pg.ViewBox):
    """A ViewBox whose right-drag sets window/level instead of zooming (the wheel and left-drag still zoom/pan)."""

    def __init__(self, window_level: WindowLevel) -> None:
        super().__init__(lockAspect=True, invertY=True, enableMenu=False, defaultPadding=PADDING)
        self.window_level = window_level
        self.on_window_changed = lambda: None

    def mouseDragEvent(self, event, axis=None) -> None:
        if event.button() != Qt.MouseButton.RightButton:
            super().mouseDragEvent(event, axis)
            return
        event.accept()
        if event.isStart():
            self.window_level.begin_drag()
        moved = event.screenPos() - event.buttonDownScreenPos()
        self.window_level.drag(moved.x(), moved.y())
        if event.isFinish():
            self.window_level.end_drag()
        self.on_window_changed()


class ImageView(pg.GraphicsView):
    hovered = Signal(str)  # "x, y: image value, map value" for the status bar
    mapChanged = Signal(object)  # the map on screen (H x W in [0, 1]) or None
    zoomChanged = Signal(float)  # screen pixels per image pixel
    windowChanged = Signal(str)  # "as decoded" or "C 40 W 400 HU"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background=QColor("#202124"))
        self.setObjectName("imageView")
        self.setAcceptDrops(False)  # drops go to the main window, which opens them
        self.base = pg.ImageItem(axisOrder="row-major")
        self.window_level = WindowLevel(self.base)
        self.view = _ImageBox(self.window_level)
        self.view.on_window_changed = self._window_changed
        self.colorbar = pg.ColorBarItem(values=(0.0, 1.0), width=14, interactive=False, colorMapMenu=False)
        axis = self.colorbar.getAxis("right")
        axis.setTextPen(pg.mkPen("#c8c8c8"))
        axis.enableAutoSIPrefix(False)  # raw map values such as 3e-05 keep their exponent; no label re-layout
        axis.setWidth(None)  # as wide as its labels ("5.6e-05"): a fixed 45 px drops them with larger fonts
        self.colorbar.setVisible(False)
        layout = pg.GraphicsLayout()
        layout.setContentsMargins(0, 0, 4, 0)
        layout.addItem(self.view, 0, 0)
        layout.addItem(self.colorbar, 0, 1)
        self.setCentralItem(layout)
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
        self.picture: Picture | None = None
        self.pixels: np.ndarray | None = None  # decoded float pixels (what the model sees)
        self.map: np.ndarray | None = None
        self.map_range: tuple[float, float] | None = None  # raw (low, high) of the map's min-max
        self.fixed_maximum: float | None = None  # fixed map scale: the raw value at the colormap's top
        self._lut: np.ndarray | None = None
        self._outline = ("none", 0.5)
        self._fitted = True  # follows the widget's size until the user zooms or pans
        self._one_to_one = False  # stays 1:1 as the widget's size settles, until the user zooms or pans
        self._cursor: QPointF | None = None  # scene position of the mouse, while over the view
        self._hover = pg.SignalProxy(self.scene().sigMouseMoved, rateLimit=30, slot=self._mouse_moved)
        self.scene().sigMouseClicked.connect(self._mouse_clicked)
        self.view.sigRangeChangedManually.connect(self._user_zoomed)
        self.view.sigRangeChanged.connect(self._range_changed)
        self._refit = QTimer(self, singleShot=True, interval=0)  # after the layout has settled
        self._refit.timeout.connect(self._fit_if_following)
        self.clear(EMPTY_MESSAGE)

    # ------------------------------------------------------------------------------------ layers
    def set_image(self, picture: Picture, pixels: np.ndarray, keep_window: bool = False) -> None:
        """Show a new base image; the old heatmap is removed until its own arrives. ``keep_window``: a window
        chosen by the user stays (browsing a series), when the new image's values have the same units."""
        new_size = self.pixels is None or self.pixels.shape[:2] != pixels.shape[:2]
        self.picture, self.pixels = picture, pixels
        self.window_level.set_picture(picture, keep_window)
        self.base.setVisible(True)
        self.message.setVisible(False)
        self.set_map(None)
        if new_size or self._fitted:
            self.fit()
        self.windowChanged.emit(self.window_level.describe())

    def set_map(self, map01: np.ndarray | None, map_range: tuple[float, float] | None = None) -> None:
        self.map, self.map_range = map01, map_range if map01 is not None else None
        if map01 is None:
            self.heat.clear()
        else:
            self.heat.setImage(map01, autoLevels=False, levels=self._heat_levels())  # NaN is drawn transparent
        path = _not_seen_path(map01)
        for item in self.unseen:
            item.setPath(path)
        self._update_colorbar()
        self._draw_outline()
        self.mapChanged.emit(map01)
        self.refresh_readout()

    def set_colormap(self, lut: np.ndarray) -> None:
        if self._lut is not None and np.array_equal(lut, self._lut):
            return
        self._lut = lut
        self.heat.setLookupTable(lut)
        stops = lut[np.linspace(0, len(lut) - 1, COLORBAR_STOPS).astype(int)]  # plenty for a bar, 8x cheaper
        self.colorbar.setColorMap(pg.ColorMap(np.linspace(0.0, 1.0, COLORBAR_STOPS), stops))

    def set_opacity(self, opacity: float) -> None:
        self.heat.setOpacity(opacity)
        self.colorbar.setVisible(self.map is not None and opacity > 0)  # it describes the layer on screen

    def set_outline(self, mode: str, threshold: float) -> None:
        self._outline = (mode, threshold)
        self._draw_outline()

    def set_fixed_maximum(self, maximum: float | None) -> None:
        """None: each map stretched over its own range; else one raw maximum for every map (display only)."""
        self.fixed_maximum = maximum
        if self.map is not None:
            self.heat.setLevels(self._heat_levels())
        self._update_colorbar()
        self.refresh_readout()

    # ----------------------------------------------------------------------------- window/level
    def set_window(self, window) -> None:
        """A ``core.images.Window`` over the file's values, or None: as decoded (as the model sees it)."""
        self.window_level.set_window(window)
        self._window_changed()

    def set_invert(self, invert: bool) -> None:
        self.window_level.set_invert(invert)
        self._window_changed()

    def _window_changed(self) -> None:
        self.windowChanged.emit(self.window_level.describe())

    # ----------------------------------------------------------------------------------- truth
    def set_truth(
        self, outline: list[np.ndarray], boxes: list[tuple[int, int, int, int]], roi_outline: list[np.ndarray]
    ) -> None:
        """Ground truth of the current image: region contours (K x 2 x, y) or boxes, and the ROI's contours."""
        region = QPainterPath()
        for points in outline:
            add_polygon(region, np.asarray(points) + 0.5)  # through pixel centres, like the map's outline
        if not outline:
            for x, y, w, h in boxes:
                region.addRect(QRectF(x, y, w, h))
        roi = QPainterPath()
        for points in roi_outline:
            add_polygon(roi, np.asarray(points) + 0.5)
        self.truth.setPath(region)
        self.roi.setPath(roi)

    def clear_truth(self) -> None:
        self.truth.setPath(QPainterPath())
        self.roi.setPath(QPainterPath())

    def set_truth_visible(self, visible: bool) -> None:
        self.truth.setVisible(visible)
        self.roi.setVisible(visible)

    # ------------------------------------------------------------------------------- no image
    def clear(self, message: str = EMPTY_MESSAGE) -> None:
        """No image: show a hint (or why the image could not be shown) instead."""
        self.picture, self.pixels = None, None
        self.window_level.set_picture(None, keep_window=True)
        self.base.clear()
        self.set_map(None)
        self.clear_truth()
        self.message.setText(message)
        self.message.setPos(0.5, 0.5)
        self.message.setVisible(True)
        self.view.setRange(QRectF(0, 0, 1, 1), padding=0)
        self._fitted, self._one_to_one = True, False

    # ------------------------------------------------------------------------------------ zoom
    def fit(self) -> None:
        """The whole image in the view; it then follows the view's size until the user zooms or pans."""
        self._fitted, self._one_to_one = True, False
        if self.pixels is not None:
            height, width = self.pixels.shape[:2]
            self.view.setRange(QRectF(0, 0, width, height), padding=PADDING)

    def actual_size(self) -> None:
        """1:1: one image pixel per screen pixel, around the centre of what is shown."""
        if self.pixels is None:
            return
        self._fitted, self._one_to_one = False, True
        scale = self.devicePixelRatioF()
        box = self.view.sceneBoundingRect()
        centre = self.view.viewRect().center()
        width, height = box.width() * scale, box.height() * scale  # as many image pixels as device pixels
        self.view.setRange(
            QRectF(centre.x() - width / 2, centre.y() - height / 2, width, height), padding=0, disableAutoRange=True
        )

    def zoom(self) -> float:
        """Screen pixels per image pixel (1.0 at 1:1)."""
        shown = self.view.viewRect().width()
        return self.view.sceneBoundingRect().width() * self.devicePixelRatioF() / shown if shown > 0 else 1.0

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if getattr(self, "_fitted", False) or getattr(self, "_one_to_one", False):  # (called while being built)
            self._refit.start()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._fitted:
            self._refit.start()

    def _fit_if_following(self) -> None:
        if self._fitted:
            self.fit()
        elif self._one_to_one:  # a dock or the status bar settled after 1:1 was asked for
            self.actual_size()

    def _user_zoomed(self, *_args) -> None:
        self._fitted = self._one_to_one = False

    def _range_changed(self, *_args) -> None:
        self.zoomChanged.emit(self.zoom())
        self.refresh_readout()  # another pixel is under a still cursor now

    # ---------------------------------------------------------------------------------- heatmap
    def _heat_levels(self) -> tuple[float, float]:
        """Levels of the [0, 1] map: (0, 1) per image; with a fixed maximum, the levels at which the raw map
        is 0 and that maximum (raw = low + map * (high - low))."""
        if self.fixed_maximum is None or self.map_range is None:
            return (0.0, 1.0)
        low, high = self.map_range
        span = max(high - low, 1e-12)
        return (-low / span, (self.fixed_maximum - low) / span)

    def _update_colorbar(self) -> None:
        shown = self.map is not None
        self.colorbar.setVisible(shown and self.heat.opacity() > 0)
        if not shown:
            return
        if self.fixed_maximum is not None and self.map_range is not None:
            self.colorbar.setLevels((0.0, self.fixed_maximum))
            self.colorbar.setToolTip("Map scale: fixed for the folder, in the method's raw units")
        elif self.map_range is not None:
            self.colorbar.setLevels(self.map_range)
            self.colorbar.setToolTip("Map scale: this image's own range (min–max), in the method's raw units")
        else:
            self.colorbar.setLevels((0.0, 1.0))
            self.colorbar.setToolTip("Map scale: this image's own range, 0 to 1")

    # ----------------------------------------------------------------------------------- outline
    def _draw_outline(self) -> None:
        mode, threshold = self._outline
        path = QPainterPath()
        if self.map is not None and mode != "none":
            from camviewer.core import overlay

            mask = overlay.threshold_mask(self.map, threshold)
            if mode == "contour":
                for points in overlay.contours(mask):
                    add_polygon(path, points + 0.5)  # through pixel centres
            else:
                for x, y, w, h in overlay.component_boxes(mask):
                    path.addRect(QRectF(x, y, w, h))
        self.outline.setPath(path)

    # ------------------------------------------------------------------------------------- mouse
    def _mouse_moved(self, args: tuple) -> None:
        self._cursor = args[0]
        self.refresh_readout()

    def leaveEvent(self, event) -> None:
        super().leaveEvent(event)
        self._cursor = None
        self.hovered.emit("")

    def refresh_readout(self) -> None:
        """The readout at the cursor, now: after a new image, map or window, never a stale one."""
        if self._cursor is None:
            return
        self.hovered.emit(self.readout_at(self.view.mapSceneToView(self._cursor)))

    def readout_at(self, point: QPointF) -> str:
        """ "x 10, y 20   29 HU   map 0.452 (raw 0.0123)" at a point in image coordinates; "" outside."""
        if self.pixels is None or self.picture is None:
            return ""
        from camviewer.core.images.values import describe_value

        x, y = int(np.floor(point.x())), int(np.floor(point.y()))
        height, width = self.pixels.shape[:2]
        if not (0 <= x < width and 0 <= y < height):
            return ""
        text = f"x {x}, y {y}   {describe_value(self.picture.values[y, x], self.picture.units)}"
        if self.map is not None:
            value = float(self.map[y, x])
            text += "   map: not seen by the model" if np.isnan(value) else f"   map {value:.3f}"
            if self.map_range is not None and np.isfinite(value):
                low, high = self.map_range
                text += f" (raw {low + value * (high - low):.4g})"
        return text

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


def add_polygon(path: QPainterPath, points: np.ndarray) -> None:
    if len(points) == 0:
        return
    path.moveTo(QPointF(*points[0]))
    for x, y in points[1:]:
        path.lineTo(QPointF(x, y))
    path.closeSubpath()
