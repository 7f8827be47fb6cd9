"""Heatmap rendering: colormaps, alpha blending, thresholds, contours and boxes (OpenCV).

Maps may hold NaN where the model did not see the image (outside a centre or border crop): those
pixels are drawn as "not seen" (the image darkened under grey stripes), never in the colormap's cold
colour, and no threshold selects them.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from camviewer.core.atomic import atomic_path
from camviewer.core.errors import WriteFailed

COLORMAPS = {
    "jet": cv2.COLORMAP_JET,
    "turbo": cv2.COLORMAP_TURBO,
    "inferno": cv2.COLORMAP_INFERNO,
    "viridis": cv2.COLORMAP_VIRIDIS,
    "gray": None,
}


def colormap_lut(name: str = "jet") -> np.ndarray:
    """256 x 3 uint8 RGB lookup table (the GUI feeds it to pyqtgraph)."""
    return _lut(name).copy()


@functools.cache
def _lut(name: str) -> np.ndarray:
    """The table of ``name``, made once (an export colours every image with it); read-only, as it is shared."""
    if name not in COLORMAPS:
        raise ValueError(f"unknown colormap {name!r}; choose from {', '.join(COLORMAPS)}")
    ramp = np.arange(256, dtype=np.uint8)[:, None]
    if COLORMAPS[name] is None:
        table = np.repeat(ramp, 3, axis=1)
    else:
        table = cv2.applyColorMap(ramp, COLORMAPS[name])[:, 0, ::-1].copy()
    table.flags.writeable = False
    return table


def to_uint8(map01: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(map01 * 255.0), 0, 255).astype(np.uint8)


def colorize(map01: np.ndarray, colormap: str = "jet") -> np.ndarray:
    """H x W map in [0, 1] -> H x W x 3 uint8 RGB (NaN pixels get the colour of 0; see :func:`overlay`)."""
    # OpenCV applying the table: the pixels of lut[indices], 15x faster and without holding the GIL (an export
    # colours maps in threads beside the model)
    return cv2.applyColorMap(to_uint8(np.nan_to_num(map01, nan=0.0)), _lut(colormap).reshape(256, 1, 3))


NOT_SEEN_STRIPE = 8  # pixels between the diagonal stripes of "not seen" regions


def mark_not_seen(rgb: np.ndarray, base: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """``rgb`` with the pixels outside ``seen`` replaced by the darkened ``base`` under light grey stripes."""
    if seen.all():
        return rgb
    out = rgb.copy()
    rows, cols = np.nonzero(~seen)
    stripe = (rows + cols) % NOT_SEEN_STRIPE < 2
    out[rows, cols] = (base[rows, cols] * 0.35).astype(np.uint8)
    out[rows[stripe], cols[stripe]] = 160
    return out


def as_rgb8(pixels: np.ndarray) -> np.ndarray:
    """Decoded float image (H x W or H x W x 3, [0, 1]) -> H x W x 3 uint8."""
    rgb = to_uint8(pixels)
    return np.repeat(rgb[:, :, None], 3, axis=2) if rgb.ndim == 2 else rgb


def blend(base_rgb: np.ndarray, heat_rgb: np.ndarray, alpha: float) -> np.ndarray:
    """(1 - alpha) * base + alpha * heat, uint8."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], not {alpha}")
    return cv2.addWeighted(heat_rgb, alpha, base_rgb, 1.0 - alpha, 0.0)


def overlay(pixels: np.ndarray, map01: np.ndarray, colormap: str = "jet", alpha: float = 0.5) -> np.ndarray:
    """The heatmap blended over the image, H x W x 3 uint8 RGB; pixels the model did not see are marked."""
    base = as_rgb8(pixels)
    return mark_not_seen(blend(base, colorize(map01, colormap), alpha), base, ~np.isnan(map01))


def threshold_mask(map01: np.ndarray, threshold: float) -> np.ndarray:
    """Pixels at or above ``threshold`` (a fraction of the map's maximum, as in Zhou et al.'s 20%); never NaN ones."""
    peak = float(np.nanmax(map01))
    return map01 >= threshold * peak if peak > 0 else np.zeros(map01.shape, bool)


def contours(mask: np.ndarray) -> list[np.ndarray]:
    """Outer contours of a boolean mask, each K x 2 (x, y) int32."""
    found, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return [c[:, 0, :] for c in found]


def component_boxes(mask: np.ndarray) -> list[tuple[int, int, int, int]]:
    """(x, y, w, h) of each 8-connected component, largest area first."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    rows = sorted(stats[1:count], key=lambda s: -s[cv2.CC_STAT_AREA])
    return [(int(s[0]), int(s[1]), int(s[2]), int(s[3])) for s in rows]


def draw_contours(rgb: np.ndarray, outlines: list[np.ndarray], color=(255, 255, 255), thickness: int = 1) -> np.ndarray:
    out = rgb.copy()
    cv2.polylines(out, [c.reshape(-1, 1, 2) for c in outlines], True, color, thickness, cv2.LINE_AA)
    return out


def draw_boxes(rgb: np.ndarray, boxes, color=(255, 255, 255), thickness: int = 1) -> np.ndarray:
    out = rgb.copy()
    for x, y, w, h in boxes:
        cv2.rectangle(out, (x, y), (x + w - 1, y + h - 1), color, thickness)
    return out


# PNG is lossless: these settings change only the file's size (about 4% smaller than OpenCV's default on
# overlays) and the time spent encoding (about 15% less), never the decoded pixels. Up-filter and Huffman-only
# coding; OpenCV before 4.11 has no filter setting and keeps its default.
PNG_OPTIONS = [cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY] + (
    [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP] if hasattr(cv2, "IMWRITE_PNG_FILTER") else []
)


def write_png(path, rgb: np.ndarray) -> None:
    """Write an RGB (or grey) uint8 image atomically; WriteFailed when the file cannot be written."""
    if rgb.ndim == 3:  # OpenCV writes BGR; cvtColor swaps in one pass where a reversed view would be copied first
        data = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) if rgb.shape[2] == 3 else rgb[:, :, ::-1]
    else:
        data = rgb
    ok, encoded = cv2.imencode(".png", data, PNG_OPTIONS)
    if not ok:
        raise WriteFailed(path, "the image could not be encoded as PNG")
    with atomic_path(path) as tmp:
        tmp.write_bytes(encoded.tobytes())  # Python's write: a full disk is reported with its reason
