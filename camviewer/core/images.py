"""Decode image files (PNG, JPEG, BMP, TIFF, WebP, GIF, DICOM) or arrays into float pixels plus metadata.

Everything downstream (model input, the viewer, training datasets) goes through this module, so one
file always maps to the same numbers:

* Pixels are float32, C-contiguous, in [0, 1]: ``(H, W)`` for grey sources, ``(H, W, 3)`` for colour.
  A colour image whose channels happen to be equal stays 3-channel; grey stays 2-D.
* Integer samples are divided by the full range of their bit depth (8-bit /255, 16-bit /65535, 32-bit
  /(2**31-1)), never stretched per image: training and inference must map intensities identically, and a
  per-image stretch would make the same tissue value mean different things in different files.
* Float samples (TIFF "F", float arrays) are kept if they lie in [0, 1], else min-max scaled; NaN -> 0.
* Alpha is dropped, not composited: the stored colour is kept, as ``PIL.Image.convert("RGB")`` and
  torchvision's default loader do, so models trained with those pipelines see the same values.
* Palette images become RGB, or grey when every palette entry is grey. CMYK becomes RGB via Pillow.
* EXIF orientation is applied; ``width``/``height`` always describe the oriented pixels.
* DICOM: modality LUT (rescale slope/intercept), then the first VOI LUT or window (DICOM PS3.3 C.11.2),
  else a min-max of the modality values (the only per-image scaling: a DICOM without a window has no
  other display range); MONOCHROME1 is inverted so that higher means brighter; first frame only.

Every failure is an :class:`~camviewer.core.errors.ImageError` naming the file and the reason.
Decoding mutates no global state (Pillow's ``LOAD_TRUNCATED_IMAGES`` and ``MAX_IMAGE_PIXELS`` are left
alone), so ``read_image`` may run in several threads at once. Pillow's own decompression-bomb limit
(2 x ``Image.MAX_IMAGE_PIXELS``, about 179 MP by default) still applies on top of ``max_pixels``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi, get_decoder, pixel_array
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from camviewer.core.errors import (
    CorruptImageError,
    ImageError,
    ImageTooLargeError,
    TruncatedImageError,
    UnsupportedImageError,
)

DEFAULT_MAX_PIXELS: int = 250_000_000
_DICOM_EXTENSIONS = frozenset({".dcm", ".dicom"})
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif"} | _DICOM_EXTENSIONS
)

# Signatures of the raster formats we read, to tell "damaged PNG" from "not an image at all".
_SIGNATURES = {b"\x89PNG": "PNG", b"\xff\xd8\xff": "JPEG", b"BM": "BMP", b"II*\x00": "TIFF",
               b"MM\x00*": "TIFF", b"GIF8": "GIF"}
_HEAD_BYTES = 132  # a DICOM file has a 128-byte preamble then "DICM"
_GREY_MODES = {"1", "L", "LA", "La"}
_INT32_MAX = float(np.iinfo(np.int32).max)


@dataclass(frozen=True)
class ImageInfo:
    path: str | None
    format: str  # "PNG", "JPEG", "TIFF", "DICOM", "ARRAY", ...
    width: int
    height: int
    bit_depth: int  # bits per sample of the source
    mode: str  # PIL mode of the source, DICOM PhotometricInterpretation, or "L"/"RGB"/"RGBA" for arrays
    channels: int  # channels of the decoded pixels: 1 or 3


@dataclass(frozen=True)
class DecodedImage:
    pixels: np.ndarray  # float32, C-contiguous, (H, W) or (H, W, 3), values in [0, 1]
    info: ImageInfo


# ----------------------------------------------------------------------------------------- public API

def read_image(path: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> DecodedImage:
    """Decode one file. ``max_pixels`` (None: no limit) is checked from the header, before decoding."""
    file, head = _open_head(path)
    with _errors_named(file):
        if _is_dicom(file, head):
            return _read_dicom(file, head, max_pixels)
        return _read_with_pillow(file, head, max_pixels)


def read_header(path: str | os.PathLike) -> ImageInfo:
    """Size, mode and depth without decoding pixels; it does not prove that the pixels decode."""
    file, head = _open_head(path)
    with _errors_named(file):
        if _is_dicom(file, head):
            return _dicom_info(file, _read_dataset(file, head, stop_before_pixels=True))
        with _open_with_pillow(file, head) as im:
            width, height = im.size
            if _orientation(im) in (5, 6, 7, 8):  # these orientations turn the image by 90 degrees
                width, height = height, width
            bits, layout = _source_layout(im)
            channels = 3 if layout.startswith("RGB") else 1
            return ImageInfo(str(file), im.format or "", width, height, bits, im.mode, channels)


def as_decoded(source: str | os.PathLike | np.ndarray | DecodedImage,
               max_pixels: int | None = DEFAULT_MAX_PIXELS) -> DecodedImage:
    """Accept a path, an array (HxW, HxWx1, HxWx3, HxWx4) or an already decoded image."""
    if isinstance(source, DecodedImage):
        return source
    if isinstance(source, np.ndarray):
        return _decode_array(source, max_pixels)
    if isinstance(source, (str, os.PathLike)):
        return read_image(source, max_pixels)
    raise UnsupportedImageError(None, f"cannot make an image from a {type(source).__name__}")


def is_image_path(path: str | os.PathLike) -> bool:
    """True for a supported extension (any case), or for a DICOM file whose name has no real extension.

    Scanners often write DICOM as ``IM000001`` or ``1.2.840.113619.2.55.871``: such names (no suffix, or a
    numeric one) are recognised by reading the "DICM" marker, 132 bytes; other names cost no I/O.
    ``DICOMDIR`` (an index of a DICOM folder, with no pixels) is not an image.
    """
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return True
    if (suffix and not suffix[1:].isdigit()) or file.name.upper() == "DICOMDIR":  # DICOMDIR is an index
        return False
    try:
        with open(file, "rb") as handle:
            return handle.read(_HEAD_BYTES)[128:] == b"DICM"
    except OSError:
        return False


def list_images(folder: str | os.PathLike, recursive: bool = False) -> list[Path]:
    """Supported files in natural order ("img2" before "img10"); hidden files and folders are skipped."""
    root = Path(folder)
    if not root.is_dir():
        raise ImageError(root, "no such folder" if not root.exists() else "not a folder")
    found = []
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = [name for name in subdirectories if recursive and not name.startswith(".")]
        # os.walk (scandir) already put folders aside: no extra stat per file for 10,000-image folders.
        candidates = (Path(directory, name) for name in names if not name.startswith("."))
        found += [file for file in candidates if is_image_path(file)]
    return sorted(found, key=lambda file: [_natural_key(part) for part in file.relative_to(root).parts])


def to_uint8_rgb(pixels: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 for display and overlays; float input is clipped to [0, 1], grey is replicated."""
    array = np.asarray(pixels)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        array = array[..., None]
    elif array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ValueError(f"expected HxW, HxWx1, HxWx3 or HxWx4 pixels, got shape {array.shape}")
    if array.dtype != np.uint8:
        array = np.rint(np.clip(np.nan_to_num(array, nan=0.0), 0.0, 1.0) * 255).astype(np.uint8)
    return np.ascontiguousarray(np.broadcast_to(array[..., :3], (*array.shape[:2], 3)))


