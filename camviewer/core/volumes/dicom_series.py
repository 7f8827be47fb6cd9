"""DICOM series: a folder of slices, grouped by SeriesInstanceUID, stacked by position, rescaled to HU.

A folder is scanned header by header (no pixel data) first: its files are grouped by series, and only the
chosen series is decoded. Files that are not DICOM (notes, thumbnails) and DICOM objects without pixels
(DICOMDIR, structured reports) are passed over; a DICOM file that cannot be parsed is an error naming it.
A folder with several series is refused with the list of them (MixedSeriesError) unless the caller names one.
A series made of one multi-frame file is read as such (see ``dicom_multiframe``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.pixels import apply_modality_lut

from camviewer.core.errors import (
    ImageError,
    MixedSeriesError,
    SpecialFileError,
    UnsupportedVolumeError,
    VolumeError,
)
from camviewer.core.images.common import read_head
from camviewer.core.images.dicom import is_dicom, read_dataset, require_decoder
from camviewer.core.jobs import CancelToken
from camviewer.core.volumes.dicom_common import geometry_of, require_grey, slice_errors, stack, volume_info
from camviewer.core.volumes.dicom_multiframe import read_multiframe
from camviewer.core.volumes.records import Volume, check_voxels


@dataclass(frozen=True)
class DicomHeader:
    """One DICOM file's header (no pixel data) and its first bytes, for reading it fully later."""

    file: Path
    head: bytes
    ds: pydicom.Dataset

    @property
    def frames(self) -> int:
        return int(self.ds.get("NumberOfFrames", 1) or 1)

    @property
    def is_positioned_slice(self) -> bool:
        return self.frames == 1 and "ImagePositionPatient" in self.ds and "ImageOrientationPatient" in self.ds

    @property
    def is_multiframe_volume(self) -> bool:
        """Several frames, each placed by the functional groups (enhanced CT/MR/PET): not a cine loop."""
        groups = self.ds.get("PerFrameFunctionalGroupsSequence")
        return self.frames > 1 and bool(groups) and "PlanePositionSequence" in groups[0]


@dataclass(frozen=True)
class SeriesSummary:
    """One series found in a folder: for listings and for MixedSeriesError."""

    uid: str
    modality: str
    description: str
    files: int

    def __str__(self) -> str:
        return f"{self.uid} ({self.modality or 'no modality'}, {self.description or 'no description'!r}, {self.files} files)"


def dicom_headers(folder: Path, files: list[Path] | None = None) -> dict[str, list[DicomHeader]]:
    """The image files directly in ``folder`` (or only ``files``), grouped by SeriesInstanceUID (in name order)."""
    groups: dict[str, list[DicomHeader]] = {}
    if files is None:
        files = [entry for entry in folder.iterdir() if not entry.name.startswith(".") and entry.is_file()]
    for file in sorted(files):
        header = dicom_header(file)
        if header is not None:
            groups.setdefault(str(header.ds.get("SeriesInstanceUID", "")), []).append(header)
    return groups


def summarise(uid: str, headers: list[DicomHeader]) -> SeriesSummary:
    ds = headers[0].ds
    return SeriesSummary(
        uid, str(ds.get("Modality", "")).strip(), str(ds.get("SeriesDescription", "")).strip(), len(headers)
    )


def list_series(folder: str | os.PathLike) -> list[SeriesSummary]:
    """Every series of the images directly in ``folder``, largest first."""
    groups = dicom_headers(_folder(folder))
    return sorted((summarise(uid, headers) for uid, headers in groups.items()), key=lambda s: (-s.files, s.uid))


def choose_series(folder: Path, groups: dict[str, list[DicomHeader]], series_uid: str | None) -> list[DicomHeader]:
    if not groups:
        raise UnsupportedVolumeError(folder, "holds no DICOM images")
    if series_uid is not None:
        if series_uid not in groups:
            listed = "; ".join(str(summarise(uid, headers)) for uid, headers in groups.items())
            raise VolumeError(folder, f"holds no series {series_uid}; it holds {listed}")
        return groups[series_uid]
    if len(groups) > 1:
        raise MixedSeriesError(folder, sorted((summarise(uid, h) for uid, h in groups.items()), key=lambda s: s.uid))
    return next(iter(groups.values()))


def read_series(
    folder: str | os.PathLike,
    series_uid: str | None = None,
    max_voxels: int | None = None,
    cancel: CancelToken | None = None,
) -> Volume:
    """The volume of the one series in ``folder``, or of the series ``series_uid`` when there are several."""
    where = _folder(folder)
    headers = choose_series(where, dicom_headers(where), series_uid)
    if len(headers) == 1 and headers[0].is_multiframe_volume:
        return read_multiframe(headers[0].file, headers[0].head, max_voxels)
    if any(header.frames > 1 for header in headers):
        raise UnsupportedVolumeError(where, "the series mixes multi-frame files with single slices")
    order, affine = stack(where, [geometry_of(header.ds, header.file) for header in headers])
    headers = [headers[i] for i in order]
    rows, columns = int(headers[0].ds.Rows), int(headers[0].ds.Columns)
    check_voxels(where, (len(headers), rows, columns), max_voxels)
    array = np.empty((len(headers), rows, columns), np.float32)
    for index, header in enumerate(headers):
        if cancel is not None:
            cancel.raise_if_cancelled()
        with slice_errors(header.file):
            ds = read_dataset(header.file, header.head)
            require_grey(ds, header.file)
            require_decoder(header.file, ds)
            array[index] = apply_modality_lut(ds.pixel_array, ds)  # per slice: slopes may differ
        if index == 0:
            first = ds
    return Volume(array, affine, volume_info(first, where, "DICOM series"))


def dicom_header(file: Path) -> DicomHeader | None:
    """The header of a DICOM image file; None for other files and for DICOM objects without pixels."""
    try:
        head = read_head(file)
    except SpecialFileError:  # a FIFO, socket or device among the slices is passed over, never read
        return None
    except ImageError as exc:
        raise VolumeError(file, exc.reason) from None
    if not head or not is_dicom(file, head) or file.name.upper() == "DICOMDIR":
        return None
    try:
        with slice_errors(file):
            ds = read_dataset(file, head, stop_before_pixels=True)
    except UnsupportedVolumeError:  # not DICOM after all, or DICOM without an image
        return None
    return DicomHeader(file, head, ds) if "Rows" in ds else None


def _folder(folder: str | os.PathLike) -> Path:
    where = Path(folder)
    if not where.is_dir():
        raise VolumeError(where, "no such folder" if not where.exists() else "not a folder")
    return where
