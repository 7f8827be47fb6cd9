"""The Volume record: voxels in the source's units plus the geometry that places them in the patient.

Conventions, the same for every source, so that code downstream never asks where a volume came from:

* ``array`` is float32, C-contiguous, shape ``(D, H, W)``: slice, row, column. For a DICOM series ``array[k]`` is
  the k-th slice in order of position along the slice normal, and ``array[k, r, c]`` is row ``r``, column ``c``
  of it as pydicom's ``pixel_array`` gives it. A NIfTI file's ``data[i, j, k]`` is ``array[k, j, i]``. One
  channel: colour or vector-valued sources are refused by the readers.
* Values are in the source's units after its own scaling: Hounsfield units for CT (DICOM rescale slope and
  intercept, NIfTI ``scl_slope``/``scl_inter``), arbitrary units for MR. No windowing or normalisation here:
  that belongs to the model recipe or the viewer (``WindowPreset.apply``).
* ``affine`` (4x4 float64) maps array indices ``(d, h, w, 1)`` to patient coordinates in millimetres, in the
  **RAS+** convention of NIfTI, nibabel, 3D Slicer and ITK-SNAP: +x towards the patient's Right, +y Anterior,
  +z Superior. DICOM's LPS+ coordinates are converted by negating x and y. The affine's columns follow the
  array axes (d, h, w); NIfTI's follow (i, j, k) = (w, h, d): ``nifti_affine`` is that form.

This module needs numpy and nibabel only (no torch), so the GUI may import it early.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from nibabel.orientations import aff2axcodes

from camviewer.core.errors import VolumeTooLargeError
from camviewer.core.images.values import CT_PRESETS

# DICOM LPS+ <-> RAS+: negate x and y. The matrix is its own inverse.
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])

FORMATS = ("NIfTI", "DICOM series", "DICOM multi-frame", "array")


@dataclass(frozen=True)
class WindowPreset:
    """A display window: values ``center - width / 2`` .. ``center + width / 2`` map to black .. white."""

    name: str
    center: float
    width: float

    def apply(self, values: np.ndarray) -> np.ndarray:
        """float32 in [0, 1], linear and clipped (DICOM's LINEAR_EXACT window)."""
        scaled = (np.asarray(values, np.float32) - (self.center - self.width / 2)) / max(self.width, 1e-6)
        return np.clip(scaled, 0.0, 1.0)


# The usual CT windows (centre, width in HU), as the 2-D viewer offers them; lower-case names, as the CLI takes them.
CT_WINDOWS = tuple(WindowPreset(window.name.lower(), window.center, window.width) for window in CT_PRESETS)


@dataclass(frozen=True)
class VolumeInfo:
    """Where a volume came from and what its values mean."""

    path: str | None  # the NIfTI file, the series folder or the multi-frame file; None for arrays
    format: str  # one of FORMATS
    modality: str = ""  # DICOM Modality ("CT", "MR", "PT", ...); "" when the source does not say (NIfTI)
    units: str = ""  # "HU" for CT, PET's Units, DICOM RescaleType; "" when unknown or arbitrary
    series_uid: str = ""  # DICOM SeriesInstanceUID
    description: str = ""  # DICOM SeriesDescription, NIfTI descrip
    windows: tuple[WindowPreset, ...] = ()  # windows stored in the file (DICOM VOI), first = the default
    geometry: str = ""  # what the affine was taken from: "sform", "qform", "pixdim only", "DICOM positions"
    source_shape: tuple[int, ...] = ()  # the shape as stored, e.g. NIfTI (X, Y, Z[, T])

    @property
    def display_windows(self) -> tuple[WindowPreset, ...]:
        """The file's own windows, then the usual CT ones for CT in Hounsfield units."""
        return self.windows + (CT_WINDOWS if self.units == "HU" else ())


@dataclass(frozen=True, eq=False)
class Volume:
    """A 3-D scalar volume: ``array`` (D, H, W) float32 and ``affine`` (array index -> RAS mm). See the module."""

    array: np.ndarray
    affine: np.ndarray
    info: VolumeInfo = field(default_factory=lambda: VolumeInfo(None, "array"))

    def __post_init__(self) -> None:
        array = np.ascontiguousarray(self.array, dtype=np.float32)
        affine = np.array(self.affine, dtype=np.float64)
        if array.ndim != 3 or 0 in array.shape:
            raise ValueError(f"a volume is a non-empty (D, H, W) array, got shape {array.shape}")
        if affine.shape != (4, 4) or abs(np.linalg.det(affine[:3, :3])) < 1e-12:
            raise ValueError("the affine must be an invertible 4x4 matrix")
        object.__setattr__(self, "array", array)
        object.__setattr__(self, "affine", affine)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(n) for n in self.array.shape)

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size in mm along (d, h, w)."""
        return tuple(float(v) for v in np.linalg.norm(self.affine[:3, :3], axis=0))

    @property
    def direction(self) -> np.ndarray:
        """3x3: column ``a`` is the RAS unit vector along array axis ``a`` (d, h, w)."""
        return self.affine[:3, :3] / np.asarray(self.spacing)

    @property
    def origin(self) -> np.ndarray:
        """RAS mm of the centre of voxel (0, 0, 0)."""
        return self.affine[:3, 3].copy()

    @property
    def axis_codes(self) -> tuple[str, str, str]:
        """Where each array axis (d, h, w) points, e.g. ("S", "P", "L") for an axial DICOM series."""
        return tuple(aff2axcodes(self.affine))

    @property
    def nifti_affine(self) -> np.ndarray:
        """The affine of NIfTI's (i, j, k) = (w, h, d) voxel order, for ``array.transpose()``."""
        return reverse_axes(self.affine)

    def to_world(self, indices) -> np.ndarray:
        """RAS mm of (..., 3) array indices (d, h, w), fractional indices allowed."""
        points = np.asarray(indices, np.float64)
        return points @ self.affine[:3, :3].T + self.affine[:3, 3]

    def to_index(self, points) -> np.ndarray:
        """Fractional array indices (d, h, w) of (..., 3) RAS mm points; round them to pick voxels."""
        inverse = np.linalg.inv(self.affine)
        return np.asarray(points, np.float64) @ inverse[:3, :3].T + inverse[:3, 3]

    def with_array(self, array: np.ndarray, affine: np.ndarray | None = None) -> Volume:
        """The same volume information around new voxels (a map, a resampled copy)."""
        return Volume(array, self.affine if affine is None else affine, self.info)


def reverse_axes(affine: np.ndarray) -> np.ndarray:
    """The affine for the array with its three axes reversed: (d, h, w) <-> NIfTI's (i, j, k). Self-inverse."""
    return np.asarray(affine, np.float64)[:, [2, 1, 0, 3]]


def check_voxels(where, shape: tuple[int, ...], max_voxels: int | None) -> None:
    """VolumeTooLargeError when a volume of ``shape`` would hold more than ``max_voxels`` (None: no limit)."""
    count = int(np.prod(shape))
    if max_voxels is not None and count > max_voxels:
        grid = "x".join(str(n) for n in shape)
        raise VolumeTooLargeError(where, f"{grid} = {count:,} voxels is above the limit of {max_voxels:,}")
