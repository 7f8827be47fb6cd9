"""Writers of small, real image files for the image-layer tests.

PNGs are assembled chunk by chunk (zlib + CRC) so that tests can state exact 16-bit colour samples or
forge a header that Pillow would refuse to write. DICOM files are built with pydicom the way a scanner
export looks: a File Meta header, a transfer syntax, and the Image Pixel module.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_GREY, PNG_RGB, PNG_GREY_ALPHA, PNG_RGBA = 0, 2, 4, 6  # IHDR colour types


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png(
    path: Path,
    samples: np.ndarray,
    colour_type: int,
    width: int | None = None,
    height: int | None = None,
    exif: bytes = b"",
) -> Path:
    """Write ``samples`` (HxW or HxWxC; uint8 or uint16) as a PNG, big-endian as the format says.

    ``width``/``height`` override the declared size, to forge a header that claims a huge image;
    ``exif`` (a TIFF-structured block starting with b"MM" or b"II") goes into an eXIf chunk before IDAT.
    """
    bit_depth = 16 if samples.dtype == np.uint16 else 8
    rows = samples.astype(samples.dtype.newbyteorder(">")).reshape(samples.shape[0], -1)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)  # filter type 0 on every row
    ihdr = struct.pack(
        ">IIBBBBB", width or samples.shape[1], height or samples.shape[0], bit_depth, colour_type, 0, 0, 0
    )
    exif_chunk = png_chunk(b"eXIf", exif) if exif else b""
    path.write_bytes(
        PNG_SIGNATURE
        + png_chunk(b"IHDR", ihdr)
        + exif_chunk
        + png_chunk(b"IDAT", zlib.compress(raw))
        + png_chunk(b"IEND", b"")
    )
    return path


def dicom_dataset(
    pixels: np.ndarray | None,
    photometric: str = "MONOCHROME2",
    bits_stored: int | None = None,
    multi_frame: bool = False,
    **elements,
) -> FileDataset:
    """A Secondary Capture dataset holding ``pixels`` uncompressed (or no pixels when None).

    ``pixels`` is HxW (grey) or HxWx3 (colour), with a leading frame axis when ``multi_frame``.

    Extra keyword arguments are set as DICOM elements by keyword (RescaleSlope=2, WindowCenter=40...).
    """
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("", Dataset(), file_meta=meta, preamble=b"\x00" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "OT"
    ds.PatientName = "Test^Image"
    if pixels is not None:
        ds.NumberOfFrames = pixels.shape[0] if multi_frame else 1
        ds.Rows, ds.Columns = pixels.shape[1:3] if multi_frame else pixels.shape[:2]
        ds.SamplesPerPixel = 1 if photometric.startswith("MONOCHROME") else 3
        if ds.SamplesPerPixel == 3:
            ds.PlanarConfiguration = 0
        ds.PhotometricInterpretation = photometric
        ds.BitsAllocated = pixels.dtype.itemsize * 8
        ds.BitsStored = bits_stored or ds.BitsAllocated
        ds.HighBit = ds.BitsStored - 1
        ds.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0
        ds.PixelData = np.ascontiguousarray(pixels).astype(pixels.dtype.newbyteorder("<")).tobytes()
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    return ds


def write_dicom(path: Path, ds: Dataset) -> Path:
    ds.save_as(path, enforce_file_format=True)
    return path


def encapsulated_dicom(
    frame: bytes, transfer_syntax: str, rows: int, columns: int, photometric: str = "MONOCHROME2", samples: int = 1
) -> FileDataset:
    """An 8-bit dataset whose single frame is the compressed bitstream ``frame``."""
    ds = dicom_dataset(None)
    ds.file_meta.TransferSyntaxUID = transfer_syntax
    ds.Rows, ds.Columns, ds.NumberOfFrames = rows, columns, 1
    ds.SamplesPerPixel, ds.PhotometricInterpretation = samples, photometric
    if samples == 3:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit, ds.PixelRepresentation = 7, 0
    ds.PixelData = encapsulate([frame])
    ds["PixelData"].VR = "OB"
    return ds
