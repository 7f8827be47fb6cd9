"""Chest-CT-like volumes in Hounsfield units; ``nodule`` volumes carry one solid pulmonary nodule.

The phantom is defined in millimetres in the patient's frame and sampled at the voxel centres of a real
scanner grid: axial slices stored as DICOM does (columns towards the patient's left, rows towards the back,
slices towards the head), i.e. a RAS affine with both in-plane axes flipped, anisotropic voxels and a table
position as origin. So any grid size shows the same patient, and the files open the right way up in 3D
Slicer or ITK-SNAP. Intensities: air -1000, lung parenchyma about -850 with texture, fat -100, soft tissue
and blood 40, bone 700; pulmonary vessels (blood, 40 HU) branch from each hilum in both classes and look
like small nodules in cross-section, so a bright spot in the lung alone does not give the class away.
A nodule is a lumpy sphere 10-30 mm across, 0-100 HU, deep inside one lung.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from camviewer.core.volumes.nifti import write_nifti

FIELD_OF_VIEW_MM = (280.0, 340.0, 340.0)  # cranio-caudal, antero-posterior, left-right extent of the grid
AIR, LUNG, FAT, SOFT_TISSUE, BONE = -1000.0, -850.0, -100.0, 40.0, 700.0
# lesions.csv: the nodule's voxel box (first index and extent along d, h, w), the RAS mm of its centre, the
# diameter of a sphere of its volume.
LESION_COLUMNS = ("path", "d", "h", "w", "depth", "height", "width", "x_mm", "y_mm", "z_mm", "diameter_mm", "label")


@dataclass
class CtSample:
    """One generated volume: HU (D, H, W) int16, masks, the RAS affine of array indices, the nodule if any."""

    hu: np.ndarray
    lesion_mask: np.ndarray  # bool (D, H, W), all False for negatives
    roi_mask: np.ndarray  # bool (D, H, W): both lungs, nodule included
    affine: np.ndarray  # 4x4, array index (d, h, w) -> RAS mm
    nodule_center: tuple[float, float, float] | None  # RAS mm of the nodule's centre
    nodule_diameter: float | None  # mm: of a sphere with the lesion mask's volume


def write_ct_sample(out: Path, relative: str, sample: CtSample, label: str) -> list[tuple]:
    """The volume (int16 HU) and its lesion and lung masks (uint8 0/1) as NIfTI on one grid; its lesions.csv rows."""
    write_nifti(out / relative, sample.hu, affine=sample.affine, dtype=np.int16)
    write_nifti(out / "masks" / relative, sample.lesion_mask, affine=sample.affine, dtype=np.uint8)
    write_nifti(out / "roi" / relative, sample.roi_mask, affine=sample.affine, dtype=np.uint8)
    if sample.nodule_center is None:
        return []
    (box,) = ndimage.find_objects(sample.lesion_mask.astype(np.uint8))
    centre = (round(c, 2) for c in sample.nodule_center)
    extent = (s.stop - s.start for s in box)
    return [(relative, *(s.start for s in box), *extent, *centre, round(sample.nodule_diameter, 2), label)]


def scanner_affine(rng: np.random.Generator, shape: tuple[int, int, int]) -> np.ndarray:
    """An axial acquisition's affine: d towards Superior, h towards Posterior, w towards Left, at a table position."""
    spacing = np.asarray(FIELD_OF_VIEW_MM) / np.asarray(shape)
    affine = np.eye(4)
    affine[:3, :3] = np.array([[0.0, 0.0, -spacing[2]], [0.0, -spacing[1], 0.0], [spacing[0], 0.0, 0.0]])
    centre = np.array([rng.uniform(-5, 5), rng.uniform(-40, -10), rng.uniform(-300, 100)])  # scanner coordinates
    affine[:3, 3] = centre - affine[:3, :3] @ ((np.asarray(shape) - 1) / 2)
    return affine


