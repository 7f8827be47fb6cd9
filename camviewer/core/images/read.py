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

import numpy as np

from camviewer.core.errors import UnsupportedImageError
from camviewer.core.images.common import (
    DEFAULT_MAX_PIXELS,
    DecodedImage,
    ImageInfo,
    check_size,
    divided,
    errors_named,
    open_head,
    scale_float,
)
from camviewer.core.images.dicom import dicom_info, is_dicom, read_dataset, read_dicom
from camviewer.core.images.raster import (
    open_with_pillow,
    orientation,
    read_with_pillow,
    source_layout,
)


def read_image(path: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> DecodedImage:
    """Decode one file. ``max_pixels`` (None: no limit) is checked from the header, before decoding."""
    file, head = open_head(path)
    with errors_named(file):
        if is_dicom(file, head):
            return read_dicom(file, head, max_pixels)
        return read_with_pillow(file, head, max_pixels)


def read_header(path: str | os.PathLike) -> ImageInfo:
    """Size, mode and depth without decoding pixels; it does not prove that the pixels decode."""
    file, head = open_head(path)
    with errors_named(file):
        if is_dicom(file, head):
            return dicom_info(file, read_dataset(file, head, stop_before_pixels=True))
        with open_with_pillow(file, head) as im:
            width, height = im.size
            if orientation(im) in (5, 6, 7, 8):  # these orientations turn the image by 90 degrees
                width, height = height, width
            bits, layout = source_layout(im)
            channels = 3 if layout.startswith("RGB") else 1
            return ImageInfo(str(file), im.format or "", width, height, bits, im.mode, channels)


def as_decoded(
    source: str | os.PathLike | np.ndarray | DecodedImage, max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> DecodedImage:
    """Accept a path, an array (HxW, HxWx1, HxWx3, HxWx4) or an already decoded image."""
    if isinstance(source, DecodedImage):
        return source
    if isinstance(source, np.ndarray):
        return _decode_array(source, max_pixels)
    if isinstance(source, (str, os.PathLike)):
        return read_image(source, max_pixels)
    raise UnsupportedImageError(None, f"cannot make an image from a {type(source).__name__}")


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


def _decode_array(array: np.ndarray, max_pixels: int | None) -> DecodedImage:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.size == 0 or not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise UnsupportedImageError(None, f"array of shape {array.shape} is not HxW, HxWx1, HxWx3 or HxWx4")
    check_size(None, array.shape[1], array.shape[0], max_pixels)
    mode = "L" if array.ndim == 2 else ("RGB" if array.shape[2] == 3 else "RGBA")
    colour = array if array.ndim == 2 else array[..., :3]  # alpha dropped, as for files
    if array.dtype == np.bool_:
        bits, pixels = 1, colour.astype(np.float32)
    elif array.dtype.kind == "u" and array.dtype.itemsize <= 2:  # uint8, uint16 (either byte order)
        bits = array.dtype.itemsize * 8
        pixels = divided(colour, 2**bits - 1)
    elif np.issubdtype(array.dtype, np.floating):
        bits, pixels = array.dtype.itemsize * 8, scale_float(colour)
    else:
        raise UnsupportedImageError(
            None, f"arrays of dtype {array.dtype} are not supported (use uint8, uint16, bool or float)"
        )
    info = ImageInfo(None, "ARRAY", array.shape[1], array.shape[0], bits, mode, 1 if array.ndim == 2 else 3)
    return DecodedImage(np.ascontiguousarray(pixels, dtype=np.float32), info)
