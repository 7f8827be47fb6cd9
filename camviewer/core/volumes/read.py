"""Which paths hold volumes, the volumes in a folder, and reading any of them into a Volume.

A volume source is a NIfTI file (``.nii``, ``.nii.gz``), a folder holding the slices of a DICOM series
(with ImagePositionPatient, at least two), or a multi-frame DICOM file whose frames carry plane positions.
A lone DICOM slice, a radiograph or a cine loop is a 2-D image: ``camviewer.core.images`` reads those.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from camviewer.core.errors import UnsupportedVolumeError, VolumeError
from camviewer.core.images.listing import natural_key
from camviewer.core.jobs import CancelToken
from camviewer.core.volumes.dicom_multiframe import read_multiframe
from camviewer.core.volumes.dicom_series import DicomHeader, dicom_header, dicom_headers, read_series
from camviewer.core.volumes.nifti import is_nifti_path, read_nifti
from camviewer.core.volumes.records import Volume

DEFAULT_MAX_VOXELS: int = 1_000_000_000  # 4 GB as float32; a 512x512x2000 CT is about half of it


@dataclass(frozen=True)
class VolumeSource:
    """One volume found on disk: a NIfTI file, a series in a folder (by UID) or a multi-frame DICOM file."""

    path: Path
    format: str  # "NIfTI", "DICOM series" or "DICOM multi-frame"
    series_uid: str = ""  # DICOM SeriesInstanceUID ("" for NIfTI)

    @property
    def stem(self) -> str:
        """The name without NIfTI's extension: ``case01.nii.gz`` -> ``case01``; a series folder's name."""
        name = self.path.name
        for suffix in (".nii.gz", ".nii", ".dcm", ".dicom"):
            if name.lower().endswith(suffix):
                return name[: -len(suffix)]
        return name


def volume_format(path: str | os.PathLike) -> str | None:
    """ "NIfTI", "DICOM series" (a folder), "DICOM multi-frame" (a file) or None for anything else.

    NIfTI files are told by their extension; folders and DICOM files by their headers (no pixel data is read).
    """
    where = Path(path)
    if where.is_dir():
        groups = dicom_headers(where)
        return "DICOM series" if any(is_volume_series(headers) for headers in groups.values()) else None
    if not where.is_file():
        return None
    if is_nifti_path(where):
        return "NIfTI"
    try:
        header = dicom_header(where)
    except VolumeError:
        return None
    return "DICOM multi-frame" if header is not None and header.is_multiframe_volume else None


def is_volume_source(path: str | os.PathLike) -> bool:
    """True for a NIfTI file, a DICOM series folder or a multi-frame DICOM volume; False for 2-D images."""
    return volume_format(path) is not None


def is_volume_series(headers: list[DicomHeader]) -> bool:
    """Slices that can stack into a volume (two or more, placed), or one multi-frame volume file."""
    if len(headers) == 1 and headers[0].is_multiframe_volume:
        return True
    return sum(header.is_positioned_slice for header in headers) >= 2


def list_volumes(folder: str | os.PathLike, recursive: bool = True) -> list[VolumeSource]:
    """Every volume in ``folder`` (and its sub-folders), in natural order; hidden entries are skipped.

    Each NIfTI file, each series of a folder of DICOM slices (one entry per series when a folder holds
    several), each multi-frame DICOM volume. DICOM files are told by their headers, without pixel data.
    """
    root = Path(folder)
    if not root.is_dir():
        raise VolumeError(root, "no such folder" if not root.exists() else "not a folder")
    found = []
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = [name for name in subdirectories if recursive and not name.startswith(".")]
        here = Path(directory)
        found += [VolumeSource(here / n, "NIfTI") for n in names if is_nifti_path(n) and not n.startswith(".")]
        for uid, headers in dicom_headers(here).items():
            if len(headers) == 1 and headers[0].is_multiframe_volume:
                found.append(VolumeSource(headers[0].file, "DICOM multi-frame", uid))
            elif is_volume_series(headers):
                found.append(VolumeSource(here, "DICOM series", uid))
    return sorted(found, key=lambda s: ([natural_key(p) for p in s.path.relative_to(root).parts], s.series_uid))


def list_folder_sources(folder: str | os.PathLike, recursive: bool = False) -> list[Path | VolumeSource]:
    """What a viewer lists for a folder (and its sub-folders when recursive): 2-D images and volumes, by name.

    NIfTI files and multi-frame DICOM volumes are volumes; DICOM slices that stack into a series give one entry
    for the series (their folder), in place of their files; every other image stays a 2-D image. Only the files
    that could be DICOM are opened, so a folder of PNGs costs what ``list_images`` costs.
    """
    from camviewer.core.images import list_images
    from camviewer.core.images.dicom import DICOM_EXTENSIONS

    root = Path(folder)
    images = list_images(root, recursive)
    volumes, taken = [], set()
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = [name for name in subdirectories if recursive and not name.startswith(".")]
        volumes += [VolumeSource(Path(directory, n), "NIfTI") for n in names if is_nifti_path(n) and n[0] != "."]
    maybe_dicom: dict[Path, list[Path]] = {}
    for image in images:
        if image.suffix.lower() in DICOM_EXTENSIONS or not image.suffix[1:].isalpha():
            maybe_dicom.setdefault(image.parent, []).append(image)
    for here, files in maybe_dicom.items():
        for uid, headers in dicom_headers(here, files).items():
            if len(headers) == 1 and headers[0].is_multiframe_volume:
                volumes.append(VolumeSource(headers[0].file, "DICOM multi-frame", uid))
            elif is_volume_series(headers):
                volumes.append(VolumeSource(here, "DICOM series", uid))
            else:
                continue
            taken.update(header.file for header in headers)

    def order(entry: Path | VolumeSource) -> tuple:
        path = entry.path if isinstance(entry, VolumeSource) else entry
        return [natural_key(part) for part in path.relative_to(root).parts], getattr(entry, "series_uid", "")

    return sorted([image for image in images if image not in taken] + volumes, key=order)


def read_volume(
    source: str | os.PathLike | VolumeSource,
    series_uid: str | None = None,
    volume_index: int | None = None,
    max_voxels: int | None = DEFAULT_MAX_VOXELS,
    cancel: CancelToken | None = None,
) -> Volume:
    """Read a NIfTI file, a DICOM series folder or a multi-frame DICOM file.

    ``series_uid`` picks a series in a folder holding several (MixedSeriesError lists them);
    ``volume_index`` picks a volume of a 4-D NIfTI file (MultipleVolumesError gives the count).
    ``max_voxels`` (None: no limit) is checked from the headers, before any voxel is decoded.
    Every failure is a VolumeError naming the path and the reason.
    """
    if isinstance(source, VolumeSource):
        series_uid = series_uid or source.series_uid or None
        source = source.path
    where = Path(source)
    if where.is_dir():
        return read_series(where, series_uid, max_voxels, cancel)
    if is_nifti_path(where):
        return read_nifti(where, volume_index, max_voxels)
    if not where.exists():
        raise VolumeError(where, "no such file")
    header = dicom_header(where)
    if header is not None and header.is_multiframe_volume:
        return read_multiframe(where, header.head, max_voxels)
    if header is not None:
        raise UnsupportedVolumeError(
            where,
            f"a DICOM image of {header.frames} frame(s) without plane positions is a 2-D image; the "
            "volume of a series is the folder that holds its slices",
        )
    raise UnsupportedVolumeError(
        where, "not a volume: neither NIfTI (.nii, .nii.gz) nor a DICOM series folder or multi-frame DICOM file"
    )
