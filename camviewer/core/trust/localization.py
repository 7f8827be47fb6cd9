"""Does the map point at the right place? Per-image scores against ground-truth masks and boxes.

All maps are H x W float arrays in [0, 1] at the image's size; masks are H x W booleans. A map is NaN
where the model did not see the image (outside a centre or border crop): those pixels are never the
peak, never above a threshold and carry no energy; :func:`seen_only` clips ground truth to the rest.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from camviewer.core.overlay import component_boxes, threshold_mask

Box = tuple[int, int, int, int]  # x, y, w, h in pixels


def peak(map01: np.ndarray) -> tuple[int, int]:
    """(row, col) of the map's maximum (the first one in row-major order on ties; NaN ignored)."""
    return np.unravel_index(int(np.nanargmax(map01)), map01.shape)


def pointing_hit(map01: np.ndarray, mask: np.ndarray, tolerance: float = 0.0) -> bool | None:
    """Pointing game: is the map's peak inside the region, or within ``tolerance`` pixels of it?

    None when the image has no region (a negative image has nothing to point at).
    """
    if not mask.any():
        return None
    row, col = peak(map01)
    if mask[row, col]:
        return True
    if tolerance <= 0:
        return False
    outside = (~mask).astype(np.uint8)  # distance of every pixel to the nearest region pixel
    distance = cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return bool(distance[row, col] <= tolerance)


def binarize(map01: np.ndarray, threshold: float | str = 0.2) -> np.ndarray:
    """Threshold a map: a fraction of its maximum (Zhou et al. use 0.2) or "otsu"."""
    if threshold == "otsu":
        seen = ~np.isnan(map01)
        levels = np.clip(np.rint(np.nan_to_num(map01) * 255), 0, 255).astype(np.uint8)
        if levels[seen].min() == levels[seen].max():
            return np.zeros(map01.shape, bool)
        cut, _ = cv2.threshold(levels[seen][:, None], 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        return (levels > cut) & seen
    return threshold_mask(map01, float(threshold))


def iou(a: np.ndarray, b: np.ndarray) -> float | None:
    union = np.logical_or(a, b).sum()
    return None if union == 0 else float(np.logical_and(a, b).sum() / union)


def dice(a: np.ndarray, b: np.ndarray) -> float | None:
    total = a.sum() + b.sum()
    return None if total == 0 else float(2 * np.logical_and(a, b).sum() / total)


def energy_inside(map01: np.ndarray, region: np.ndarray) -> float | None:
    """Share of the map's total mass inside the region (energy-based pointing game)."""
    total = float(np.nansum(map01))
    return None if total <= 0 else float(np.nansum(map01[region]) / total)


def seen_only(map01: np.ndarray, mask: np.ndarray | None, boxes: Sequence[Box] = ()) -> tuple:
    """Ground truth clipped to the pixels the model saw (the finite part of the map): (mask, boxes).

    A lesion the model never saw can be neither found nor missed by its map, so scores ignore it.
    """
    seen = ~np.isnan(map01)
    if seen.all():
        return mask, list(boxes)
    rows, cols = np.flatnonzero(seen.any(axis=1)), np.flatnonzero(seen.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    clipped = []
    for x, y, w, h in boxes:
        x0, y0, x1, y1 = max(x, left), max(y, top), min(x + w, right), min(y + h, bottom)
        if x1 > x0 and y1 > y0:
            clipped.append((int(x0), int(y0), int(x1 - x0), int(y1 - y0)))
    return (None if mask is None else mask & seen), clipped


def box_iou(a: Box, b: Box) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    overlap_w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    overlap_h = max(0, min(ay + ah, by + bh) - max(ay, by))
    overlap = overlap_w * overlap_h
    union = aw * ah + bw * bh - overlap
    return 0.0 if union <= 0 else overlap / union


def largest_component_box(mask: np.ndarray) -> Box | None:
    boxes = component_boxes(mask)
    return boxes[0] if boxes else None


def boxes_to_mask(boxes: Sequence[Box], shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, bool)
    for x, y, w, h in boxes:
        mask[max(0, y) : max(0, y + h), max(0, x) : max(0, x + w)] = True
    return mask
