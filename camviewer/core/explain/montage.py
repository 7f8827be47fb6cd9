"""A PNG montage of a volume's axial slices with its map blended over them, for `camviewer explain` on volumes.

Slices are shown as radiologists read them (``volumes.planes``: anterior up, the patient's right on the left),
at their true aspect, from inferior (top left) to superior; the slices are spread evenly over the volume and one
of them is always the slice of the map's peak. The image is drawn in the window the viewer opens it in (DICOM's
own, else its 0.5th to 99.5th percentiles).
"""

from __future__ import annotations

import cv2
import numpy as np

from camviewer.core.overlay import overlay
from camviewer.core.volumes.planes import display_windows, view_of, windowed
from camviewer.core.volumes.records import Volume

TILE = 192  # pixels of a tile's longer side
LABEL_HEIGHT = 16


def montage(
    volume: Volume, map01: np.ndarray, colormap: str = "jet", alpha: float = 0.5, tiles: int = 16
) -> np.ndarray:
    """H x W x 3 uint8 RGB: ``tiles`` axial slices of ``volume`` (at most one per slice) with ``map01`` over them."""
    view = view_of(volume)
    image, heat = view.turn(display_values(volume)), view.turn(map01)
    chosen = slices_to_show(heat, tiles)
    row_mm, col_mm = view.pixel_spacing("axial")
    rows, cols = view.shape[1], view.shape[2]
    scale = TILE / max(rows * row_mm, cols * col_mm)
    size = (max(1, round(cols * col_mm * scale)), max(1, round(rows * row_mm * scale)))  # (width, height): true aspect
    pictures = []
    for index in chosen:
        blended = overlay(view.plane(image, "axial", index), view.plane(heat, "axial", index), colormap, alpha)
        picture = cv2.resize(blended, size, interpolation=cv2.INTER_LINEAR)
        pictures.append(_labelled(picture, f"axial {index + 1}/{view.count('axial')}"))
    columns = min(4, len(pictures))
    blank = np.zeros_like(pictures[0])
    pictures += [blank] * (-len(pictures) % columns)
    return np.vstack([np.hstack(pictures[start : start + columns]) for start in range(0, len(pictures), columns)])


def slices_to_show(turned_map: np.ndarray, tiles: int) -> list[int]:
    """Axial slices spread evenly over the volume, the one nearest the map's peak replaced by the peak's slice."""
    count = turned_map.shape[0]
    chosen = sorted({int(round(i)) for i in np.linspace(0, count - 1, min(tiles, count))})
    if np.isfinite(turned_map).any():
        peak = int(np.unravel_index(int(np.nanargmax(turned_map)), turned_map.shape)[0])
        nearest = min(range(len(chosen)), key=lambda i: abs(chosen[i] - peak))
        chosen[nearest] = peak
    return sorted(set(chosen))


def display_values(volume: Volume) -> np.ndarray:
    """The volume in [0, 1] for display, in the first of the windows a viewer offers (``planes.display_windows``)."""
    return windowed(volume.array, display_windows(volume)[0])


def _labelled(picture: np.ndarray, text: str) -> np.ndarray:
    band = np.zeros((LABEL_HEIGHT, picture.shape[1], 3), np.uint8)
    cv2.putText(band, text, (4, LABEL_HEIGHT - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (230, 230, 230), 1, cv2.LINE_AA)
    return np.vstack([band, picture])
