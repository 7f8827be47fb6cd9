"""Volume -> model input, the one path used by training, evaluation, explanation and the GUI for 3-D models.

The card's :class:`~camviewer.core.model.volume_recipe.VolumeRecipe` in order: the grid (the whole field of view
resized to the model's size, or resampled to a spacing), the intensity (a window scaled to [0, 1], or a z-score),
a centre crop/pad to the model's size (with a spacing), the channels; ``preprocess.normalize`` applies the card's
mean/std.
Augmentations in training sit between the two, as for images. Each step is what the MONAI transform named in
the recipe's module does (tested against MONAI).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from camviewer.core.model.card import ModelCard
from camviewer.core.model.volume_recipe import VolumeRecipe, crop_or_pad_slices
from camviewer.core.preprocess import normalize
from camviewer.core.volumes.records import Volume
from camviewer.core.volumes.resample import resize, sample_axes


def to_unit_volume(volume: Volume, card: ModelCard) -> torch.Tensor:
    """C x D x H x W float32 at the card's volume size: window in [0, 1] (or z-scores), channels matched."""
    recipe = card.volume
    if recipe is None:
        raise ValueError(f"{card.arch} is an image model: it takes no volumes")
    if recipe.spacing is None:
        values = intensity(torch.from_numpy(resize(volume.array, recipe.size)), recipe)
    else:
        placement = recipe.placement(volume.shape, volume.spacing)
        positions = [np.arange(n) / scale for n, (scale, _) in zip(placement.resampled, placement.axes)]
        values = crop_or_pad(intensity(sample_axes(volume.array, positions), recipe), recipe.size)
    return values.expand(card.channels, *values.shape).contiguous()


def crop_or_pad(values: torch.Tensor, size) -> torch.Tensor:
    """A centre crop and/or zero padding of (D, H, W) values to ``size``, as MONAI's ``ResizeWithPadOrCrop``."""
    out = values.new_zeros(tuple(size))
    kept, placed = crop_or_pad_slices(values.shape, size)
    out[placed] = values[kept]
    return out


def intensity(values: torch.Tensor, recipe: VolumeRecipe) -> torch.Tensor:
    """The recipe's window scaled to [0, 1] and clipped, or the values' z-scores."""
    if recipe.intensity == "zscore":
        std = values.std(unbiased=False)
        return (values - values.mean()) / (std if std > 0 else 1.0)
    low, high = recipe.window
    return ((values - low) / (high - low)).clamp_(0.0, 1.0)


def to_volume_batch(volumes: Sequence[Volume], card: ModelCard) -> torch.Tensor:
    """A normalised N x C x D x H x W batch from volumes of any shapes."""
    return normalize(torch.stack([to_unit_volume(volume, card) for volume in volumes]), card)
