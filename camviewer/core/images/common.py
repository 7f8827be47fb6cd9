"""What every image reader shares: the decoded image type, errors that name the file, intensity scaling."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from camviewer.core.errors import (
    CorruptImageError,
    ImageError,
    ImageTooLargeError,
    SpecialFileError,
    TruncatedImageError,
)

DEFAULT_MAX_PIXELS: int = 250_000_000


# Signatures of the raster formats we read, to tell "damaged PNG" from "not an image at all".
SIGNATURES = {
    b"\x89PNG": "PNG",
    b"\xff\xd8\xff": "JPEG",
    b"BM": "BMP",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
    b"GIF8": "GIF",
}


HEAD_BYTES = 132  # a DICOM file has a 128-byte preamble then "DICM"


INT32_MAX = float(np.iinfo(np.int32).max)


@dataclass(frozen=True)
class Window:
    """A display window over an image's values (window/level): ``center`` and ``width`` in the values' units."""

    name: str
    center: float
    width: float

    @property
    def low(self) -> float:
        return self.center - self.width / 2

    @property
    def high(self) -> float:
        return self.center + self.width / 2

    @classmethod
    def spanning(cls, name: str, low: float, high: float) -> Window:
        return cls(name, (low + high) / 2, max(high - low, 1e-6))


@dataclass(frozen=True)
class ImageInfo:
    path: str | None
    format: str  # "PNG", "JPEG", "TIFF", "DICOM", "ARRAY", ...
    width: int
    height: int
    bit_depth: int  # bits per sample of the source
    mode: str  # PIL mode of the source, DICOM PhotometricInterpretation, or "L"/"RGB"/"RGBA" for arrays
    channels: int  # channels of the decoded pixels: 1 or 3
    units: str = ""  # units of the file's values: "HU" for CT; "" for plain sample values
    windows: tuple[Window, ...] = ()  # the file's own display windows (DICOM VOI), in the file's values

    @property
    def eight_bit(self) -> bool:
        """The pixels are exactly k/255 (8- or 1-bit samples, only divided by 255): what PIL holds as uint8.

        DICOM is never: its grey values come through a window or a min-max.
        """
        return self.bit_depth <= 8 and self.format != "DICOM"


@dataclass(frozen=True)
class DecodedImage:
    pixels: np.ndarray  # float32, C-contiguous, (H, W) or (H, W, 3), values in [0, 1]
    info: ImageInfo
    # Grey DICOM: the modality values (e.g. HU) that ``pixels`` show through the file's window. Display only:
    # the model sees ``pixels``. Other images keep their sample values in ``pixels`` (see images.values).
    values: np.ndarray | None = None


def open_head(path: str | os.PathLike) -> tuple[Path, bytes]:
    """The first bytes of the file, or an ImageError for everything that is not a readable, non-empty file."""
    file = Path(path)
    head = read_head(file)
    if not head:
        raise CorruptImageError(file, "empty file")
    return file, head


def read_head(file: Path, size: int = HEAD_BYTES) -> bytes:
    """The first ``size`` bytes of a regular file. A FIFO, socket, device or folder is a SpecialFileError, at
    once: the file is opened without blocking and its type checked before anything is read."""
    with open_regular(file) as handle:
        return handle.read(size)


def open_regular(file: Path) -> BinaryIO:
    """``open(file, "rb")`` for regular files only; it never blocks (a FIFO without a writer would)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(file, flags)
    except FileNotFoundError:
        raise ImageError(file, "no such file") from None
    except PermissionError:
        if file.is_dir():  # Windows refuses to open a folder
            raise SpecialFileError(file, "a folder") from None
        raise ImageError(file, "permission denied") from None
    except OSError as exc:  # a socket cannot be opened at all (ENXIO)
        kind = special_kind(file)
        if kind:
            raise SpecialFileError(file, kind) from None
        raise ImageError(file, exc.strerror or str(exc)) from None
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise SpecialFileError(file, _KINDS.get(stat.S_IFMT(mode), "not a regular file"))
        if hasattr(os, "set_blocking"):
            os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


_KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def special_kind(file: str | os.PathLike) -> str | None:
    """What ``file`` is when it exists and is not a regular file ("a FIFO (named pipe)", ...), else None."""
    try:
        mode = os.stat(file).st_mode
    except OSError:
        return None
    return None if stat.S_ISREG(mode) else _KINDS.get(stat.S_IFMT(mode), "not a regular file")


@contextmanager
def errors_named(file: Path) -> Iterator[None]:
    """Let our typed errors through; turn anything a decoder raised into one that names the file."""
    try:
        yield
    except ImageError:
        raise
    except MemoryError:
        raise ImageTooLargeError(file, "not enough memory to decode it") from None
    except Exception as exc:
        raise CorruptImageError(file, f"{type(exc).__name__}: {exc}") from exc


def check_size(file: Path | None, width: int, height: int, max_pixels: int | None) -> None:
    if max_pixels is not None and width * height > max_pixels:
        raise ImageTooLargeError(
            file, f"{width}x{height} = {width * height:,} pixels is above the limit of {max_pixels:,}"
        )


def decoder_error(file: Path, exc: BaseException) -> ImageError:
    message = str(exc) or type(exc).__name__
    if isinstance(exc, EOFError) or "truncated" in message.lower():
        return TruncatedImageError(file, message)
    return CorruptImageError(file, message)


def raster_signature(head: bytes) -> str | None:
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return next((kind for magic, kind in SIGNATURES.items() if head.startswith(magic)), None)


def scale_float(values: np.ndarray) -> np.ndarray:
    """Keep values already in [0, 1]; else min-max over the finite values. NaN -> 0, -inf -> 0, +inf -> 1."""
    values = np.array(values, dtype=np.float32)  # always a copy: the caller's array stays theirs
    finite = values[np.isfinite(values)]
    if finite.size and (finite.min() < 0 or finite.max() > 1):
        low, high = float(finite.min()), float(finite.max())
        values = (values - low) / (high - low) if high > low else np.zeros_like(values)
    return np.nan_to_num(values, nan=0.0, posinf=1.0, neginf=0.0)


def divided(samples: np.ndarray, full_scale: float) -> np.ndarray:
    pixels = samples.astype(np.float32)  # a new array, so dividing in place is safe and saves a copy
    pixels /= full_scale
    return pixels


def min_max(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    return (values - low) / (high - low) if high > low else np.zeros_like(values)


def decoded(file: Path, format_name: str, bits: int, mode: str, pixels: np.ndarray) -> DecodedImage:
    pixels = np.ascontiguousarray(pixels, dtype=np.float32)
    height, width = pixels.shape[:2]
    info = ImageInfo(str(file), format_name, width, height, bits, mode, 1 if pixels.ndim == 2 else 3)
    return DecodedImage(pixels, info)