def draw_ct(rng: np.random.Generator, shape: tuple[int, int, int], positive: bool) -> CtSample:
    affine = scanner_affine(rng, shape)
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    indices = np.stack(np.meshgrid(*(np.arange(n, dtype=np.float32) for n in shape), indexing="ij"), axis=-1)
    world = indices @ affine[:3, :3].T.astype(np.float32) + affine[:3, 3].astype(np.float32)
    # The patient's frame: centred on the body at the carina, turned a little on the table. u: towards the
    # patient's right, v: anterior, s: superior (mm).
    centre = affine[:3, :3] @ ((np.asarray(shape) - 1) / 2) + affine[:3, 3]
    centre += [rng.uniform(-15, 15), rng.uniform(-10, 10), rng.uniform(20, 50)]
    turn = np.deg2rad(rng.uniform(-6, 6))
    x, y, s = (world - centre.astype(np.float32)).transpose(3, 0, 1, 2)
    u, v = np.cos(turn) * x + np.sin(turn) * y, -np.sin(turn) * x + np.cos(turn) * y

    half_width, half_depth = rng.uniform(135, 165), rng.uniform(95, 115)
    body_radius = np.sqrt((u / half_width) ** 2 + (v / half_depth) ** 2) + 0.03 * _waves(rng, world, 3, 150.0)
    body = body_radius < 1
    hu = np.full(shape, AIR, np.float32)
    hu[body] = SOFT_TISSUE + 15 * _waves(rng, world, 4, 40.0)[body]
    hu[body & (body_radius > rng.uniform(0.88, 0.93))] = FAT  # subcutaneous fat

    heart = ((u + 25) / 65) ** 2 + ((v - 25) / 55) ** 2 + ((s + 70) / 60) ** 2 < 1  # left, anterior, low
    trachea = (u**2 + (v - 10) ** 2 < rng.uniform(8, 10) ** 2) & (s > 0) & body
    lungs = _lungs(rng, world, u, v, s, half_width, half_depth, heart | trachea | ~body)
    parenchyma = LUNG + 15 * _waves(rng, world, 8, 20.0) + 40 * np.clip(-v / half_depth, 0, 1)  # dependent density
    hu[lungs] = parenchyma[lungs]
    hu[heart & body] = SOFT_TISSUE
    hu[trachea] = AIR
    _bones(rng, hu, u, v, s, half_width, half_depth, body)
    vessels = _vessels(rng, world, lungs, u)
    hu[lungs] += vessels[lungs] * (SOFT_TISSUE - hu[lungs])

    lesion = np.zeros(shape, bool)
    nodule_center = diameter = None
    if positive:
        lesion, blend, nodule_center, diameter = _nodule(rng, world, lungs, spacing)
        nodule_hu = rng.uniform(0, 100) + 20 * _waves(rng, world, 4, 6.0)
        hu += blend * (nodule_hu - hu)
    hu = ndimage.gaussian_filter(hu, 0.6)  # partial volume of a reconstruction kernel
    hu += rng.normal(0, rng.uniform(12, 30), shape).astype(np.float32)  # quantum noise
    hu = np.clip(np.rint(hu), -1024, 3071).astype(np.int16)
    return CtSample(hu, lesion, lungs, affine, nodule_center, diameter)


def _waves(rng: np.random.Generator, world: np.ndarray, count: int, wavelength: float) -> np.ndarray:
    """Smooth noise of unit amplitude defined in millimetres: a sum of plane waves of random direction."""
    total = np.zeros(world.shape[:3], np.float32)
    for _ in range(count):
        direction = rng.normal(size=3)
        k = (2 * np.pi / (wavelength * rng.uniform(0.7, 1.3))) * direction / np.linalg.norm(direction)
        total += np.cos(world @ k.astype(np.float32) + np.float32(rng.uniform(0, 2 * np.pi)))
    return total * np.float32(np.sqrt(2.0 / count))


def _lungs(rng, world, u, v, s, half_width, half_depth, outside) -> np.ndarray:
    """Two rounded lungs from the apices (above the carina) down to the domes of the diaphragm, each in one
    piece, none of them where ``outside`` is set (heart, trachea, outside the body)."""
    lungs = np.zeros(u.shape, bool)
    wobble = 0.06 * _waves(rng, world, 4, 90.0)
    for side in (1, -1):  # right lung, then left
        offset = side * half_width * rng.uniform(0.42, 0.48)
        lateral, depth = half_width * rng.uniform(0.4, 0.46), half_depth * rng.uniform(0.72, 0.8)
        top, base = rng.uniform(100, 120), -rng.uniform(130, 160) + (15 if side == 1 else 0)  # right dome higher
        middle, height = (top + base) / 2, (top - base) / 2
        radius = ((u - offset) / lateral) ** 2 + ((v + 8) / depth) ** 2 + (np.maximum(s - middle, 0) / height) ** 2
        dome = base + 35 * (1 - ((u - offset) / lateral) ** 2 - ((v + 8) / depth) ** 2)
        lung = (radius + wobble < 1) & (s > dome) & ~outside
        labels, count = ndimage.label(lung)
        if count > 1:  # islands where the wobbly outline pinches off: not lung
            lung = labels == 1 + int(np.argmax(ndimage.sum_labels(lung, labels, range(1, count + 1))))
        lungs |= lung
    return lungs


