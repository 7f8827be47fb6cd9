"""From a raw map at layer resolution to a display map on the image (or volume): ReLU, bilinear resize, min-max.

The map covers the model input. :func:`upsample_map` puts it back on the original image through the
exact inverse of the card's recipe (:class:`~camviewer.core.model.recipe.Placement`): letterbox padding
falls away, and where the model saw only part of the image (a centre crop, a border crop) the pixels it
did not see are NaN ("not seen"), never 0 ("cold"). The resize is bilinear with pixel centres at +0.5
and edge values repeated, as ``cv2.resize(..., INTER_LINEAR)`` and ``F.interpolate(align_corners=False)``;
it is written as two small interpolation matrices, so any scale and offset is exact.
"""

from __future__ import annotations

import numpy as np

from camviewer.core.model.recipe import Placement
from camviewer.core.model.volume_recipe import VolumePlacement


def upsample_map(raw: np.ndarray, image_size: tuple[int, int], placement: Placement | None = None) -> np.ndarray:
    """ReLU, bilinear resize, min-max to [0, 1] over the seen pixels: H x W float32, NaN where not seen.

    Without ``placement`` the map is stretched over the whole ``image_size`` (e.g. the model input).
    """
    return normalised(placed_map(raw, image_size, placement))[0]


def placed_map(raw: np.ndarray, image_size: tuple[int, int], placement: Placement | None = None) -> np.ndarray:
    """ReLU and bilinear resize onto the pixels the model saw, in the raw map's units; NaN where not seen."""
    height, width = image_size
    positive = np.maximum(np.asarray(raw, dtype=np.float32), 0)
    if placement is None:
        axes = tuple((cells / size, 0.5 * cells / size - 0.5) for cells, size in zip(positive.shape, image_size))
        top, left, bottom, right = 0, 0, height, width
    else:
        axes = _image_to_map(placement, positive.shape)
        top, left, bottom, right = placement.seen_box()
    rows = _interpolation_matrix(np.arange(top, bottom), *axes[0], positive.shape[0])
    cols = _interpolation_matrix(np.arange(left, right), *axes[1], positive.shape[1])
    # einsum, not matmul: with K = map size the product is memory-bound, and BLAS's threads only wait for
    # cores (20x slower medians on a busy machine); einsum's own loop is steady, as fast as cv2.resize.
    seen = np.einsum("ik,kj->ij", rows, np.einsum("kl,jl->kj", positive, cols, optimize=False), optimize=False)
    if (top, left, bottom, right) == (0, 0, height, width):
        return seen
    out = np.full((height, width), np.nan, np.float32)
    out[top:bottom, left:right] = seen
    return out


def normalised(placed: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """Min-max to [0, 1] over the seen pixels, in place; also the (low, high) that became 0 and 1, so the map in
    the method's own units is ``low + map * (high - low)`` (to compare magnitudes across images)."""
    low = float(np.nanmin(placed))
    placed -= low
    span = float(np.nanmax(placed))
    placed /= span + 1e-7
    return placed, (low, low + span + 1e-7)


def _image_to_map(placement: Placement, map_shape: tuple[int, int]) -> tuple[tuple[float, float], ...]:
    """Per axis (scale, shift): map coordinate = scale * image coordinate + shift (pixel centres)."""
    axes = []
    for (scale, shift), size, cells in zip(placement.input_from_image(), placement.input_size, map_shape):
        ratio = cells / size  # input -> map: (x + 0.5) * cells / size - 0.5
        axes.append((scale * ratio, (shift + 0.5) * ratio - 0.5))
    return tuple(axes)


def _interpolation_weights(positions: np.ndarray, scale: float, shift: float, cells: int) -> tuple:
    """(low, high, fraction) of linear interpolation at scale * position + shift, edges repeated."""
    where = np.clip(positions * scale + shift, 0.0, cells - 1)
    low = np.floor(where).astype(np.int64)
    return low, np.minimum(low + 1, cells - 1), (where - low).astype(np.float32)


def _interpolation_matrix(positions: np.ndarray, scale: float, shift: float, cells: int) -> np.ndarray:
    """len(positions) x cells weights of linear interpolation at scale * position + shift, edges repeated."""
    low, high, fraction = _interpolation_weights(positions, scale, shift, cells)
    matrix = np.zeros((len(positions), cells), np.float32)
    index = np.arange(len(positions))
    np.add.at(matrix, (index, low), 1.0 - fraction)
    np.add.at(matrix, (index, high), fraction)
    return matrix


def seen_mask(map01: np.ndarray) -> np.ndarray:
    """Pixels of a display map that the model saw (not NaN)."""
    return ~np.isnan(map01)


def empty_reason(raw: np.ndarray, zero_gradient: bool) -> str | None:
    """Why a map has nothing to show, or None: a display map of an empty map is uniformly "cold" and says nothing."""
    if zero_gradient:
        return (
            "empty map: the class score does not depend on this layer here (zero gradient; e.g. a ReLU after "
            "the classifier cut this class's score to 0)"
        )
    if not np.any(np.asarray(raw) > 0):
        return "empty map: no positive evidence for this class at this layer (every value is 0 or below)"
    return None


def upsample_volume_map(raw: np.ndarray, placement: VolumePlacement) -> np.ndarray:
    """A raw 3-D map on the source volume's voxels: ReLU, trilinear, min-max over the seen voxels.

    (D, H, W) float32 in [0, 1] on the grid of ``placement.source_shape``, NaN where the model did not see the
    volume (outside a centre crop).
    """
    return normalised(placed_volume_map(raw, placement))[0]


def placed_volume_map(raw: np.ndarray, placement: VolumePlacement) -> np.ndarray:
    """ReLU and trilinear resize onto the voxels the model saw, in the raw map's units; NaN where not seen.

    Separable: three small interpolation matrices, as for images; where the recipe resizes the whole field of
    view this is ``volumes.resample.to_volume_grid`` (torch's trilinear).
    """
    positive = np.maximum(np.asarray(raw, dtype=np.float32), 0)
    box = placement.seen_box()
    axes = []
    for (scale, shift), (start, stop), size, cells in zip(
        placement.input_from_source(), box, placement.input_size, positive.shape
    ):
        ratio = cells / size  # input -> map: (x + 0.5) * cells / size - 0.5
        axes.append((np.arange(start, stop), scale * ratio, (shift + 0.5) * ratio - 0.5, cells))
    rows, cols = _interpolation_matrix(*axes[1]), _interpolation_matrix(*axes[2])
    planes = np.einsum("hb,abw->ahw", rows, np.einsum("abk,wk->abw", positive, cols, optimize=False), optimize=False)
    # The map's slices at full size, then each source slice from the two map slices around it: the product with
    # the depth interpolation matrix without its zeros (2 terms a voxel, not one per map slice).
    whole = all((start, stop) == (0, n) for (start, stop), n in zip(box, placement.source_shape))
    out = np.empty(placement.source_shape, np.float32) if whole else np.full(placement.source_shape, np.nan, np.float32)
    seen = out[tuple(slice(start, stop) for start, stop in box)]
    for d, (low, high, fraction) in enumerate(zip(*_interpolation_weights(*axes[0]))):
        np.multiply(planes[low], 1.0 - fraction, out=seen[d])
        seen[d] += planes[high] * fraction
    return out
