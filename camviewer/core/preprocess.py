"""Image -> model input, the one path used by training, evaluation, explanation and the GUI alike.

Seed projects preprocessed single images differently from their training data; here every caller goes
through :func:`to_unit_tensor` (the card's recipe: border crop, resize, centre crop or letterbox,
channels) and :func:`normalize`. Augmentations in training sit between the two.

The resize reproduces torchvision's ``Resize`` on PIL images, with torchvision itself: an 8-bit source
(``ImageInfo.eight_bit``, or a uint8 array) is resized as uint8 with antialiasing, as PIL does (torchvision's
uint8 kernel agrees with PIL to 1/255); 16-bit and float sources get the same filter in float32 (PIL's
float "F" mode). A colour image for a grey model is converted to grey first, with PIL's integer luma
for 8-bit sources, as ``Image.convert("L")`` does. Cards of camviewer 0.x (interpolation "area") keep
their OpenCV resize, so their models see what they were trained on.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch

from camviewer.core.images import as_decoded
from camviewer.core.images.common import DecodedImage
from camviewer.core.model.card import ModelCard

# ITU-R 601-2 luma, as PIL's "L" conversion: keeps grey images and their RGB copies equivalent.
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# PIL's fixed-point luma (Convert.c, L24): (R * 19595 + G * 38470 + B * 7471 + 0x8000) >> 16.
LUMA_FIXED = np.array([19595, 38470, 7471], dtype=np.uint32)

Image = DecodedImage | np.ndarray


def to_unit_tensor(image: Image, card: ModelCard) -> torch.Tensor:
    """C x H x W float32 in [0, 1] at the card's input size, ready for augmentation or :func:`normalize`.

    ``image``: a DecodedImage, or an array (uint8: 8-bit; float in [0, 1]: resized in float; other types
    are scaled as :func:`camviewer.core.images.as_decoded` does).
    """
    pixels, eight_bit = _source(image)
    placement = card.placement(pixels.shape[:2])
    top, left, height, width = placement.region
    pixels = pixels[top : top + height, left : left + width]
    if card.interpolation == "area":
        tensor = _area_resize(pixels, placement.resized, card)
    else:
        if (card.grayscale or card.channels == 1) and pixels.ndim == 3:
            pixels = _luma(pixels, eight_bit)
        tensor = _resize(_as_tensor(pixels, eight_bit), placement.resized, card.interpolation)
    tensor = _paste(tensor, placement.offset, placement.input_size)
    tensor = tensor.float().div_(255.0) if tensor.dtype == torch.uint8 else tensor.float().clamp(0.0, 1.0)
    if card.channels == 3 and tensor.shape[0] == 1:
        tensor = tensor.expand(3, -1, -1)
    return tensor.contiguous()


def to_unit_array(image: Image, card: ModelCard) -> np.ndarray:
    """:func:`to_unit_tensor` as H x W x C float32 numpy."""
    return np.ascontiguousarray(to_unit_tensor(image, card).permute(1, 2, 0).numpy())


def normalize(batch: torch.Tensor, card: ModelCard) -> torch.Tensor:
    """(x - mean) / std per channel; works on CxHxW and NxCxHxW (C x D x H x W and N x C x D x H x W for volumes)."""
    shape = (-1,) + (1,) * card.spatial_dims
    mean = torch.tensor(card.mean, dtype=batch.dtype, device=batch.device).view(shape)
    std = torch.tensor(card.std, dtype=batch.dtype, device=batch.device).view(shape)
    return (batch - mean) / std


def to_model_batch(images: Sequence[Image], card: ModelCard) -> torch.Tensor:
    """A normalised NxCxHxW batch from decoded images of any sizes."""
    return normalize(torch.stack([to_unit_tensor(image, card) for image in images]), card)


def _source(image: Image) -> tuple[np.ndarray, bool]:
    """(pixels, whether they are 8-bit): float32 in [0, 1] or uint8, H x W or H x W x 3."""
    if isinstance(image, DecodedImage):
        return image.pixels, image.info.eight_bit
    pixels = np.asarray(image)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[..., 0]
    plain = pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] == 3)
    if plain and pixels.dtype == np.uint8:
        return pixels, True  # used as it is: no round trip through floats
    if plain and pixels.dtype.kind == "f":
        return pixels.astype(np.float32, copy=False), False
    return _source(as_decoded(pixels))  # uint16, bool, RGBA...: scaled as the image readers do


def _luma(pixels: np.ndarray, eight_bit: bool) -> np.ndarray:
    if not eight_bit:
        return np.ascontiguousarray(pixels) @ LUMA
    rgb = (pixels if pixels.dtype == np.uint8 else _to_uint8(pixels)).astype(np.uint32)
    weighted = rgb[..., 0] * LUMA_FIXED[0] + rgb[..., 1] * LUMA_FIXED[1] + rgb[..., 2] * LUMA_FIXED[2]
    return ((weighted + 0x8000) >> 16).astype(np.uint8)


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    """k/255 floats back to their bytes (rounded, saturated; OpenCV does it in one fast pass)."""
    return cv2.convertScaleAbs(pixels, alpha=255.0)


def _as_tensor(pixels: np.ndarray, eight_bit: bool) -> torch.Tensor:
    """C x H x W; 8-bit data as uint8 in channels-last memory (torchvision's fast uint8 resize wants it)."""
    if eight_bit and pixels.dtype != np.uint8:
        pixels = _to_uint8(pixels)
    array = pixels[:, :, None] if pixels.ndim == 2 else pixels
    return torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1)


def _resize(tensor: torch.Tensor, size: tuple[int, int], interpolation: str) -> torch.Tensor:
    from torchvision.transforms.v2 import InterpolationMode
    from torchvision.transforms.v2 import functional as F

    mode = InterpolationMode(interpolation)
    return F.resize(tensor, list(size), interpolation=mode, antialias=True)


def _paste(tensor: torch.Tensor, offset: tuple[int, int], size: tuple[int, int]) -> torch.Tensor:
    """The resized image at ``offset`` in a black canvas of ``size``: a centre crop (negative offset) or padding."""
    (top, left), (height, width) = offset, size
    if (top, left) == (0, 0) and tuple(tensor.shape[1:]) == (height, width):
        return tensor
    canvas = torch.zeros((tensor.shape[0], height, width), dtype=tensor.dtype)
    rows = slice(max(0, top), min(height, top + tensor.shape[1]))
    cols = slice(max(0, left), min(width, left + tensor.shape[2]))
    canvas[:, rows, cols] = tensor[:, rows.start - top : rows.stop - top, cols.start - left : cols.stop - left]
    return canvas


def _area_resize(pixels: np.ndarray, size: tuple[int, int], card: ModelCard) -> torch.Tensor:
    """camviewer 0.x's resize, number for number (version-1 cards): C x H x W float32, channels matched."""
    pixels = pixels.astype(np.float32) / 255.0 if pixels.dtype == np.uint8 else pixels
    out_h, out_w = size
    shrinking = out_h * out_w < pixels.shape[0] * pixels.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    resized = cv2.resize(np.ascontiguousarray(pixels, dtype=np.float32), (out_w, out_h), interpolation=interpolation)
    if resized.ndim == 2:
        resized = resized[:, :, None]
    if (card.grayscale or card.channels == 1) and resized.shape[2] == 3:
        resized = (resized @ LUMA)[:, :, None]
    return torch.from_numpy(np.ascontiguousarray(resized.transpose(2, 0, 1)))
