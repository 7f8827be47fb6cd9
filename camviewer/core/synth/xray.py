"""Chest-like radiographs; pneumonia ones carry a soft opacity inside one lung."""

from __future__ import annotations

import cv2
import numpy as np

from camviewer.core.synth.drawing import (
    SHIFT,
    blur,
    chaikin,
    disc,
    fill_polygon,
    fixed_points,
    inner_depth,
    random_point,
    smooth_noise,
    wobbly_outline,
)

# Outlines in unit coordinates (x right, y down) of a frontal view; the patient's right lung is on
# the image's left. Randomly scaled, rotated and shifted per image, then rounded by corner cutting.
_BODY = [
    (0.42, -0.02),
    (0.41, 0.06),
    (0.24, 0.09),
    (0.09, 0.15),
    (0.05, 0.30),
    (0.04, 0.60),
    (0.08, 0.85),
    (0.12, 1.05),
    (0.88, 1.05),
    (0.92, 0.85),
    (0.96, 0.60),
    (0.95, 0.30),
    (0.91, 0.15),
    (0.76, 0.09),
    (0.59, 0.06),
    (0.58, -0.02),
]
_RIGHT_LUNG = [
    (0.35, 0.13),
    (0.27, 0.16),
    (0.20, 0.25),
    (0.16, 0.40),
    (0.14, 0.56),
    (0.14, 0.70),
    (0.16, 0.79),
    (0.22, 0.75),
    (0.31, 0.71),
    (0.40, 0.70),
    (0.45, 0.72),
    (0.45, 0.55),
    (0.44, 0.38),
    (0.42, 0.20),
]
# The patient's left lung leaves room for the heart (cardiac notch).
_LEFT_LUNG = [
    (0.65, 0.13),
    (0.73, 0.16),
    (0.80, 0.25),
    (0.84, 0.40),
    (0.86, 0.56),
    (0.86, 0.70),
    (0.84, 0.80),
    (0.78, 0.77),
    (0.70, 0.74),
    (0.62, 0.62),
    (0.56, 0.52),
    (0.55, 0.38),
    (0.56, 0.22),
    (0.58, 0.16),
]
_CLAVICLE = np.array([[0.47, 0.19], [0.38, 0.16], [0.26, 0.13], [0.15, 0.12]])  # the right one; mirrored


def _pose(rng: np.random.Generator, size: int):
    """A random placement of the unit-coordinate anatomy: returns a function of points."""
    scale = np.array([rng.uniform(0.9, 1.04), rng.uniform(0.92, 1.04)])
    shift = rng.uniform(-0.03, 0.03, 2)
    turn = np.deg2rad(rng.uniform(-3, 3))
    rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])

    def place(points) -> np.ndarray:
        unit = (np.asarray(points, np.float64) - 0.5) * scale
        return ((unit @ rotation.T) + 0.5 + shift) * size

    return place


def _outline(rng, place, points, jitter: float) -> np.ndarray:
    return chaikin(place(np.asarray(points) + rng.normal(0, jitter, (len(points), 2))))


def _strokes(size: int, curves, thickness: float) -> np.ndarray:
    canvas = np.zeros((size, size), np.uint8)
    polylines = [fixed_points(c).reshape(-1, 1, 2) for c in curves]
    cv2.polylines(canvas, polylines, False, 255, max(1, round(thickness)), cv2.LINE_AA, SHIFT)
    return canvas.astype(np.float32) / 255.0


def _ribs(rng, place, size: int) -> np.ndarray:
    """Posterior ribs: flat near the spine, curving down towards the chest wall, both sides."""
    t = np.linspace(0, 1, 24)[:, None]
    curves = []
    spacing = np.linspace(0, 1, 10) ** 1.2  # ribs spread further apart towards the bases
    for level in 0.11 + 0.52 * spacing + rng.uniform(-0.02, 0.02):
        for side in (-1, 1):
            reach, drop = rng.uniform(0.33, 0.38), rng.uniform(0.12, 0.18)
            x = 0.5 + side * (0.04 + reach * t)
            y = level - 0.03 * np.sin(np.pi * t) + drop * t**2
            curves.append(place(np.hstack([x, y])))
    return blur(_strokes(size, curves, 0.018 * size), 0.006 * size)


def _vessels(rng, place, size: int) -> np.ndarray:
    """Faint branching vascular markings fanning out from both hila (both classes)."""
    curves = []
    for side in (-1, 1):
        for _ in range(rng.integers(5, 9)):
            heading = np.deg2rad(rng.uniform(100, 260) if side < 0 else rng.uniform(-80, 80))
            steps = heading + np.cumsum(rng.normal(0, 0.25, 8))
            walk = np.cumsum(np.stack([np.cos(steps), np.sin(steps)], 1) * 0.025, axis=0)
            curves.append(place(np.array([0.5 + side * 0.09, 0.45]) + walk))
    return blur(_strokes(size, curves, 0.006 * size), 0.004 * size)


