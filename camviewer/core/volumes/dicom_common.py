"""What DICOM series and multi-frame files share: slice geometry, the stacking checks, units and windows.

Stacking (DICOM PS3.3 C.7.6.2): the slice normal is the cross product of the two ImageOrientationPatient
direction cosines; slices are sorted by their ImagePositionPatient projected on it. The affine's slice column
is the step of the regular grid that fits the positions best (least squares: rounding jitter averages out),
taken as it is, so a gantry tilt (positions stepping obliquely to the normal) stays exact.
Nothing is guessed: slices that differ in size, orientation or pixel spacing, two slices at one position,
a gap larger than ``GAP_FACTOR`` median steps, or a slice further than ``GRID_TOLERANCE`` of a step from the
regular grid are reported as typed errors.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.multival import MultiValue

from camviewer.core.errors import (
    CorruptVolumeError,
    ImageError,
    InconsistentSlicesError,
    MissingSlicesError,
    UnevenSpacingError,
    UnsupportedImageError,
    UnsupportedVolumeError,
    VolumeError,
    VolumeTooLargeError,
)
from camviewer.core.volumes.records import LPS_TO_RAS, VolumeInfo, WindowPreset

GAP_FACTOR = 1.5  # a step this many times the median step means slices are missing
GRID_TOLERANCE = 0.2  # largest distance of a slice from the regular grid, in steps (positions rounded to 0.1 mm pass)
ORIENTATION_TOLERANCE = 1e-4  # direction cosines
PIXEL_SPACING_TOLERANCE = 1e-4  # mm
SAME_POSITION_MM = 1e-3


@dataclass(frozen=True)
class SliceGeometry:
    """One slice (a file of a series, or a frame of a multi-frame file) as DICOM places it, in LPS mm."""

    position: tuple[float, float, float]  # ImagePositionPatient: centre of the first transmitted pixel
    orientation: tuple[float, ...]  # ImageOrientationPatient: row direction (along columns), column direction
    pixel_spacing: tuple[float, float]  # PixelSpacing: between rows, between columns
    size: tuple[int, int]  # Rows, Columns


def stack(where: Path, slices: list[SliceGeometry]) -> tuple[list[int], np.ndarray]:
    """(slice order, affine from array (d, h, w) to RAS mm), or a typed error saying why they are no volume."""
    if len(slices) < 2:
        raise UnsupportedVolumeError(where, "a single slice is a 2-D image, not a volume")
    for attribute, key, tolerance in (
        ("size (rows, columns)", "size", 0.0),
        ("orientation", "orientation", ORIENTATION_TOLERANCE),
        ("pixel spacing", "pixel_spacing", PIXEL_SPACING_TOLERANCE),
    ):
        values = np.array([getattr(s, key) for s in slices], np.float64)
        if np.abs(values - values[0]).max() > tolerance:
            raise InconsistentSlicesError(where, attribute, _counts(values))
    row_direction, column_direction = (np.asarray(slices[0].orientation[i : i + 3], np.float64) for i in (0, 3))
    normal = np.cross(row_direction, column_direction)
    positions = np.array([s.position for s in slices], np.float64)
    along = positions @ normal
    order = [int(i) for i in np.argsort(along, kind="stable")]
    positions, along = positions[order], along[order]
    steps = np.diff(along)
    if (steps < SAME_POSITION_MM).any():
        repeated = {value: count for value, count in _counts(positions.round(2)).items() if count > 1}
        raise InconsistentSlicesError(
            where, "position", repeated, "several slices at one position: more than one acquisition, echo or phase"
        )
    step = float(np.median(steps))
    if gaps := [(int(i), float(steps[i])) for i in np.flatnonzero(steps > GAP_FACTOR * step)]:
        raise MissingSlicesError(where, gaps, step, len(slices))
    # The regular grid that fits the positions best (least squares).
    index = np.arange(len(slices)) - (len(slices) - 1) / 2
    slice_vector = index @ (positions - positions.mean(axis=0)) / (index @ index)
    first = positions.mean(axis=0) - slice_vector * (len(slices) - 1) / 2
    off_grid = np.linalg.norm(positions - (first + np.outer(np.arange(len(slices)), slice_vector)), axis=1)
    if off_grid.max() > GRID_TOLERANCE * np.linalg.norm(slice_vector):
        raise UnevenSpacingError(where, sorted({round(float(s), 3) for s in steps}))
    row_spacing, column_spacing = slices[0].pixel_spacing
    lps = np.eye(4)
    lps[:3, 0] = slice_vector
    lps[:3, 1] = column_direction * row_spacing  # down the rows: along the column direction
    lps[:3, 2] = row_direction * column_spacing  # along a row: the row direction
    lps[:3, 3] = first
    return order, LPS_TO_RAS @ lps


def geometry_of(item: pydicom.Dataset, where: Path, fallback: pydicom.Dataset | None = None) -> SliceGeometry:
    """The geometry of a slice from its own elements (fallback: another dataset for the ones it lacks)."""

    def value(keyword: str):
        for source in (item, fallback):
            if source is not None and source.get(keyword) is not None:
                return source.get(keyword)
        raise UnsupportedVolumeError(where, f"a slice has no {keyword}: its place in the volume is unknown")

    try:
        return SliceGeometry(
            tuple(float(v) for v in value("ImagePositionPatient")),
            tuple(float(v) for v in value("ImageOrientationPatient")),
            tuple(float(v) for v in value("PixelSpacing")),
            (int(value("Rows")), int(value("Columns"))),
        )
    except (TypeError, ValueError) as exc:
        raise UnsupportedVolumeError(where, f"malformed slice geometry ({exc})") from None


def require_grey(ds: pydicom.Dataset, where: Path) -> None:
    if int(ds.get("SamplesPerPixel", 1)) != 1:
        photometric = str(ds.get("PhotometricInterpretation", "colour")).strip()
        raise UnsupportedVolumeError(where, f"colour ({photometric}) DICOM volumes are not supported")


def volume_info(ds: pydicom.Dataset, path: Path, format_name: str, voi: pydicom.Dataset | None = None) -> VolumeInfo:
    """Modality, units, series and windows (from ``voi``: a frame's VOI item, else ``ds`` itself)."""
    modality = str(ds.get("Modality", "")).strip()
    return VolumeInfo(
        path=str(path),
        format=format_name,
        modality=modality,
        units=_units(ds, modality),
        series_uid=str(ds.get("SeriesInstanceUID", "")),
        description=str(ds.get("SeriesDescription", "")).strip(),
        windows=windows(voi if voi is not None else ds),
        geometry="DICOM positions",
    )


def windows(ds: pydicom.Dataset) -> tuple[WindowPreset, ...]:
    """The VOI windows stored in ``ds`` (WindowCenter/Width, several allowed), named by their explanation."""
    centers, widths = _values(ds.get("WindowCenter")), _values(ds.get("WindowWidth"))
    names = [str(v).strip() for v in _values(ds.get("WindowCenterWidthExplanation"))]
    found = []
    for index, (center, width) in enumerate(zip(centers, widths)):
        name = names[index] if index < len(names) and names[index] else f"window {index + 1}"
        if float(width) > 0:
            found.append(WindowPreset(name, float(center), float(width)))
    return tuple(found)


def rescale(ds: pydicom.Dataset) -> tuple[float, float]:
    """(slope, intercept) of the Modality LUT's rescale; (1, 0) when absent."""
    return float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0)


