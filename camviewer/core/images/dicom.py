"""DICOM through pydicom: modality LUT, then VOI LUT or window (else min-max), MONOCHROME1 inverted, first frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.pixels import (
    apply_color_lut,
    apply_modality_lut,
    apply_voi,
    get_decoder,
    pixel_array,
)
from pydicom.uid import (
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from camviewer.core.errors import UnsupportedImageError
from camviewer.core.images.common import (
    DecodedImage,
    ImageInfo,
    Window,
    check_size,
    decoded,
    divided,
    min_max,
    raster_signature,
)

DICOM_EXTENSIONS = frozenset({".dcm", ".dicom"})


def is_dicom(file: Path, head: bytes) -> bool:
    """DICOM by its "DICM" marker, or a .dcm file without preamble that has no raster signature."""
    if head[128:132] == b"DICM":
        return True
    return file.suffix.lower() in DICOM_EXTENSIONS and raster_signature(head) is None


def read_dataset(file: Path, head: bytes, stop_before_pixels: bool = False) -> pydicom.Dataset:
    has_marker = head[128:132] == b"DICM"
    try:
        ds = pydicom.dcmread(file, force=not has_marker, stop_before_pixels=stop_before_pixels)
    except InvalidDicomError as exc:
        raise UnsupportedImageError(file, f"not an image: not a DICOM file ({exc})") from None
    except Exception as exc:
        if has_marker:
            raise
        raise UnsupportedImageError(file, f"not an image: not a readable DICOM file ({exc})") from None
    if not has_marker and "Rows" not in ds:  # force=True "reads" any bytes; these held no image
        raise UnsupportedImageError(file, "not an image: neither a known image format nor a DICOM image")
    if "TransferSyntaxUID" not in ds.file_meta:  # no File Meta header: use the encoding pydicom detected
        implicit_vr, little_endian = ds.original_encoding
        ds.file_meta.TransferSyntaxUID = (
            ImplicitVRLittleEndian if implicit_vr else ExplicitVRLittleEndian if little_endian else ExplicitVRBigEndian
        )
    return ds


def read_dicom(file: Path, head: bytes, max_pixels: int | None) -> DecodedImage:
    ds = read_dataset(file, head)
    if not any(keyword in ds for keyword in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        raise UnsupportedImageError(file, "DICOM file has no pixel data")
    info = dicom_info(file, ds)
    check_size(file, info.width, info.height, max_pixels)
    require_decoder(file, ds)
    frame = pixel_array(ds, index=0)  # only the first frame of a multi-frame file is decoded
    if info.channels == 1:
        values = apply_modality_lut(frame, ds).astype(np.float64)
        pixels = _dicom_grey(values, ds, inverted=info.mode == "MONOCHROME1")
        # the modality values (e.g. HU) are kept for window/level and readouts; the model sees only ``pixels``
        return DecodedImage(np.ascontiguousarray(pixels, dtype=np.float32), info, values.astype(np.float32))
    if info.mode == "PALETTE COLOR":
        colours = apply_color_lut(frame, ds)
        pixels = divided(colours, np.iinfo(colours.dtype).max)
    else:  # RGB, and YBR which pydicom has already converted to RGB
        pixels = divided(frame, 2**info.bit_depth - 1)
    return decoded(file, "DICOM", info.bit_depth, info.mode, pixels)


def dicom_info(file: Path, ds: pydicom.Dataset) -> ImageInfo:
    if "Rows" not in ds or "Columns" not in ds:
        raise UnsupportedImageError(file, "DICOM file has no pixel data")
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip()
    channels = 1 if photometric.startswith("MONOCHROME") else 3
    bits = int(ds.get("BitsStored") or ds.get("BitsAllocated") or 8)
    units, windows = (_units(ds), _file_windows(ds)) if channels == 1 else ("", ())
    return ImageInfo(str(file), "DICOM", int(ds.Columns), int(ds.Rows), bits, photometric, channels, units, windows)


def _units(ds: pydicom.Dataset) -> str:
    """Units of the modality values: the Rescale Type when it names one, HU for CT (its defined unit)."""
    rescale_type = str(ds.get("RescaleType", "")).strip()
    if rescale_type and rescale_type != "US":  # US: unspecified
        return rescale_type
    return "HU" if str(ds.get("Modality", "")).strip().upper() == "CT" else ""


def _file_windows(ds: pydicom.Dataset) -> tuple[Window, ...]:
    """The windows the file offers (window centre/width, with their explanations), and each VOI LUT's input range."""
    centers, widths = _values(ds.get("WindowCenter")), _values(ds.get("WindowWidth"))
    names = [str(name) for name in _values(ds.get("WindowCenterWidthExplanation"))]
    windows = [
        Window(names[index] if index < len(names) and names[index] else f"File window {index + 1}", float(c), float(w))
        for index, (c, w) in enumerate(zip(centers, widths))
        if float(w) > 0
    ]
    for item in ds.get("VOILUTSequence") or ():
        entries, first = int(item.LUTDescriptor[0]) or 65536, float(item.LUTDescriptor[1])
        name = str(item.get("LUTExplanation", "") or "VOI LUT")
        windows.append(Window.spanning(f"{name} (linear)", first, first + entries - 1))
    return tuple(windows)


