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

from camviewer.core.images.common import Window
from camviewer.core.images.values import CT_PRESETS

PLANES = ("axial", "coronal", "sagittal")
VIEW_AXES = ("S", "P", "L")  # the view's (z, y, x) axes: towards Superior, Posterior, Left
# plane -> (the view axis it cuts, its rows' view axis, its columns' view axis, whether rows run upwards)
_LAYOUT = {"axial": (0, 1, 2, False), "coronal": (1, 0, 2, True), "sagittal": (2, 0, 1, True)}
AUTO_WINDOW = "Auto"  # the name of the window computed from the volume's own values
CT_AIR = -900.0  # HU: a volume with values this low holds air as CT measures it
SAMPLE_VOXELS = 1_000_000  # percentiles of a large volume are taken on an evenly strided sample of about this many


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


def display_windows(volume) -> tuple[Window, ...]:
    """The windows a viewer offers for ``volume``, the default first (as the 2-D viewer's presets).

    The file's own (DICOM VOI), then ``Auto``: from the 0.5th to the 99.5th percentile of the values, which
    shows any modality (MR, PET, CT) without a preset; the usual CT presets for CT in Hounsfield units, or for a
    volume whose values look like them (air near -1000: a NIfTI file does not say its units); the full range.
    """
    values = volume.array.reshape(-1)
    sample = values[:: max(1, values.size // SAMPLE_VOXELS)]
    low, high = (float(v) for v in np.percentile(sample, [0.5, 99.5]))
    auto = Window.spanning(AUTO_WINDOW, round(low, 3), round(high, 3))
    lowest, highest = float(values.min()), float(values.max())
    looks_ct = volume.info.units == "HU" or volume.info.modality == "CT" or lowest <= CT_AIR
    own = tuple(Window(preset.name, preset.center, preset.width) for preset in volume.info.windows)
    return (*own, auto, *(CT_PRESETS if looks_ct else ()), Window.spanning("Full range", lowest, highest))


def windowed(values: np.ndarray, window: Window) -> np.ndarray:
    """``values`` through ``window``: float32 in [0, 1], linear and clipped."""
    return np.clip((np.asarray(values, np.float32) - window.low) / max(window.width, 1e-6), 0.0, 1.0)


def preview(volume) -> np.ndarray:
    """The middle axial slice in the default window, [0, 1] float32: a thumbnail of the volume."""
    view = view_of(volume)
    axial = view.plane(view.turn(volume.array), "axial", view.count("axial") // 2)
    return windowed(axial, display_windows(volume)[0])
