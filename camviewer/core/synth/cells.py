"""Giemsa-stained red blood cell crops; parasitized ones carry ring-form trophozoites."""

from __future__ import annotations

import cv2
import numpy as np

from camviewer.core.synth.drawing import (
    SHIFT,
    blur,
    disc,
    fill_polygon,
    fixed_points,
    inner_depth,
    paint,
    random_point,
    smooth_noise,
    wobbly_outline,
)

_PARASITE_PURPLE = (0.36, 0.16, 0.52)
_CHROMATIN = (0.30, 0.04, 0.34)


def _stain_color(rng: np.random.Generator) -> np.ndarray:
    # Stain intensity and hue vary between smears far more than a parasite shifts the mean colour.
    pink = np.array([0.84, 0.56, 0.62]) + rng.uniform(-0.08, 0.08, 3)
    return (pink * rng.uniform(0.82, 1.05)).astype(np.float32)


def _draw_cell(image, rng, size: int, outline, color, pallor: float) -> np.ndarray:
    """Paint one textured, shaded red cell; returns its hard mask."""
    coverage = fill_polygon(size, outline, antialias=True)
    hard = coverage > 0.5
    depth = inner_depth(hard)
    depth /= max(float(depth.max()), 1.0)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    angle = rng.uniform(0, 2 * np.pi)
    light = 1 + 0.10 * (xx * float(np.cos(angle)) + yy * float(np.sin(angle))) + 0.05 * smooth_noise(rng, size, 7)
    rim = 1 - rng.uniform(0.08, 0.2) * (1 - np.clip(depth / 0.3, 0, 1)) ** 2  # darker, thicker rim
    body = color * (light * rim)[..., None]
    centre = pallor * np.exp(-(((1 - depth) / 0.35) ** 2))  # central pallor of a biconcave disc
    body += (centre * 0.6)[..., None] * (1 - body)
    body += 0.025 * smooth_noise(rng, size, size // 4)[..., None]  # granular texture
    image *= 1 - coverage[..., None]
    image += coverage[..., None] * body
    return hard


def _draw_neighbours(image, rng, size: int, color) -> None:
    """Partial cells cut by the crop border, as in crops from a crowded smear."""
    for _ in range(rng.integers(1, 3)):
        side = rng.integers(4)
        along, radius = rng.uniform(0.1, 0.9) * size, rng.uniform(0.3, 0.4) * size
        across = -radius * rng.uniform(0.55, 0.85) if side < 2 else size + radius * rng.uniform(0.55, 0.85)
        center = (along, across) if side % 2 == 0 else (across, along)
        outline = wobbly_outline(rng, center, radius, rng.uniform(0.03, 0.1))
        _draw_cell(image, rng, size, outline, color * rng.uniform(0.9, 1.05), rng.uniform(0, 0.3))


def _draw_debris(image, rng, size: int) -> None:
    """Pale, fuzzy stain precipitate anywhere (cell or background), in both classes."""
    for _ in range(rng.integers(0, 4)):
        center = rng.uniform(0.1, 0.9, 2) * size
        blob = fill_polygon(size, wobbly_outline(rng, center, rng.uniform(0.02, 0.06) * size, 0.3), antialias=True)
        lavender = np.array([0.74, 0.62, 0.86]) + rng.uniform(-0.06, 0.06, 3)
        paint(image, blur(blob, 0.01 * size) * rng.uniform(0.15, 0.4), lavender)


def _draw_platelets(image, rng, size: int, cell: np.ndarray) -> None:
    """Small dark-purple clumps on the background: purple alone must not mean parasite."""
    outside = ~cv2.dilate(cell.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    inner = np.zeros_like(outside)
    margin = max(2, size // 20)
    inner[margin:-margin, margin:-margin] = True
    for _ in range(rng.integers(0, 4)):
        center = random_point(rng, outside & inner)
        if center is None:
            return
        for _ in range(rng.integers(1, 4)):
            offset = rng.normal(0, 0.012 * size, 2)
            dot = disc(size, center + offset, rng.uniform(0.012, 0.022) * size)
            paint(image, dot * rng.uniform(0.6, 0.9), _PARASITE_PURPLE)


def _draw_decoy(image, rng, size: int, allowed: np.ndarray) -> None:
    """A dark purple object inside the cell that is not a parasite: a solid stain clump, a platelet
    clump lying on the cell, or a Howell-Jolly body. About as much dark purple as a ring form, so
    that only the shape (a ring with a dot) tells a parasite apart."""
    center = random_point(rng, allowed)
    if center is None:
        return
    shape = rng.integers(3)
    if shape == 0:
        outline = wobbly_outline(rng, center, rng.uniform(0.04, 0.06) * size, 0.35, rng.uniform(0.6, 1.0))
        paint(image, fill_polygon(size, outline, antialias=True) * rng.uniform(0.7, 0.9), _PARASITE_PURPLE)
    elif shape == 1:
        for _ in range(rng.integers(3, 6)):
            dot = disc(size, center + rng.normal(0, 0.02 * size, 2), rng.uniform(0.017, 0.028) * size)
            paint(image, dot * rng.uniform(0.7, 0.9), _PARASITE_PURPLE)
    else:
        paint(image, disc(size, center, rng.uniform(0.034, 0.05) * size) * rng.uniform(0.7, 0.9), _CHROMATIN)


def _draw_ring_form(image, rng, size: int, center, ring_radius: float, thickness: int, dot_radius: float):
    """One ring-form trophozoite: a thin, often incomplete ring with one or two chromatin dots.

    Returns the parasite's hard mask (filled ring plus dots)."""
    axes = np.array([ring_radius, ring_radius * rng.uniform(0.75, 1.0)])
    tilt, start = rng.uniform(0, 180), rng.uniform(0, 360)
    end = start + rng.uniform(270, 360)
    c, ax = tuple(int(v) for v in fixed_points(center)), tuple(int(v) for v in fixed_points(axes))
    ring, inside = np.zeros((size, size), np.uint8), np.zeros((size, size), np.uint8)
    cv2.ellipse(ring, c, ax, tilt, start, end, 255, thickness, cv2.LINE_AA, SHIFT)
    cv2.ellipse(inside, c, ax, tilt, 0, 360, 255, -1, cv2.LINE_AA, SHIFT)
    paint(image, inside.astype(np.float32) / 255 * 0.12, (0.62, 0.55, 0.85))  # pale cytoplasm
    paint(image, ring.astype(np.float32) / 255 * rng.uniform(0.75, 0.95), _PARASITE_PURPLE)
    mask = np.zeros((size, size), np.uint8)
    # The mask covers every visibly tinted pixel: the outer edge of the ring plus its anti-aliased fringe.
    outer = tuple(int(v) for v in fixed_points(axes + thickness / 2 + 0.5))
    cv2.ellipse(mask, c, outer, tilt, 0, 360, 255, -1, cv2.LINE_8, SHIFT)
    rotation = np.deg2rad(tilt)
    dot_angles = [start] if rng.random() < 0.8 else [start, end]  # "headphone" double chromatin
    for phi in np.deg2rad(dot_angles):
        local = axes * (np.cos(phi), np.sin(phi))
        at = np.asarray(center) + (
            local[0] * np.cos(rotation) - local[1] * np.sin(rotation),
            local[0] * np.sin(rotation) + local[1] * np.cos(rotation),
        )
        paint(image, disc(size, at, dot_radius) * 0.92, _CHROMATIN)
        mask |= (disc(size, at, dot_radius + 0.5, antialias=False) * 255).astype(np.uint8)
    return mask > 0


def _draw_parasites(image, rng, size: int, cell: np.ndarray, count: int) -> np.ndarray:
    """``count`` separate ring forms, each placed wholly inside the cell; returns the lesion mask."""
    depth, lesion = inner_depth(cell), np.zeros((size, size), bool)
    free = np.ones((size, size), bool)
    for index in range(count):
        ring_radius = rng.uniform(0.055, 0.085) * size
        thickness = max(1, round(0.014 * size))
        dot_radius = max(1.2, rng.uniform(0.018, 0.026) * size)
        reach = ring_radius + thickness + dot_radius + 1
        center = random_point(rng, (depth > reach) & free)
        if center is None:
            if index:  # no room for a second one: one is enough
                break
            # The cell is far larger than any parasite, so this only guards odd sizes.
            center = np.array(np.unravel_index(np.argmax(depth), depth.shape)[::-1], np.float64)
        lesion |= _draw_ring_form(image, rng, size, center, ring_radius, thickness, dot_radius)
        free &= ~(disc(size, center, 2 * reach + 2, antialias=False) > 0)  # keep components apart
    return lesion


def draw_cells(rng: np.random.Generator, size: int, positive: bool):
    if rng.random() < 0.6:  # segmented crop: near-black background
        image = np.full((size, size, 3), rng.uniform(0.0, 0.05), np.float32)
    else:  # unsegmented smear: pale pink plasma
        plasma = np.array([0.88, 0.80, 0.83]) * rng.uniform(0.85, 1.0)
        image = np.ones((size, size, 3), np.float32) * plasma.astype(np.float32)
        image += 0.03 * smooth_noise(rng, size, 5)[..., None]
    color = _stain_color(rng)
    if rng.random() < 0.45:
        _draw_neighbours(image, rng, size, color)
    center = size / 2 + rng.uniform(-0.04, 0.04, 2) * size
    radius, irregularity, stretch = rng.uniform(0.33, 0.41) * size, rng.uniform(0.03, 0.1), rng.uniform(0.9, 1.1)
    outline = wobbly_outline(rng, center, radius, irregularity, stretch)
    cell = _draw_cell(image, rng, size, outline, color, pallor=rng.uniform(0, 0.6))
    _draw_platelets(image, rng, size, cell)
    _draw_debris(image, rng, size)
    # Both classes hold the same number of dark objects in the cell: in a parasitized cell some of
    # them are ring forms, in an uninfected one they are all decoys. Counting purple pixels fails.
    rings = 1 if rng.random() < 0.8 else 2
    decoys = rng.choice(3, p=(0.5, 0.35, 0.15)) + (0 if positive else rings)
    lesion = _draw_parasites(image, rng, size, cell, rings) if positive else np.zeros_like(cell)
    room = (inner_depth(cell) > 0.08 * size) & (inner_depth(~lesion) > 0.08 * size)  # decoys never touch a ring
    for _ in range(decoys):
        _draw_decoy(image, rng, size, room)
    image += rng.normal(0, 0.012, image.shape).astype(np.float32)  # sensor noise
    return image, lesion, cell
