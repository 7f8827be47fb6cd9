"""Image -> model input, the one path used by training, evaluation and explanation alike.

Seed projects preprocessed single images differently from their training data; here every
caller goes through :func:`to_unit_tensor` (crop, resize, channels) and :func:`normalize`.
Augmentations in training sit between the two.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch

from camviewer.core.model.card import ModelCard

# ITU-R 601-2 luma, as PIL's "L" conversion: keeps grey images and their RGB copies equivalent.
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def crop_box(height: int, width: int, border_crop: float) -> tuple[int, int, int, int]:
    """(top, left, crop_height, crop_width) of the region the model sees."""
    top, left = int(round(height * border_crop)), int(round(width * border_crop))
    return top, left, max(1, height - 2 * top), max(1, width - 2 * left)


def to_unit_array(pixels: np.ndarray, card: ModelCard) -> np.ndarray:
    """Crop the border, resize to the card's input size, match its channels. Float32 HxWxC in [0, 1]."""
    top, left, crop_h, crop_w = crop_box(pixels.shape[0], pixels.shape[1], card.border_crop)
    pixels = pixels[top : top + crop_h, left : left + crop_w]
    out_h, out_w = card.input_size
    shrinking = out_h * out_w < pixels.shape[0] * pixels.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    resized = cv2.resize(np.ascontiguousarray(pixels, dtype=np.float32), (out_w, out_h), interpolation=interpolation)
    if resized.ndim == 2:
        resized = resized[:, :, None]
    if card.grayscale and resized.shape[2] == 3:
        resized = (resized @ LUMA)[:, :, None]
    if card.channels == 3 and resized.shape[2] == 1:
        resized = np.repeat(resized, 3, axis=2)
    elif card.channels == 1 and resized.shape[2] == 3:
        resized = (resized @ LUMA)[:, :, None]
    return np.clip(resized, 0.0, 1.0)


def to_unit_tensor(pixels: np.ndarray, card: ModelCard) -> torch.Tensor:
    """CxHxW float tensor in [0, 1], ready for augmentation or :func:`normalize`."""
    return torch.from_numpy(np.ascontiguousarray(to_unit_array(pixels, card).transpose(2, 0, 1)))


def normalize(batch: torch.Tensor, card: ModelCard) -> torch.Tensor:
    """(x - mean) / std per channel; works on CxHxW and NxCxHxW."""
    shape = (-1, 1, 1)
    mean = torch.tensor(card.mean, dtype=batch.dtype, device=batch.device).view(shape)
    std = torch.tensor(card.std, dtype=batch.dtype, device=batch.device).view(shape)
    return (batch - mean) / std


def to_model_batch(images: Sequence[np.ndarray], card: ModelCard) -> torch.Tensor:
    """A normalised NxCxHxW batch from decoded images of any sizes."""
    return normalize(torch.stack([to_unit_tensor(pixels, card) for pixels in images]), card)
