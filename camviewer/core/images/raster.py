"""PNG, JPEG, BMP, TIFF, WebP and GIF through Pillow (16-bit colour through OpenCV), EXIF orientation applied."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from camviewer.core.errors import (
    CorruptImageError,
    ImageTooLargeError,
    UnsupportedImageError,
)
from camviewer.core.images.common import (
    INT32_MAX,
    DecodedImage,
    check_size,
    decoded,
    decoder_error,
    divided,
    raster_signature,
    scale_float,
)

_GREY_MODES = {"1", "L", "LA", "La"}


def open_with_pillow(file: Path, head: bytes) -> Image.Image:
    try:
        return Image.open(file)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:  # warning: if made an error
        raise ImageTooLargeError(file, f"above Pillow's decompression-bomb limit: {exc}") from None
    except UnidentifiedImageError:
        kind = raster_signature(head)
        if kind is None:
            # The bytes themselves are never quoted: the file may be anything (a key, a password file).
            raise UnsupportedImageError(file, "not an image: no known image or DICOM signature") from None
        raise CorruptImageError(file, f"{kind} signature, unreadable header (damaged or cut short)") from None
    except (OSError, EOFError, SyntaxError, ValueError) as exc:
        raise decoder_error(file, exc) from None


def read_with_pillow(file: Path, head: bytes, max_pixels: int | None) -> DecodedImage:
    with open_with_pillow(file, head) as im:
        check_size(file, *im.size, max_pixels)
        bits, layout = source_layout(im)
        if layout in ("L16", "RGB16"):
            pixels = ORIENTED[orientation(im)](_read_16bit_with_opencv(file, grey=layout == "L16"))
        else:
            try:
                im.load()  # raises on truncated data: ImageFile.LOAD_TRUNCATED_IMAGES stays False
            except (OSError, EOFError, SyntaxError, ValueError) as exc:
                raise decoder_error(file, exc) from None
            oriented = ImageOps.exif_transpose(im) if orientation(im) != 1 else im
            pixels = _pillow_pixels(oriented, layout, bits)
        return decoded(file, im.format or "", bits, im.mode, pixels)


def source_layout(im: Image.Image) -> tuple[int, str]:
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
        return divided(np.asarray(im), 65535)
    if layout == "I":
        return np.clip(divided(np.asarray(im), 65535 if bits == 16 else INT32_MAX), 0.0, 1.0)
    if layout == "F":
        return scale_float(np.asarray(im))
    return divided(np.asarray(im if im.mode == layout else im.convert(layout)), 255)


def orientation(im: Image.Image) -> int:
    # A PNG may keep its eXIf chunk after the pixels; looking for it would decode the whole file.
    if im.format == "PNG" and "exif" not in im.info:
        return 1
    orientation = im.getexif().get(ExifTags.Base.Orientation, 1)
    return orientation if orientation in ORIENTED else 1


# EXIF orientation -> the flip/turn that makes stored pixels upright, as ImageOps.exif_transpose does.
ORIENTED = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
    8: lambda a: np.rot90(a, 1),
}


def _read_16bit_with_opencv(file: Path, grey: bool) -> np.ndarray:
    """16-bit colour samples at full precision; OpenCV drops alpha, orientation is left to the caller."""
    import cv2  # imported here: only 16-bit colour files need it

    colour = cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_COLOR
    array = cv2.imdecode(
        np.fromfile(file, dtype=np.uint8), cv2.IMREAD_ANYDEPTH | cv2.IMREAD_IGNORE_ORIENTATION | colour
    )
    if array is None or array.dtype != np.uint16:
        raise CorruptImageError(file, "16-bit colour data could not be decoded")
    return divided(array if grey else array[..., ::-1], 65535)  # OpenCV orders colour as BGR
