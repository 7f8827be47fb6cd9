"""Drawing helpers shared by the synthetic image generators (OpenCV, sub-pixel accurate)."""

from __future__ import annotations

import cv2
import numpy as np

SHIFT = 4  # sub-pixel bits for cv2 drawing: outlines are placed to 1/16 px


def fixed_points(points) -> np.ndarray:
    return np.round(np.asarray(points, np.float64) * (1 << SHIFT)).astype(np.int32)


def fill_polygon(size: int, points, antialias: bool = False) -> np.ndarray:
    """Coverage in [0, 1] of a closed polygon (anti-aliased edges if asked)."""
    canvas = np.zeros((size, size), np.uint8)
    line = cv2.LINE_AA if antialias else cv2.LINE_8
    cv2.fillPoly(canvas, [fixed_points(points).reshape(-1, 1, 2)], 255, line, SHIFT)
    return canvas.astype(np.float32) / 255.0


def disc(size: int, center, radius: float, antialias: bool = True) -> np.ndarray:
    canvas = np.zeros((size, size), np.uint8)
    line = cv2.LINE_AA if antialias else cv2.LINE_8
    cv2.circle(canvas, tuple(int(v) for v in fixed_points(center)), int(fixed_points(radius)), 255, -1, line, SHIFT)
    return canvas.astype(np.float32) / 255.0


def wobbly_outline(rng: np.random.Generator, center, radius: float, irregularity: float, stretch: float = 1.0):
    """A closed round outline whose radius wobbles with a few low harmonics (cells, blobs)."""
    theta = np.linspace(0.0, 2 * np.pi, 64, endpoint=False)
    r = np.ones_like(theta)
    for k in (2, 3, 4, 5):
        r += irregularity / (k - 1) * rng.uniform(-1, 1) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    tilt = rng.uniform(0, np.pi)
    x, y = r * np.cos(theta) * stretch, r * np.sin(theta)
    xr, yr = x * np.cos(tilt) - y * np.sin(tilt), x * np.sin(tilt) + y * np.cos(tilt)
    return np.asarray(center) + radius * np.stack([xr, yr], axis=1)


def chaikin(points: np.ndarray, iterations: int = 3) -> np.ndarray:
    """Round the corners of a closed polygon (corner cutting), for anatomy-like outlines."""
    for _ in range(iterations):
        following = np.roll(points, -1, axis=0)
        cuts = [0.75 * points + 0.25 * following, 0.25 * points + 0.75 * following]
        points = np.stack(cuts, axis=1).reshape(-1, 2)
    return points


def smooth_noise(rng: np.random.Generator, size: int, grid: int) -> np.ndarray:
    """Low-frequency noise of roughly unit amplitude: a coarse random grid, smoothly upsampled."""
    coarse = rng.standard_normal((grid, grid)).astype(np.float32)
    return cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigmaX=max(sigma, 0.3))


def paint(image: np.ndarray, alpha: np.ndarray, color) -> None:
    """Alpha-composite a flat colour (RGB tuple or gray value) onto a float image, in place."""
    x, y, w, h = cv2.boundingRect((alpha > 0).view(np.uint8))  # most objects are small: work on their box
    alpha, target = alpha[y : y + h, x : x + w], image[y : y + h, x : x + w]
    weight = alpha[..., None] if image.ndim == 3 else alpha
    target += weight * (np.asarray(color, np.float32) - target)


def random_point(rng: np.random.Generator, allowed: np.ndarray):
    """A uniformly chosen (x, y) where ``allowed`` is True, or None."""
    ys, xs = np.nonzero(allowed)
    if len(xs) == 0:
        return None
    pick = rng.integers(len(xs))
    return np.array([xs[pick], ys[pick]], np.float64) + rng.uniform(-0.5, 0.5, 2)


def inner_depth(mask: np.ndarray) -> np.ndarray:
    """Distance in pixels from each inside pixel to the outside."""
    return cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5)
