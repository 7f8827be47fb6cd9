"""Grid changes that keep every voxel where it is in the patient: reorienting, resizing, cropping, padding.

Each returns a new Volume whose affine places the new voxels exactly where their values came from, so a map
computed on the changed grid overlays the original in world coordinates. numpy and nibabel only (no torch):
the interpolation itself lives in ``resample``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from nibabel.orientations import (
    apply_orientation,
    axcodes2ornt,
    inv_ornt_aff,
    io_orientation,
    ornt_transform,
)

from camviewer.core.model.volume_recipe import crop_or_pad_offset, crop_or_pad_slices, grid_for_spacing
from camviewer.core.volumes.records import Volume


def reorient(volume: Volume, axis_codes: Sequence[str]) -> Volume:
    """The same voxels with the array axes flipped/swapped to point as ``axis_codes`` say, e.g. ("S", "P", "L").

    Only whole-voxel flips and axis swaps (no interpolation); the closest axes are chosen for oblique volumes.
    """
    transform = ornt_transform(io_orientation(volume.affine), axcodes2ornt(tuple(axis_codes)))
    array = apply_orientation(volume.array, transform)
    return volume.with_array(array, volume.affine @ inv_ornt_aff(transform, volume.shape))


def resized_affine(affine: np.ndarray, shape: Sequence[int], new_shape: Sequence[int]) -> np.ndarray:
    """The affine of the same field of view on a grid of ``new_shape`` voxels.

    Voxel edges stay where they are (``align_corners=False`` in torch, ``grid_mode=True`` in scipy): new index
    ``n`` sits at old index ``(n + 0.5) * old / new - 0.5`` along each axis.
    """
    scale = np.asarray(shape, np.float64) / np.asarray(new_shape, np.float64)
    to_old = np.eye(4)
    to_old[:3, :3] = np.diag(scale)
    to_old[:3, 3] = 0.5 * scale - 0.5
    return np.asarray(affine, np.float64) @ to_old


def shape_for_spacing(volume: Volume, spacing: Sequence[float]) -> tuple[int, int, int]:
    """The grid that covers the volume's field of view with voxels of about ``spacing`` mm (d, h, w).

    The field of view is kept exactly, so the spacing reached differs from the one asked by less than half a
    voxel over the whole extent (``Volume.spacing`` of the result says what it is).
    """
    return grid_for_spacing(volume.shape, volume.spacing, spacing)


def crop_or_pad(volume: Volume, size: Sequence[int], fill: float | None = None) -> Volume:
    """Centre crop and/or pad to ``size`` (d, h, w) without resampling; ``fill`` defaults to the minimum value.

    The voxels kept or placed are those MONAI's ``ResizeWithPadOrCrop`` keeps or places: a crop centred on
    voxel ``old // 2``, a pad of ``(new - old) // 2`` voxels before and the rest after.
    """
    fill = float(volume.array.min()) if fill is None else float(fill)
    out = np.full(tuple(size), fill, np.float32)
    kept, placed = crop_or_pad_slices(volume.shape, size)
    out[placed] = volume.array[kept]
    shift = np.eye(4)
    shift[:3, 3] = [crop_or_pad_offset(old, new) for old, new in zip(volume.shape, size)]
    return volume.with_array(out, volume.affine @ shift)
