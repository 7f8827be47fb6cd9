"""Window/level of the base layer: which values it draws and how (display only; the model sees the decoded pixels).

Two ways to draw an image:

* **as decoded** (the default): the pixels exactly as the model sees them, through the file's own VOI
  (a DICOM window or VOI LUT, MONOCHROME1 inverted, 16-bit samples over their full range);
* **through a window** over the file's own values (Hounsfield units, raw 16-bit samples...): a preset or
  a right-drag. Dragging right widens the window (less contrast), dragging down raises the level (darker);
  the step is proportional to the current width, as in radiology viewers.

Invert swaps black and white in either way. The base ImageItem gets levels only: no new image is made
while dragging, so a 2048 x 2048 image stays fluid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from camviewer.gui.common.window_drag import describe, dragged

if TYPE_CHECKING:
    import pyqtgraph as pg

    from camviewer.core.images import Window
    from camviewer.gui.viewer.state import Picture


@dataclass(frozen=True)
class Levels:
    """What the base layer shows: ``window`` None means as decoded."""

    window: Window | None = None
    invert: bool = False


class WindowLevel:
    def __init__(self, item: pg.ImageItem) -> None:
        self.item = item
        self.picture: Picture | None = None
        self.levels = Levels()
        self._drag_start: Window | None = None

    # ------------------------------------------------------------------------------------ state
    def set_picture(self, picture: Picture | None, keep_window: bool) -> None:
        """A new image: the window stays when asked (browsing a CT series with the lung window) and the
        new image has values in the same units; else it is drawn as decoded."""
        previous = self.picture
        self.picture = picture
        same_kind = (
            previous is not None
            and picture is not None
            and (previous.units, previous.grey) == (picture.units, picture.grey)
        )
        if not (keep_window and same_kind):
            self.levels = Levels(None, self.levels.invert)
        self.apply()

    def set_window(self, window: Window | None) -> None:
        self.levels = Levels(window, self.levels.invert)
        self.apply()

    def set_invert(self, invert: bool) -> None:
        self.levels = Levels(self.levels.window, invert)
        self.apply()

    def current(self) -> Window | None:
        """The window in use, or None when the image is drawn as decoded."""
        return self.levels.window

    def describe(self) -> str:
        """ "as decoded" or "C 40 W 400 HU" for the panel and the status bar."""
        window = self.levels.window
        if window is None or self.picture is None:
            return "as decoded"
        return describe(window, self.picture.units)

    # ------------------------------------------------------------------------------------- drag
    def begin_drag(self) -> None:
        if self.picture is not None:
            self._drag_start = self.levels.window or self.picture.start

    def drag(self, dx: float, dy: float) -> None:
        """``dx``, ``dy``: screen pixels moved since the drag began."""
        if self._drag_start is not None:
            self.set_window(dragged(self._drag_start, dx, dy))

    def end_drag(self) -> None:
        self._drag_start = None

    # ---------------------------------------------------------------------------------- drawing
    def apply(self) -> None:
        picture = self.picture
        if picture is None:
            return
        window = self.levels.window
        invert = self.levels.invert != (window is not None and picture.inverted)  # as decoded: already upright
        if window is None:
            data, low, high = picture.display, 0.0, 255.0
        else:
            data = picture.values if picture.grey else picture.display
            low, high = window.low, window.high
            if not picture.grey and picture.values.dtype.itemsize > 1:  # 16-bit colour: its window in 8-bit
                scale = 255.0 / 65535.0
                low, high = low * scale, high * scale
        if self.item.image is not data:
            self.item.setImage(data, autoLevels=False, levels=(low, high))
        levels = (high, low) if invert else (low, high)  # reversed levels draw white as black
        self.item.setLevels(levels)