# ------------------------------------------------------------------------------ files and errors

def _open_head(path: str | os.PathLike) -> tuple[Path, bytes]:
    """The first bytes of the file, or an ImageError for everything that is not a readable, non-empty file."""
    file = Path(path)
    if file.is_dir():
        raise ImageError(file, "is a directory, not an image file")
    try:
        with open(file, "rb") as handle:
            head = handle.read(_HEAD_BYTES)
    except FileNotFoundError:
        raise ImageError(file, "no such file") from None
    except PermissionError:
        raise ImageError(file, "permission denied") from None
    except OSError as exc:
        raise ImageError(file, exc.strerror or str(exc)) from None
    if not head:
        raise CorruptImageError(file, "empty file")
    return file, head


@contextmanager
def _errors_named(file: Path) -> Iterator[None]:
    """Let our typed errors through; turn anything a decoder raised into one that names the file."""
    try:
        yield
    except ImageError:
        raise
    except MemoryError:
        raise ImageTooLargeError(file, "not enough memory to decode it") from None
    except Exception as exc:
        raise CorruptImageError(file, f"{type(exc).__name__}: {exc}") from exc


def _check_size(file: Path | None, width: int, height: int, max_pixels: int | None) -> None:
    if max_pixels is not None and width * height > max_pixels:
        raise ImageTooLargeError(
            file, f"{width}x{height} = {width * height:,} pixels is above the limit of {max_pixels:,}")


