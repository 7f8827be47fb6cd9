"""Multi-frame DICOM volumes (enhanced CT, MR, PET): one file, each frame placed by its functional groups.

Each frame's geometry and rescale come from the Per-frame Functional Groups, else the Shared ones, else the
top-level elements (PS3.3 C.7.6.16): Pixel Measures (PixelSpacing), Plane Position (ImagePositionPatient),
Plane Orientation (ImageOrientationPatient), Pixel Value Transformation (RescaleSlope, RescaleIntercept) and
Frame VOI LUT (windows). The frames are then stacked like the slices of a series (``dicom_common.stack``).
A multi-frame file whose frames carry no position (a cine loop, an ultrasound clip) is not a volume.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pydicom
from pydicom.pixels import pixel_array

from camviewer.core.errors import ImageError, SpecialFileError, UnsupportedVolumeError, VolumeError
from camviewer.core.images.common import read_head
from camviewer.core.images.dicom import read_dataset, require_decoder
from camviewer.core.volumes.dicom_common import (
    geometry_of,
    require_grey,
    rescale,
    slice_errors,
    stack,
    volume_info,
)
from camviewer.core.volumes.records import Volume, check_voxels

FUNCTIONAL_GROUPS = (
    "PixelMeasuresSequence",
    "PlaneOrientationSequence",
    "PlanePositionSequence",
    "PixelValueTransformationSequence",
    "FrameVOILUTSequence",
)


def read_multiframe(path: str | os.PathLike, head: bytes | None = None, max_voxels: int | None = None) -> Volume:
    """The volume of a multi-frame DICOM file whose frames carry plane positions."""
    file = Path(path)
    with slice_errors(file):
        ds = read_dataset(file, head if head is not None else _head(file))
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
    if frames < 2 or len(per_frame) != frames:
        raise UnsupportedVolumeError(
            file, f"{frames} frame(s) without per-frame positions (functional groups): not a multi-frame volume"
        )
    shared = (ds.get("SharedFunctionalGroupsSequence") or [None])[0]
    items = [frame_elements(item, shared) for item in per_frame]
    order, affine = stack(file, [geometry_of(item, file, fallback=ds) for item in items])
    require_grey(ds, file)
    rows, columns = int(ds.Rows), int(ds.Columns)
    check_voxels(file, (frames, rows, columns), max_voxels)
    with slice_errors(file):
        require_decoder(file, ds)
        stored = pixel_array(ds)  # (frames, rows, columns)
    array = np.empty((frames, rows, columns), np.float32)
    for depth, frame in enumerate(order):
        slope, intercept = rescale(items[frame] if "RescaleSlope" in items[frame] else ds)
        array[depth] = stored[frame] * slope + intercept
    first = items[order[0]]
    return Volume(array, affine, volume_info(ds, file, "DICOM multi-frame", first if "WindowCenter" in first else ds))


def frame_elements(frame: pydicom.Dataset, shared: pydicom.Dataset | None) -> pydicom.Dataset:
    """One frame's functional group elements in one flat dataset: per-frame values override shared ones."""
    merged = pydicom.Dataset()
    for keyword in FUNCTIONAL_GROUPS:
        for source in (shared, frame):
            if source is not None and source.get(keyword):
                merged.update(source.get(keyword)[0])
    return merged


def _head(file: Path) -> bytes:
    try:
        return read_head(file)
    except ImageError as exc:
        raise (UnsupportedVolumeError if isinstance(exc, SpecialFileError) else VolumeError)(file, exc.reason) from None