def _values(value: object) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, MultiValue) else [value]


def require_decoder(file: Path, ds: pydicom.Dataset) -> None:
    uid = ds.file_meta.TransferSyntaxUID  # always set by read_dataset
    syntax = uid.name if uid.name == str(uid) else f"{uid.name} ({uid})"
    try:
        decoder = get_decoder(uid)
    except NotImplementedError:
        raise UnsupportedImageError(file, f"transfer syntax {syntax} cannot be decoded by pydicom") from None
    if not decoder.is_available:
        needs = "; ".join(decoder.missing_dependencies)
        raise UnsupportedImageError(file, f"no installed decoder for transfer syntax {syntax} ({needs})")


def _dicom_grey(values: np.ndarray, ds: pydicom.Dataset, inverted: bool) -> np.ndarray:
    """Modality values (float64) -> VOI (LUT, window, or min-max) -> [0, 1], higher = brighter."""
    if ds.get("VOILUTSequence"):
        lut_bits = int(ds.VOILUTSequence[0].LUTDescriptor[2])
        scaled = apply_voi(np.rint(values).astype(np.int64), ds) / float(2**lut_bits - 1)
    elif (window := _window(ds)) is not None:
        scaled = _apply_window(values, *window, str(ds.get("VOILUTFunction", "LINEAR")).strip().upper())
    else:
        scaled = min_max(values)
    return 1.0 - scaled if inverted else scaled  # MONOCHROME1: the lowest value is white


def _window(ds: pydicom.Dataset) -> tuple[float, float] | None:
    center, width = ds.get("WindowCenter"), ds.get("WindowWidth")
    if center is None or width is None:
        return None
    center, width = _first_value(center), _first_value(width)  # several windows: the first is the default
    return (center, width) if width > 0 else None


def _first_value(value: object) -> float:
    return float(value[0] if isinstance(value, MultiValue) else value)


def _apply_window(values: np.ndarray, center: float, width: float, function: str) -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2 with an output range of [0, 1]."""
    if function == "SIGMOID":
        return 1.0 / (1.0 + np.exp(np.clip(-4.0 * (values - center) / width, -700, 700)))  # no overflow
    if function == "LINEAR_EXACT":
        return np.clip((values - center) / width + 0.5, 0.0, 1.0)
    if width <= 1:  # LINEAR with width 1 is a threshold
        return (values > center - 0.5).astype(np.float64)
    return np.clip((values - (center - 0.5)) / (width - 1) + 0.5, 0.0, 1.0)