def _decoder_error(file: Path, exc: BaseException) -> ImageError:
    message = str(exc) or type(exc).__name__
    if isinstance(exc, EOFError) or "truncated" in message.lower():
        return TruncatedImageError(file, message)
    return CorruptImageError(file, message)


def _natural_key(text: str) -> list[int | str]:
    return [int(part) if part.isdigit() else part.casefold() for part in re.split(r"(\d+)", text)]


# ------------------------------------------------------------------------------------ Pillow formats

def _open_with_pillow(file: Path, head: bytes) -> Image.Image:
    try:
        return Image.open(file)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:  # warning: if made an error
        raise ImageTooLargeError(file, f"above Pillow's decompression-bomb limit: {exc}") from None
    except UnidentifiedImageError:
        kind = _raster_signature(head)
        if kind is None:
            raise UnsupportedImageError(file, f"not an image: unknown content {head[:8]!r}...") from None
        raise CorruptImageError(file, f"{kind} signature, unreadable header (damaged or cut short)") from None
    except (OSError, EOFError, SyntaxError, ValueError) as exc:
        raise _decoder_error(file, exc) from None


def _read_with_pillow(file: Path, head: bytes, max_pixels: int | None) -> DecodedImage:
    with _open_with_pillow(file, head) as im:
        _check_size(file, *im.size, max_pixels)
        bits, layout = _source_layout(im)
        if layout in ("L16", "RGB16"):
            pixels = _ORIENTED[_orientation(im)](_read_16bit_with_opencv(file, grey=layout == "L16"))
        else:
            try:
                im.load()  # raises on truncated data: ImageFile.LOAD_TRUNCATED_IMAGES stays False
            except (OSError, EOFError, SyntaxError, ValueError) as exc:
                raise _decoder_error(file, exc) from None
            oriented = ImageOps.exif_transpose(im) if _orientation(im) != 1 else im
            pixels = _pillow_pixels(oriented, layout, bits)
        return _decoded(file, im.format or "", bits, im.mode, pixels)


def _source_layout(im: Image.Image) -> tuple[int, str]:
    """(bits per stored sample, layout to decode to), read before load() empties ``im.tile``.

    The layout is a mode to convert to ("L", "RGB"), a high-depth mode kept as it is ("I;16", "I", "F"),
    or "L16"/"RGB16" for 16-bit data that Pillow would cut to 8 bits. The raw mode of the first tile
    ("RGB;16B", "LA;16B") is what tells those apart from true 8-bit data.
    """
    args = im.tile[0][3] if getattr(im, "tile", None) else ""
    raw_mode = args[0] if isinstance(args, tuple) and args else args
    is_16bit = im.mode.startswith("I;16") or (isinstance(raw_mode, str) and ";16" in raw_mode)
    if is_16bit and im.mode in ("RGB", "RGBA", "LA"):
        return 16, "L16" if raw_mode.startswith("L") else "RGB16"
    if is_16bit or im.mode in ("I", "F"):  # "I" with 16-bit data: how Pillow < 11 opened 16-bit grey PNG
        return (16 if is_16bit else 32), im.mode
    if im.mode in _GREY_MODES:
        return (1 if im.mode == "1" else 8), "L"
    if im.mode in ("P", "PA"):
        colours = np.asarray(im.getpalette() or [0, 0, 0]).reshape(-1, 3)
        return 8, "L" if (colours == colours[:, :1]).all() else "RGB"
    return 8, "RGB"  # RGB, RGBA (alpha dropped), CMYK, YCbCr, LAB, HSV...


