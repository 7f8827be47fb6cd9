"""Does the map point at the right place? Per-image scores against ground-truth masks and boxes.

All maps are H x W float arrays in [0, 1] at the image's size (D x H x W for volumes: every score but the box
IoU works in 3-D, distances in voxels); masks are booleans of the same shape. A map is NaN
where the model did not see the image (outside a centre or border crop): those pixels are never the
peak, never above a threshold and carry no energy; :func:`seen_only` clips ground truth to the rest.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from scipy import ndimage

from camviewer.core.overlay import component_boxes, threshold_mask

Box = tuple[int, int, int, int]  # x, y, w, h in pixels


def peak(map01: np.ndarray) -> tuple[int, ...]:
    """(row, col) of the map's maximum ((slice, row, col) of a volume's; the first in C order on ties; NaN ignored)."""
    return tuple(int(i) for i in np.unravel_index(int(np.nanargmax(map01)), map01.shape))


def pointing_hit(map01: np.ndarray, mask: np.ndarray, tolerance: float = 0.0) -> bool | None:
    """Pointing game: is the map's peak inside the region, or within ``tolerance`` pixels of it?

    None when the image has no region (a negative image has nothing to point at).
    """
    if not mask.any():
        return None
    where = peak(map01)
    if mask[where]:
        return True
    if tolerance <= 0:
        return False
    return bool(_distance_to(mask)[where] <= tolerance)


def _distance_to(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance of every pixel (voxel) to the nearest region pixel (0 inside)."""
    if mask.ndim == 3:
        return ndimage.distance_transform_edt(~mask)
    return cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def share(mask: np.ndarray, seen: np.ndarray | None = None) -> float:
    """The share of the (seen) pixels inside ``mask``: what a flat map puts there, what a random point hits."""
    return float(mask.mean() if seen is None else mask[seen].mean() if seen.any() else 0.0)


def reach_fraction(mask: np.ndarray, tolerance: float = 0.0, seen: np.ndarray | None = None) -> float:
    """Chance of the pointing game: the share of pixels a peak could sit on and still hit (the region,
    grown by ``tolerance``), i.e. the hit rate of a point drawn uniformly at random among the seen pixels."""
    return share(mask if tolerance <= 0 else _distance_to(mask) <= tolerance, seen)


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
    if map01.ndim == 3:  # volumes have masks, no boxes
        return (None if mask is None else mask & seen), []
    left, top, width, height = seen_box(map01)
    bottom, right = top + height, left + width
    clipped = []
    for x, y, w, h in boxes:
        x0, y0, x1, y1 = max(x, left), max(y, top), min(x + w, right), min(y + h, bottom)
        if x1 > x0 and y1 > y0:
            clipped.append((int(x0), int(y0), int(x1 - x0), int(y1 - y0)))
    return (None if mask is None else mask & seen), clipped


def seen_box(map01: np.ndarray) -> Box:
    """(x, y, w, h) of the part of the image the model saw (the finite part of the map)."""
    seen = ~np.isnan(map01)
    if seen.all() or not seen.any():
        return 0, 0, map01.shape[1], map01.shape[0]
    rows, cols = np.flatnonzero(seen.any(axis=1)), np.flatnonzero(seen.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1] + 1 - cols[0]), int(rows[-1] + 1 - rows[0])


def chance_overlap(predicted: np.ndarray, region: np.ndarray, seen: np.ndarray | None = None) -> tuple[float, float]:
    """(IoU, Dice) expected of a map with as many pixels switched on as ``predicted``, scattered at random
    (over the seen pixels).

    With p and r the shares of the image covered by the map and by the region, the expected
    intersection is p * r; IoU and Dice are taken as ratios of expectations: pr / (p + r - pr) and
    2pr / (p + r) (exact for the intersection, first-order for the ratio). 0 when the map is empty.
    """
    p, r = share(predicted, seen), share(region, seen)
    if p == 0 or r == 0:
        return 0.0, 0.0
    return p * r / (p + r - p * r), 2 * p * r / (p + r)


def chance_box_iou(predicted: Box, truth: Box, area: Box) -> float:
    """IoU expected of the predicted box moved to a uniformly random position inside ``area`` (x, y, w, h:
    the image, or the part of it the model saw).

    The expected overlap is the product of the expected overlaps along x and along y (the two
    offsets are independent); the IoU is the ratio of expectations, as for ``chance_overlap``.
    """
    expected = 1.0
    for length, truth_start, truth_length, origin, size in (
        (predicted[2], truth[0], truth[2], area[0], area[2]),
        (predicted[3], truth[1], truth[3], area[1], area[3]),
    ):
        starts = origin + np.arange(max(1, size - length + 1))
        overlap = np.minimum(starts + length, truth_start + truth_length) - np.maximum(starts, truth_start)
        expected *= float(np.clip(overlap, 0, None).mean())
    union = predicted[2] * predicted[3] + truth[2] * truth[3] - expected
    return 0.0 if union <= 0 else expected / union


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
