"""Interpolation between voxel grids with torch: volumes to a model's input grid, maps back to the volume's.

All resizing keeps the field of view (voxel edges stay put: ``align_corners=False``), so resizing a map back
to the source shape is the exact inverse placement of resizing the volume to the model grid, and
``geometry.resized_affine`` gives the affine of either grid. Trilinear for values, nearest for label masks
(torch's ``nearest-exact``: the voxel whose centre is closest, unlike torch's legacy ``nearest``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from camviewer.core.volumes.geometry import resized_affine, shape_for_spacing
from camviewer.core.volumes.records import Volume

MODES = {"trilinear": "trilinear", "nearest": "nearest-exact"}


def resize(values, shape: Sequence[int], mode: str = "trilinear"):
    """Resize the last three axes of ``values`` (numpy array or torch tensor, (..., D, H, W)) to ``shape``.

    Returns the same kind as given: numpy float32, or a tensor on the input's device. Leading axes (batch,
    channels, classes) are resized independently, in one call.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    is_tensor = isinstance(values, torch.Tensor)
    tensor = values if is_tensor else torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))
    if tensor.ndim < 3:
        raise ValueError(f"expected (..., D, H, W) values, got shape {tuple(tensor.shape)}")
    leading, size = tensor.shape[:-3], tuple(int(n) for n in shape)
    if tuple(tensor.shape[-3:]) == size:
        resized = tensor.float().clone()  # never hand back a view of the caller's array
    else:
        batch = tensor.reshape(-1, 1, *tensor.shape[-3:]).float()
        options = {"align_corners": False} if mode == "trilinear" else {}
        resized = F.interpolate(batch, size=size, mode=MODES[mode], **options).reshape(*leading, *size)
    return resized if is_tensor else resized.numpy()


def resample_volume(
    volume: Volume,
    size: Sequence[int] | None = None,
    spacing: Sequence[float] | None = None,
    mode: str = "trilinear",
) -> Volume:
    """The volume on a grid of ``size`` voxels (d, h, w), or of about ``spacing`` mm; the affine follows.

    Exactly one of ``size`` and ``spacing``. The field of view is kept (see ``geometry.shape_for_spacing``).
    """
    if (size is None) == (spacing is None):
        raise ValueError("give exactly one of size and spacing")
    shape = tuple(int(n) for n in size) if size is not None else shape_for_spacing(volume, spacing)
    if min(shape) < 1:
        raise ValueError(f"a volume needs at least one voxel per axis, got {shape}")
    array = resize(volume.array, shape, mode)
    return volume.with_array(array, resized_affine(volume.affine, volume.shape, shape))


def to_volume_grid(values, volume: Volume, mode: str = "trilinear"):
    """A map (or maps, (..., d, h, w)) computed on any grid covering ``volume``, resized onto its voxels."""
    return resize(values, volume.shape, mode)


def sample_axes(values: np.ndarray, positions: Sequence[np.ndarray]) -> torch.Tensor:
    """``values`` (D, H, W) linearly interpolated at fractional indices ``positions[a]`` along each axis a.

    Separable trilinear sampling at any positions, edge values repeated beyond the first and last voxel (as
    ``grid_sample``'s border padding): what MONAI's ``Spacing`` computes on an axis-aligned grid. float32 tensor.
    """
    tensor = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))
    for axis, where in enumerate(positions):
        count = tensor.shape[axis]
        where = torch.as_tensor(np.clip(np.asarray(where, np.float64), 0, count - 1))
        low = where.floor().long()
        high = torch.clamp(low + 1, max=count - 1)
        shape = [1, 1, 1]
        shape[axis] = -1
        fraction = (where - low).float().view(shape)
        tensor = tensor.index_select(axis, low) * (1 - fraction) + tensor.index_select(axis, high) * fraction
    return tensor