def _units(ds: pydicom.Dataset, modality: str) -> str:
    rescale_type = str(ds.get("RescaleType", "")).strip()
    if rescale_type and rescale_type != "US":  # "US": unspecified
        return rescale_type
    if modality == "CT":  # CT's rescale gives Hounsfield units (PS3.3 C.8.2.1.1.3)
        return "HU"
    return str(ds.get("Units", "")).strip()  # PET: BQML, SUV, ...


def _values(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (MultiValue, list, tuple)) else [value]


def _counts(rows: np.ndarray) -> dict[str, int]:
    """Each distinct row as DICOM writes multiple values ("0\\1\\0"), with how many slices have it, commonest first."""
    return dict(Counter("\\".join(f"{float(v):g}" for v in row) for row in rows).most_common())


@contextmanager
def slice_errors(file: Path) -> Iterator[None]:
    """Let volume errors through; name the file in anything else a slice's decoding raised."""
    try:
        yield
    except VolumeError:
        raise
    except UnsupportedImageError as exc:
        raise UnsupportedVolumeError(file, exc.reason) from None
    except ImageError as exc:
        raise CorruptVolumeError(file, exc.reason) from None
    except MemoryError:
        raise VolumeTooLargeError(file, "not enough memory to decode it") from None
    except Exception as exc:
        raise CorruptVolumeError(file, f"{type(exc).__name__}: {exc}") from exc