def _pillow_pixels(im: Image.Image, layout: str, bits: int) -> np.ndarray:
    if layout.startswith("I;16"):
        return _divided(np.asarray(im), 65535)
    if layout == "I":
        return np.clip(_divided(np.asarray(im), 65535 if bits == 16 else _INT32_MAX), 0.0, 1.0)
    if layout == "F":
        return _scale_float(np.asarray(im))
    return _divided(np.asarray(im if im.mode == layout else im.convert(layout)), 255)


def _orientation(im: Image.Image) -> int:
    # A PNG may keep its eXIf chunk after the pixels; looking for it would decode the whole file.
    if im.format == "PNG" and "exif" not in im.info:
        return 1
    orientation = im.getexif().get(ExifTags.Base.Orientation, 1)
    return orientation if orientation in _ORIENTED else 1


# EXIF orientation -> the flip/turn that makes stored pixels upright, as ImageOps.exif_transpose does.
_ORIENTED = {
    1: lambda a: a, 2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1), 6: lambda a: np.rot90(a, -1), 7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
    8: lambda a: np.rot90(a, 1),
}


def _read_16bit_with_opencv(file: Path, grey: bool) -> np.ndarray:
    """16-bit colour samples at full precision; OpenCV drops alpha, orientation is left to the caller."""
    import cv2  # imported here: only 16-bit colour files need it

    colour = cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_COLOR
    array = cv2.imdecode(np.fromfile(file, dtype=np.uint8),
                         cv2.IMREAD_ANYDEPTH | cv2.IMREAD_IGNORE_ORIENTATION | colour)
    if array is None or array.dtype != np.uint16:
        raise CorruptImageError(file, "16-bit colour data could not be decoded")
    return _divided(array if grey else array[..., ::-1], 65535)  # OpenCV orders colour as BGR


# --------------------------------------------------------------------------------------------- DICOM

def _is_dicom(file: Path, head: bytes) -> bool:
    """DICOM by its "DICM" marker, or a .dcm file without preamble that has no raster signature."""
    if head[128:132] == b"DICM":
        return True
    return file.suffix.lower() in _DICOM_EXTENSIONS and _raster_signature(head) is None


def _raster_signature(head: bytes) -> str | None:
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return next((kind for magic, kind in _SIGNATURES.items() if head.startswith(magic)), None)


def _read_dataset(file: Path, head: bytes, stop_before_pixels: bool = False) -> pydicom.Dataset:
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
        ds.file_meta.TransferSyntaxUID = (ImplicitVRLittleEndian if implicit_vr else
                                          ExplicitVRLittleEndian if little_endian else ExplicitVRBigEndian)
    return ds