def _bones(rng, hu, u, v, s, half_width, half_depth, body) -> None:
    """Spine (vertebral bodies and discs), ribs sloping down towards the front, sternum."""
    spine_v = -half_depth + rng.uniform(30, 40)
    vertebra = (u**2 + (v - spine_v) ** 2 < 18**2) & body
    period = rng.uniform(26, 32)
    hu[vertebra] = np.where(np.mod(s[vertebra], period) < 5, SOFT_TISSUE + 40, BONE)  # discs between bodies
    ring = np.sqrt((u / (half_width - 14)) ** 2 + (v / (half_depth - 12)) ** 2)
    phase = np.mod(s + 0.35 * (v + half_depth) + rng.uniform(0, period), period)
    ribs = (
        (np.abs(ring - 1) * half_depth < 5) & (np.abs(phase - period / 2) < 4.5) & (s > -170) & (v < half_depth * 0.6)
    )
    hu[ribs & body] = BONE
    hu[(np.abs(u) < 13) & (np.abs(v - half_depth + 16) < 5) & (np.abs(s + 30) < 90) & body] = BONE  # sternum


def _vessels(rng, world, lungs, u) -> np.ndarray:
    """Coverage (0..1) of vessels: tapering tubes from each hilum to random points of the same lung."""
    coverage = np.zeros(lungs.shape, np.float32)
    points = world[lungs]
    if not len(points):
        return coverage
    on_right = u[lungs] > 0
    midline = points.mean(axis=0)
    values = np.zeros(len(points), np.float32)
    for side in (True, False):
        candidates = np.flatnonzero(on_right == side)
        if not len(candidates):
            continue
        hilum = (points[candidates].mean(axis=0) + midline) / 2  # medial, at mid height
        for _ in range(rng.integers(10, 16)):
            end = points[candidates[rng.integers(len(candidates))]]
            values = np.maximum(values, _tube(points, hilum, end, rng.uniform(2.5, 4.5), rng.uniform(0.8, 1.5)))
    coverage[lungs] = values
    return coverage


def _tube(points: np.ndarray, start: np.ndarray, end: np.ndarray, radius_start: float, radius_end: float):
    """Soft coverage of a tapering cylinder (1 inside, fading over 1 mm at the wall)."""
    coverage = np.zeros(len(points), np.float32)
    reach = radius_start + 1
    near = np.flatnonzero(
        ((points >= np.minimum(start, end) - reach) & (points <= np.maximum(start, end) + reach)).all(axis=1)
    )
    axis, nearby = end - start, points[near]
    t = np.clip((nearby - start) @ axis / np.float32(max(float(axis @ axis), 1e-6)), 0, 1)
    distance = np.linalg.norm(nearby - (start + t[:, None] * axis), axis=1)
    coverage[near] = np.clip(radius_start + (radius_end - radius_start) * t - distance + 0.5, 0, 1)
    return coverage


def _nodule(rng, world, lungs, spacing):
    """A lumpy solid nodule deep in one lung: (mask, coverage 0..1, RAS centre, diameter of its volume's sphere).

    A sphere 10-30 mm across with two to four smaller spheres bulging from its surface, soft-walled over 1 mm.
    """
    radius = rng.uniform(5, 15)
    coarse = lungs[::2, ::2, ::2]  # depth on every other voxel: enough to choose a place, 8 times cheaper
    depth = ndimage.distance_transform_edt(coarse, sampling=2 * spacing)
    allowed = np.flatnonzero(depth.ravel() > 1.2 * radius + 3)
    if not len(allowed):  # lungs too small on a tiny grid: the deepest point
        allowed = np.array([int(np.argmax(depth))])
    center = world[::2, ::2, ::2].reshape(-1, 3)[allowed[rng.integers(len(allowed))]].astype(np.float64)
    spheres = [(center, radius)]
    for _ in range(rng.integers(2, 5)):
        direction = rng.normal(size=3)
        offset = direction / np.linalg.norm(direction) * radius * rng.uniform(0.55, 0.75)
        spheres.append((center + offset, radius * rng.uniform(0.3, 0.45)))
    near = (np.abs(world - center.astype(np.float32)) < 1.3 * radius + 2).all(axis=-1)  # the lumps' reach
    box = tuple(slice(int(i.min()), int(i.max()) + 1) for i in np.nonzero(near))
    coverage = np.zeros(lungs.shape, np.float32)
    for middle, size in spheres:
        distance = np.linalg.norm(world[box] - middle.astype(np.float32), axis=-1)
        coverage[box] = np.maximum(coverage[box], np.clip(size - distance + 0.5, 0, 1))
    coverage *= lungs
    mask = coverage >= 0.5
    labels, count = ndimage.label(mask)
    if count > 1:  # one nodule: a lump cut off by the voxel grid is not a second lesion
        mask = labels == 1 + int(np.argmax(ndimage.sum_labels(mask, labels, range(1, count + 1))))
    equivalent = (6 / np.pi * mask.sum() * np.prod(spacing)) ** (1 / 3)
    return mask, coverage, tuple(float(c) for c in center), float(equivalent)
