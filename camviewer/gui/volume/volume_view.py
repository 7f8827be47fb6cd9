"""The volume view: axial, coronal and sagittal planes through one crosshair, with the map over each.

Slices come from the volume in memory (``camviewer.core.volumes.planes``: numpy views, no copy), so
scrolling, moving the crosshair, window/level and opacity never call a worker or the engine. The crosshair
point is a voxel of the (S, P, L) view; each plane shows the slice through it, and a click in one plane moves
it, so the other two follow. Window/level is the viewer's (the display panel's presets, a right drag); the map
layer takes the CAM panel's colormap and opacity, like the image view.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import QGridLayout, QLabel, QSlider, QVBoxLayout, QWidget

from camviewer.gui.common.window_drag import describe, dragged
from camviewer.gui.volume.plane_view import PlaneView

PLANES = ("axial", "coronal", "sagittal")  # as camviewer.core.volumes.planes.PLANES (imported lazily)
ORIENTATION = {"axial": "R ◂▸ L, A ▴", "coronal": "R ◂▸ L, S ▴", "sagittal": "A ◂▸ P, S ▴"}
HINT = (
    "Wheel, slider or Up/Down: slices · click or drag: crosshair · right drag: window/level · "
    "Ctrl+wheel: zoom · middle drag: pan · double click: fit"
)
EMPTY = "Open a folder of volumes (NIfTI, DICOM series) or drop one here"


class VolumeView(QWidget):
    hovered = Signal(str)  # voxel, position in mm, value and map value under the cursor, for the status bar
    pointChanged = Signal(object)  # the crosshair voxel (s, p, l) of the view
    windowChanged = Signal(str)  # "C 40 W 400 HU", after a preset, a drag or a new volume

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("volumeView")
        self.setAcceptDrops(False)  # drops go to the main window
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # Up/Down step slices
        self.planes = {name: PlaneView(name) for name in PLANES}
        self.titles = {name: QLabel(name.capitalize()) for name in PLANES}
        self.sliders = {name: QSlider(Qt.Orientation.Horizontal) for name in PLANES}
        self.notice = QLabel(EMPTY, wordWrap=True)
        self.notice.setObjectName("volumeNotice")
        self.readout = QLabel("", wordWrap=True)
        self.readout.setObjectName("volumeReadout")
        self.frame = None  # camviewer.gui.volume.tasks.VolumeFrame on screen
        self.map: np.ndarray | None = None  # the map turned like the volume, or None
        self.point = [0, 0, 0]
        self.window = None  # core.images.Window in use
        self.invert = False
        self._drag_start = None
        self._layout()
        for name in PLANES:
            plane = self.planes[name]
            plane.scrolled.connect(lambda delta, name=name: self.step(name, delta))
            plane.pointed.connect(lambda row, col, name=name: self.point_at(name, row, col))
            plane.hovered.connect(lambda where, name=name: self._hover(name, where))
            plane.windowDragged.connect(self._window_dragged)
            self.sliders[name].valueChanged.connect(lambda value, name=name: self.go_to(name, value))
            self.sliders[name].setToolTip(f"{name.capitalize()} slice (or the wheel over the plane)")
        self.clear()

    def _layout(self) -> None:
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(4)
        for index, name in enumerate(PLANES):
            cell = QVBoxLayout()
            cell.setSpacing(1)
            cell.addWidget(self.titles[name])
            cell.addWidget(self.planes[name], 1)
            cell.addWidget(self.sliders[name])
            grid.addLayout(cell, index // 2, index % 2)
        info = QVBoxLayout()
        hint = QLabel(HINT, wordWrap=True)
        hint.setStyleSheet("color: #666")
        for widget in (self.notice, self.readout, hint):
            info.addWidget(widget)
        info.addStretch(1)
        grid.addLayout(info, 1, 1)
        for line in (0, 1):
            grid.setRowStretch(line, 1)
            grid.setColumnStretch(line, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(grid, 1)

    # ----------------------------------------------------------------------------------- content
    def set_volume(self, frame, keep_window: bool = False) -> None:
        """Show a new volume (a VolumeFrame): crosshair at its centre, no map yet. ``keep_window``: the window in
        use stays (browsing a folder of CTs in the lung window), else the volume's default (its first preset)."""
        same_units = self.frame is not None and self.frame.volume.info.units == frame.volume.info.units
        self.frame, self.map = frame, None
        if not (keep_window and same_units and self.window is not None):
            self.window = frame.windows[0]
        view = frame.view
        self.point = [n // 2 for n in view.shape]
        for name in PLANES:
            rows, cols = view.plane(frame.turned, name, 0).shape
            self.planes[name].set_geometry((rows, cols), view.pixel_spacing(name))
            with QSignalBlocker(self.sliders[name]):
                self.sliders[name].setRange(0, view.count(name) - 1)
            self.sliders[name].setEnabled(True)
        self._draw_all()
        self.notice.setText(frame.summary)
        self.readout.setText("")
        self.windowChanged.emit(self.describe_window())

    def set_map(self, map01: np.ndarray | None) -> None:
        """The map on the volume's own voxels ((D, H, W) in [0, 1], NaN where not seen), or None."""
        self.map = None if map01 is None or self.frame is None else self.frame.view.turn(map01)
        self._draw_all()

    def set_notice(self, text: str) -> None:
        """A note under the volume's summary (e.g. why there is no map); "" clears it."""
        summary = self.frame.summary if self.frame is not None else EMPTY
        self.notice.setText(f"{summary}\n\n{text}" if text else summary)

    def set_colormap(self, lut: np.ndarray) -> None:
        for plane in self.planes.values():
            plane.set_colormap(lut)

    def set_opacity(self, opacity: float) -> None:
        for plane in self.planes.values():
            plane.set_opacity(opacity)

    def clear(self, message: str = EMPTY) -> None:
        self.frame, self.map = None, None
        for name in PLANES:
            self.planes[name].clear()
            self.sliders[name].setEnabled(False)
            self.titles[name].setText(name.capitalize())
        self.notice.setText(message)
        self.readout.setText("")

    def fit(self) -> None:
        for plane in self.planes.values():
            plane.fit()

    # ------------------------------------------------------------------------------ window/level
    def set_window(self, window) -> None:
        """A ``core.images.Window`` over the volume's values; None: the volume's default window."""
        if self.frame is not None:
            self.window = window or self.frame.windows[0]
            self._apply_levels()

    def set_invert(self, invert: bool) -> None:
        self.invert = invert
        self._apply_levels()

    def describe_window(self) -> str:
        return describe(self.window, self.frame.volume.info.units) if self.frame and self.window else ""

    def levels(self) -> tuple[float, float]:
        """The base layers' levels: (low, high) of the window, reversed when inverted."""
        low, high = (self.window.low, self.window.high) if self.window else (0.0, 1.0)
        return (high, low) if self.invert else (low, high)

    def _apply_levels(self) -> None:
        for plane in self.planes.values():
            plane.set_levels(self.levels())
        self.windowChanged.emit(self.describe_window())

    def _window_dragged(self, dx: float, dy: float, started: bool, finished: bool) -> None:
        if started:
            self._drag_start = self.window
        if self._drag_start is not None:
            self.window = dragged(self._drag_start, dx, dy)
            self._apply_levels()
        if finished:
            self._drag_start = None

    # -------------------------------------------------------------------------------- navigation
    def slice_index(self, name: str) -> int:
        """The slice a plane shows."""
        return self.frame.view.plane_point(name, self.point)[0] if self.frame else 0

    def go_to(self, name: str, index: int) -> None:
        """Show slice ``index`` of plane ``name`` (clipped to the volume): the crosshair moves with it."""
        if self.frame is None:
            return
        view = self.frame.view
        _slice, row, col = view.plane_point(name, self.point)
        index = min(max(int(index), 0), view.count(name) - 1)
        self.set_point(view.view_point(name, index, row, col))

    def step(self, name: str, delta: int) -> None:
        self.go_to(name, self.slice_index(name) + delta)

    def point_at(self, name: str, row: int, col: int) -> None:
        """The crosshair to (row, col) of the slice ``name`` shows: the other planes follow."""
        if self.frame is not None:
            self.set_point(self.frame.view.view_point(name, self.slice_index(name), row, col))

    def set_point(self, point) -> None:
        point = [int(v) for v in point]
        if point == self.point:
            return
        self.point = point
        self._draw_all()
        self.pointChanged.emit(tuple(point))

    def keyPressEvent(self, event) -> None:
        """Up/Down: the slice of the plane under the cursor (the axial one otherwise)."""
        keys = {Qt.Key.Key_Up: 1, Qt.Key.Key_Down: -1}
        if event.key() in keys and self.frame is not None:
            under = [name for name, plane in self.planes.items() if plane.underMouse()]
            self.step(under[0] if under else "axial", keys[event.key()])
            event.accept()
        else:
            super().keyPressEvent(event)

    # ------------------------------------------------------------------------------------ drawing
    def _draw_all(self) -> None:
        if self.frame is None:
            return
        view, turned = self.frame.view, self.frame.turned
        for name in PLANES:
            index, row, col = view.plane_point(name, self.point)
            plane = self.planes[name]
            plane.set_slice(view.plane(turned, name, index), self.levels())
            plane.set_map(None if self.map is None else view.plane(self.map, name, index))
            plane.set_crosshair(row, col)
            with QSignalBlocker(self.sliders[name]):
                self.sliders[name].setValue(index)
            self.titles[name].setText(
                f"<b>{name.capitalize()}</b> {index + 1} / {view.count(name)}"
                f"<span style='color:#888'>   {ORIENTATION[name]}</span>"
            )

    def _hover(self, name: str, where) -> None:
        if self.frame is None or where is None:
            self.hovered.emit("")
            return
        view, volume = self.frame.view, self.frame.volume
        point = view.view_point(name, self.slice_index(name), *where)
        voxel = view.source_index(point)
        x, y, z = volume.to_world(voxel)
        units = f" {volume.info.units}" if volume.info.units else ""
        parts = [
            f"voxel {voxel[0]}, {voxel[1]}, {voxel[2]}",
            f"RAS {x:.1f}, {y:.1f}, {z:.1f} mm",
            f"value {volume.array[voxel]:.1f}{units}",
        ]
        if self.map is not None:
            value = float(self.map[point])
            parts.append("map: not seen by the model" if np.isnan(value) else f"map {value:.3f}")
        self.readout.setText("\n".join(parts))
        self.hovered.emit("   ".join(parts))