def _read_dicom(file: Path, head: bytes, max_pixels: int | None) -> DecodedImage:
    ds = _read_dataset(file, head)
    if not any(keyword in ds for keyword in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        raise UnsupportedImageError(file, "DICOM file has no pixel data")
    info = _dicom_info(file, ds)
    _check_size(file, info.width, info.height, max_pixels)
    _require_decoder(file, ds)
    frame = pixel_array(ds, index=0)  # only the first frame of a multi-frame file is decoded
    if info.channels == 1:
        pixels = _dicom_grey(frame, ds, inverted=info.mode == "MONOCHROME1")
    elif info.mode == "PALETTE COLOR":
        colours = apply_color_lut(frame, ds)
        pixels = _divided(colours, np.iinfo(colours.dtype).max)
    else:  # RGB, and YBR which pydicom has already converted to RGB
        pixels = _divided(frame, 2**info.bit_depth - 1)
    return _decoded(file, "DICOM", info.bit_depth, info.mode, pixels)


def _dicom_info(file: Path, ds: pydicom.Dataset) -> ImageInfo:
    if "Rows" not in ds or "Columns" not in ds:
        raise UnsupportedImageError(file, "DICOM file has no pixel data")
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip()
    channels = 1 if photometric.startswith("MONOCHROME") else 3
    bits = int(ds.get("BitsStored") or ds.get("BitsAllocated") or 8)
    return ImageInfo(str(file), "DICOM", int(ds.Columns), int(ds.Rows), bits, photometric, channels)


def _require_decoder(file: Path, ds: pydicom.Dataset) -> None:
    uid = ds.file_meta.TransferSyntaxUID  # always set by _read_dataset
    syntax = uid.name if uid.name == str(uid) else f"{uid.name} ({uid})"
    try:
        decoder = get_decoder(uid)
    except NotImplementedError:
        raise UnsupportedImageError(file, f"transfer syntax {syntax} cannot be decoded by pydicom") from None
    if not decoder.is_available:
        needs = "; ".join(decoder.missing_dependencies)
        raise UnsupportedImageError(file, f"no installed decoder for transfer syntax {syntax} ({needs})")


def _dicom_grey(frame: np.ndarray, ds: pydicom.Dataset, inverted: bool) -> np.ndarray:
    """Stored values -> modality values -> VOI (LUT, window, or min-max) -> [0, 1], higher = brighter."""
    values = apply_modality_lut(frame, ds).astype(np.float64)
    if ds.get("VOILUTSequence"):
        lut_bits = int(ds.VOILUTSequence[0].LUTDescriptor[2])
        scaled = apply_voi(np.rint(values).astype(np.int64), ds) / float(2 ** lut_bits - 1)
    elif (window := _window(ds)) is not None:
        scaled = _apply_window(values, *window, str(ds.get("VOILUTFunction", "LINEAR")).strip().upper())
    else:
        scaled = _min_max(values)
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


# ---------------------------------------------------------------------------------- arrays, scaling

def _decode_array(array: np.ndarray, max_pixels: int | None) -> DecodedImage:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.size == 0 or not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise UnsupportedImageError(None, f"array of shape {array.shape} is not HxW, HxWx1, HxWx3 or HxWx4")
    _check_size(None, array.shape[1], array.shape[0], max_pixels)
    mode = "L" if array.ndim == 2 else ("RGB" if array.shape[2] == 3 else "RGBA")
    colour = array if array.ndim == 2 else array[..., :3]  # alpha dropped, as for files
    if array.dtype == np.bool_:
        bits, pixels = 1, colour.astype(np.float32)
    elif array.dtype.kind == "u" and array.dtype.itemsize <= 2:  # uint8, uint16 (either byte order)
        bits = array.dtype.itemsize * 8
        pixels = _divided(colour, 2**bits - 1)
    elif np.issubdtype(array.dtype, np.floating):
        bits, pixels = array.dtype.itemsize * 8, _scale_float(colour)
    else:
        raise UnsupportedImageError(None, f"arrays of dtype {array.dtype} are not supported "
                                          "(use uint8, uint16, bool or float)")
    info = ImageInfo(None, "ARRAY", array.shape[1], array.shape[0], bits, mode, 1 if array.ndim == 2 else 3)
    return DecodedImage(np.ascontiguousarray(pixels, dtype=np.float32), info)


def _scale_float(values: np.ndarray) -> np.ndarray:
    """Keep values already in [0, 1]; else min-max over the finite values. NaN -> 0, -inf -> 0, +inf -> 1."""
    values = np.array(values, dtype=np.float32)  # always a copy: the caller's array stays theirs
    finite = values[np.isfinite(values)]
    if finite.size and (finite.min() < 0 or finite.max() > 1):
        low, high = float(finite.min()), float(finite.max())
        values = (values - low) / (high - low) if high > low else np.zeros_like(values)
    return np.nan_to_num(values, nan=0.0, posinf=1.0, neginf=0.0)


def _divided(samples: np.ndarray, full_scale: float) -> np.ndarray:
    pixels = samples.astype(np.float32)  # a new array, so dividing in place is safe and saves a copy
    pixels /= full_scale
    return pixels


def _min_max(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    return (values - low) / (high - low) if high > low else np.zeros_like(values)


def _decoded(file: Path, format_name: str, bits: int, mode: str, pixels: np.ndarray) -> DecodedImage:
    pixels = np.ascontiguousarray(pixels, dtype=np.float32)
    height, width = pixels.shape[:2]
    info = ImageInfo(str(file), format_name, width, height, bits, mode, 1 if pixels.ndim == 2 else 3)
    return DecodedImage(pixels, info)
