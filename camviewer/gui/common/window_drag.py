"""Window/level by right-drag, as in radiology viewers, shared by the image view and the volume planes.

Dragging right widens the window (less contrast), dragging down raises the level (darker); the step is
proportional to the window's width at the start of the drag, so it feels the same in HU and in 8-bit values.
"""

from __future__ import annotations

import math

DRAG_PIXELS_PER_DOUBLING = 200.0  # dragging this far right doubles the width
DRAG_PIXELS_PER_WIDTH = 400.0  # dragging this far down moves the level by one width


def dragged(start, dx: float, dy: float):
    """The ``core.images.Window`` after dragging ``dx``, ``dy`` screen pixels from the window ``start``."""
    from camviewer.core.images import Window

    width = max(start.width * 2 ** (dx / DRAG_PIXELS_PER_DOUBLING), 1e-6)
    return Window("Custom", start.center + dy * start.width / DRAG_PIXELS_PER_WIDTH, width)


def describe(window, units: str) -> str:
    """ "C 40 W 400 HU" for the display panel and the status bar."""
    unit = f" {units}" if units else ""
    return f"C {short(window.center)} W {short(window.width)}{unit}"


def short(value: float) -> str:
    return str(int(round(value))) if abs(value) >= 10 or math.isclose(value, round(value)) else f"{value:.3g}"
