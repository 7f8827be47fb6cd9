"""Volumes (CT, MR, PET) from NIfTI files, DICOM series and multi-frame DICOM, with their geometry.

A :class:`Volume` is a float32 ``(D, H, W)`` array in the source's units (HU for CT) plus a 4x4 ``affine``
from array indices ``(d, h, w)`` to RAS+ millimetres, and a :class:`VolumeInfo` (modality, units, series,
windows). See ``records`` for the conventions, ``read`` for what counts as a volume, ``nifti`` /
``dicom_series`` / ``dicom_multiframe`` for each format, ``geometry`` (reorient, crop/pad, resized affines)
and ``resample`` (torch interpolation; imported on its own so that reading needs no torch).

Every failure is a :class:`~camviewer.core.errors.VolumeError` (a kind of ImageError) naming the path and
the reason; missing slices, mixed series, uneven spacing and inconsistent slices have their own types with
the facts as fields.
"""

from camviewer.core.volumes.dicom_series import SeriesSummary, list_series
from camviewer.core.volumes.geometry import crop_or_pad, reorient, resized_affine, shape_for_spacing
from camviewer.core.volumes.nifti import NIFTI_SUFFIXES, is_nifti_path, write_nifti
from camviewer.core.volumes.read import (
    DEFAULT_MAX_VOXELS,
    VolumeSource,
    is_volume_source,
    list_folder_sources,
    list_volumes,
    read_volume,
    volume_format,
)
from camviewer.core.volumes.records import CT_WINDOWS, LPS_TO_RAS, Volume, VolumeInfo, WindowPreset

__all__ = [
    "CT_WINDOWS",
    "DEFAULT_MAX_VOXELS",
    "LPS_TO_RAS",
    "NIFTI_SUFFIXES",
    "SeriesSummary",
    "Volume",
    "VolumeInfo",
    "VolumeSource",
    "WindowPreset",
    "crop_or_pad",
    "is_nifti_path",
    "is_volume_source",
    "list_folder_sources",
    "list_series",
    "list_volumes",
    "read_volume",
    "reorient",
    "resized_affine",
    "shape_for_spacing",
    "volume_format",
    "write_nifti",
]