def _benign_densities(rng, place, size: int, lungs: np.ndarray) -> np.ndarray:
    """Brightness in the lungs that is not pneumonia, in both classes: breast shadows over the
    bases and a small calcified granuloma. Lung brightness alone must not give the class away."""
    density = np.zeros((size, size), np.float32)
    if rng.random() < 0.5:
        for x in (0.24, 0.76):
            center = place([[x + rng.uniform(-0.03, 0.03), rng.uniform(0.7, 0.78)]])[0]
            outline = wobbly_outline(rng, center, rng.uniform(0.12, 0.16) * size, 0.08, 1.4)
            density += blur(fill_polygon(size, outline), 0.03 * size) * rng.uniform(0.05, 0.1)
    if rng.random() < 0.4:
        center = random_point(rng, inner_depth(lungs) > 0.03 * size)
        if center is not None:
            density += blur(disc(size, center, rng.uniform(0.008, 0.016) * size), 0.5) * rng.uniform(0.15, 0.25)
    return density


def _opacity(rng, size: int, lungs: np.ndarray):
    """A soft irregular consolidation centred well inside one lung: (intensity 0..1, mask)."""
    radius = rng.uniform(0.075, 0.13) * size
    depth = inner_depth(lungs)
    center = random_point(rng, depth > 0.8 * radius)
    if center is None:  # tiny lungs at odd sizes: use the deepest point
        center = np.array(np.unravel_index(np.argmax(depth), depth.shape)[::-1], np.float64)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    blob = np.zeros((size, size), np.float32)
    for index in range(rng.integers(3, 6)):  # a lumpy cluster of soft gaussians
        offset = np.zeros(2) if index == 0 else rng.normal(0, 0.45 * radius, 2)
        sigma = radius * (0.55 if index == 0 else rng.uniform(0.3, 0.5))
        cx, cy = center + offset
        blob += rng.uniform(0.6, 1.0) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2))
    blob *= np.clip(1 + 0.35 * smooth_noise(rng, size, max(4, size // 20)), 0.3, None)  # patchy
    blob /= blob.max()
    mask = (blob > 0.4) & lungs
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count > 2:  # keep the main consolidation; crumbs cut off by the lung edge are not lesions
        mask = labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return blob, mask


def draw_xray(rng: np.random.Generator, size: int, positive: bool):
    place = _pose(rng, size)
    body = blur(fill_polygon(size, _outline(rng, place, _BODY, 0.008)), 0.01 * size)
    right = fill_polygon(size, _outline(rng, place, _RIGHT_LUNG, 0.01)) > 0.5
    left = fill_polygon(size, _outline(rng, place, _LEFT_LUNG, 0.01)) > 0.5
    heart_center = place([[0.57 + rng.uniform(-0.02, 0.02), 0.67]])[0]
    heart_axes = np.array([rng.uniform(0.15, 0.19), rng.uniform(0.11, 0.14)]) * size
    heart = np.zeros((size, size), np.uint8)
    cv2.ellipse(
        heart,
        tuple(int(v) for v in fixed_points(heart_center)),
        tuple(int(v) for v in fixed_points(heart_axes)),
        rng.uniform(-20, -5),
        0,
        360,
        255,
        -1,
        cv2.LINE_AA,
        SHIFT,
    )
    heart = heart.astype(np.float32) / 255
    lungs = (right | left) & (heart < 0.5)
    lungs_soft = blur(lungs.astype(np.float32), 0.012 * size)

    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    image = np.full((size, size), rng.uniform(0.02, 0.08), np.float32)
    image += body * (rng.uniform(0.42, 0.52) + 0.12 * yy)  # soft tissue, thicker towards the abdomen
    # Air is darkest in the mid-lung; apices and bases overlap more soft tissue.
    aeration = 1 - 0.25 * ((yy - 0.45) / 0.35) ** 2 + 0.12 * smooth_noise(rng, size, 4)
    image -= lungs_soft * rng.uniform(0.26, 0.34) * aeration
    spine_x = place([[0.5, 0.5]])[0][0] / size
    vertebrae = 1 + 0.25 * np.sin(2 * np.pi * yy / rng.uniform(0.045, 0.055)) ** 2
    image += body * 0.07 * np.exp(-(((xx - spine_x) / 0.035) ** 2)) * vertebrae
    image += blur(heart, 0.02 * size) * rng.uniform(0.02, 0.05)  # a little denser than soft tissue
    image += body * _ribs(rng, place, size) * rng.uniform(0.045, 0.07) * (0.4 + 0.6 * lungs_soft)
    clavicles = [place(_CLAVICLE), place(_CLAVICLE * [-1, 1] + [1, 0])]
    image += body * blur(_strokes(size, clavicles, 0.026 * size), 0.006 * size) * 0.13
    image += _vessels(rng, place, size) * lungs_soft * rng.uniform(0.03, 0.06)
    image += _benign_densities(rng, place, size, lungs) * lungs_soft
    lesion = np.zeros((size, size), bool)
    if positive:
        blob, lesion = _opacity(rng, size, lungs)
        image += blob * lungs_soft * rng.uniform(0.2, 0.3)
    image = blur(image, 0.5)
    image += 0.02 * smooth_noise(rng, size, 6)
    image += rng.normal(0, rng.uniform(0.01, 0.025), image.shape).astype(np.float32)  # quantum noise
    # Exposure and windowing differ between machines: contrast, brightness, gamma.
    image = np.clip((image - 0.3) * rng.uniform(0.9, 1.15) + 0.3 + rng.uniform(-0.05, 0.05), 0, 1)
    image **= rng.uniform(0.85, 1.2)
    return image, lesion, lungs
