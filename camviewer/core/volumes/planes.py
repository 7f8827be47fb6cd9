"""The three orthogonal planes of a volume for display, whatever order its voxels are stored in. No torch.

:func:`view_of` turns the array (no copy: flips and transposes are numpy views) so that its axes run towards the
patient's Superior, Posterior and Left, with the voxel size along each (an axial DICOM series is already stored
that way). The planes are then plain slices, shown as radiologists read them:

* **axial** (seen from the feet): anterior at the top, the patient's right on the left of the screen;
* **coronal** (seen from the front): superior at the top, the patient's right on the left;
* **sagittal** (seen from the patient's left): superior at the top, anterior on the left.

An oblique volume is shown along its closest axes (nibabel's ``io_orientation``), without resampling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from nibabel.orientations import apply_orientation, axcodes2ornt, io_orientation, ornt_transform

PLANES = ("axial", "coronal", "sagittal")
VIEW_AXES = ("S", "P", "L")  # the view's (z, y, x) axes: towards Superior, Posterior, Left
# plane -> (the view axis it cuts, its rows' view axis, its columns' view axis, whether rows run upwards)
_LAYOUT = {"axial": (0, 1, 2, False), "coronal": (1, 0, 2, True), "sagittal": (2, 0, 1, True)}


@dataclass(frozen=True)
class VolumeView:
    """A volume's voxels with axes (S, P, L): ``plane(name, index)`` gives a 2-D slice oriented for display.

    ``ornt`` is nibabel's transform from the source array to the view; :meth:`view_index` and
    :meth:`source_index` convert voxel indices between the two, so readouts can speak of either.
    """

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]  # mm along S, P, L
    ornt: np.ndarray
    source_shape: tuple[int, int, int]

    def turn(self, array: np.ndarray) -> np.ndarray:
        """The source-ordered ``array`` (a volume, its map, a mask: same grid) as a view with axes (S, P, L)."""
        if tuple(array.shape) != self.source_shape:
            raise ValueError(f"an array of shape {array.shape} is not on this volume's grid {self.source_shape}")
        return apply_orientation(array, self.ornt)

    def plane(self, turned: np.ndarray, name: str, index: int) -> np.ndarray:
        """Slice ``index`` of a turned array across ``name``'s normal, rows and columns as displayed."""
        axis, _rows, _cols, upwards = _LAYOUT[name]
        cut = np.take(turned, index, axis=axis)
        return cut[::-1] if upwards else cut

    def count(self, name: str) -> int:
        """How many slices the plane ``name`` has."""
        return self.shape[_LAYOUT[name][0]]

    def pixel_spacing(self, name: str) -> tuple[float, float]:
        """(row height, column width) in mm of the plane ``name``: its pixels' true aspect."""
        _axis, rows, cols, _up = _LAYOUT[name]
        return self.spacing[rows], self.spacing[cols]

    def plane_point(self, name: str, point) -> tuple[int, int, int]:
        """(slice, row, column) of the view voxel ``point`` (s, p, l) in the plane ``name``."""
        axis, rows, cols, upwards = _LAYOUT[name]
        row = self.shape[rows] - 1 - point[rows] if upwards else point[rows]
        return int(point[axis]), int(row), int(point[cols])

    def view_point(self, name: str, index: int, row: int, col: int) -> tuple[int, int, int]:
        """The view voxel (s, p, l) at (row, col) of slice ``index`` of the plane ``name``."""
        axis, rows, cols, upwards = _LAYOUT[name]
        point = [0, 0, 0]
        point[axis], point[cols] = int(index), int(col)
        point[rows] = self.shape[rows] - 1 - int(row) if upwards else int(row)
        return tuple(point)

    def source_index(self, point) -> tuple[int, int, int]:
        """The source array's (d, h, w) of the view voxel ``point`` (s, p, l)."""
        source = [0, 0, 0]
        for axis, (view_axis, flip) in enumerate(self.ornt):
            size = self.shape[int(view_axis)]
            value = int(point[int(view_axis)])
            source[axis] = size - 1 - value if flip < 0 else value
        return tuple(source)


def view_of(volume) -> VolumeView:
    """The (S, P, L) view of a :class:`~camviewer.core.volumes.records.Volume` (its array is not copied)."""
    ornt = ornt_transform(io_orientation(volume.affine), axcodes2ornt(VIEW_AXES))
    shape = [0, 0, 0]
    spacing = [0.0, 0.0, 0.0]
    for axis, (view_axis, _flip) in enumerate(ornt):
        shape[int(view_axis)] = volume.shape[axis]
        spacing[int(view_axis)] = volume.spacing[axis]
    return VolumeView(tuple(shape), tuple(spacing), ornt, volume.shape)
