"""The torch side of training data: augmentations, label tensors, cached or streamed datasets, DataLoaders."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Sampler
from torch.utils.data import Dataset as TorchDataset

from camviewer.core.data.decode import DecodedSet
from camviewer.core.data.index import AUGMENTATIONS, Sample
from camviewer.core.errors import DatasetError, ImageError
from camviewer.core.images import read_image
from camviewer.core.model.card import ModelCard
from camviewer.core.preprocess import to_unit_tensor
from camviewer.core.preprocess_volume import to_unit_volume
from camviewer.core.volumes import read_volume


def build_augmentation(preset: str, channels: int, spatial_dims: int = 2):
    """A per-image torchvision v2 transform on [0, 1] tensors (MONAI's for volumes), or None for "none".

    ``light``: horizontal and vertical flips (microscopy has no up or left; for radiographs, where
    laterality matters, prefer ``none``). ``standard``: flips, rotations of up to 10 degrees and a
    mild brightness/contrast (and, in colour, saturation/hue) jitter. The border crop is not an
    augmentation: it is the card's ``border_crop``, applied identically in training and inference.
    """
    if preset not in AUGMENTATIONS:
        raise DatasetError(f"unknown augmentation {preset!r}; choose one of {', '.join(AUGMENTATIONS)}")
    if preset == "none":
        return None
    if spatial_dims == 3:
        return VolumeAugmentation(preset)
    from torchvision.transforms import v2

    flips = [v2.RandomHorizontalFlip(), v2.RandomVerticalFlip()]
    if preset == "light":
        return v2.Compose(flips)
    colour = {"saturation": 0.1, "hue": 0.02} if channels == 3 else {}
    return v2.Compose([*flips, v2.RandomRotation(10), v2.ColorJitter(brightness=0.15, contrast=0.15, **colour)])


class VolumeAugmentation:
    """MONAI's random transforms on a C x D x H x W volume, drawn from torch's generator.

    ``light``: flips along each of the three axes. ``standard``: the flips, a rotation of up to 10 degrees in
    the (h, w) plane (axial slices of a CT) and a mild intensity jitter (scale and shift of up to 10%). Each call
    seeds MONAI's transforms from torch's random generator, so a seeded run augments the same way every time
    and a resumed run continues where it stopped (its torch state is saved).
    """

    def __init__(self, preset: str) -> None:
        from monai.transforms import Compose, RandFlip, RandRotate, RandScaleIntensity, RandShiftIntensity

        steps = [RandFlip(prob=0.5, spatial_axis=axis) for axis in range(3)]
        if preset == "standard":
            steps += [
                RandRotate(range_x=math.radians(10), prob=0.5, keep_size=True, padding_mode="border"),
                RandScaleIntensity(factors=0.1, prob=0.5),
                RandShiftIntensity(offsets=0.1, prob=0.5),
            ]
        self.transform = Compose(steps)

    def __call__(self, volume: torch.Tensor) -> torch.Tensor:
        self.transform.set_random_state(seed=int(torch.randint(0, 2**31 - 1, ()).item()))
        # a plain tensor: MONAI's MetaTensor would track metadata through every operation of the network
        return torch.as_tensor(self.transform(volume)).as_subclass(torch.Tensor)


def label_targets(samples: Sequence[Sample], class_names: Sequence[str], multi_label: bool) -> torch.Tensor:
    """Class indices (int64), or multi-hot rows (float32) for a multi-label model."""
    position = {name: i for i, name in enumerate(class_names)}
    unknown = sorted({label for s in samples for label in s.labels if label not in position})
    if unknown:
        raise DatasetError(f"label(s) {unknown} are not among the model's classes {list(class_names)}")
    if not multi_label:
        return torch.tensor([position[s.labels[0]] for s in samples], dtype=torch.int64)
    targets = torch.zeros((len(samples), len(class_names)), dtype=torch.float32)
    for row, sample in enumerate(samples):
        targets[row, [position[label] for label in sample.labels]] = 1.0
    return targets


class CachedImages(TorchDataset):
    """Decoded uint8 images (float16 volumes) in memory. ``__getitems__`` lets the DataLoader take a batch in one slice."""

    def __init__(self, pixels: torch.Tensor, targets: torch.Tensor, augment=None) -> None:
        self.pixels, self.targets, self.augment = pixels, targets, augment

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        images, targets = self.__getitems__([index])
        return images[0], targets[0]

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        images = self.pixels[indices].float()
        if self.pixels.dtype == torch.uint8:
            images.div_(255.0)
        if self.augment is not None:  # v2 draws one set of parameters per call: call it per image
            images = torch.stack([self.augment(image) for image in images])
        return images, self.targets[indices]


class StreamedImages(TorchDataset):
    """Images (or volumes) decoded from disk on demand, through the same preprocessing as inference."""

    def __init__(self, paths: Sequence[Path], targets: torch.Tensor, card: ModelCard, augment=None) -> None:
        self.paths, self.targets, self.card, self.augment = list(paths), targets, card, augment

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        try:
            if self.card.volume is not None:
                image = to_unit_volume(read_volume(self.paths[index]), self.card)
            else:
                image = to_unit_tensor(read_image(self.paths[index]), self.card)
        except ImageError as error:  # it decoded during preparation: it changed since
            raise DatasetError(f"{error} (the file was readable when training started)") from None
        return (self.augment(image) if self.augment is not None else image), self.targets[index]


def _batch_as_is(batch):
    return batch


def default_workers(streaming: bool) -> int:
    """DataLoader worker processes: none in a PyInstaller bundle or for in-memory data."""
    if getattr(sys, "frozen", False) or not streaming:
        return 0
    return max(1, min(4, (os.cpu_count() or 2) - 1))


def make_loader(
    dataset: CachedImages | StreamedImages,
    batch_size: int,
    shuffle: bool,
    generator: torch.Generator | None = None,
    workers: int = 0,
    pin_memory: bool = False,
    sampler: Sampler | None = None,
) -> DataLoader:
    """A DataLoader over either dataset; in-memory batches come pre-stacked from ``__getitems__``.

    A shuffled (training) loader drops a last batch of one image: BatchNorm cannot train on it. With a
    ``sampler`` (a process's share of the data), ``shuffle`` only says that it is the training loader.
    """
    cached = isinstance(dataset, CachedImages)
    count = len(sampler) if sampler is not None else len(dataset)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle and sampler is None,
        sampler=sampler,
        drop_last=shuffle and count % batch_size == 1 and count > 1,
        generator=generator,
        num_workers=0 if cached else workers,
        collate_fn=_batch_as_is if cached else None,
        pin_memory=pin_memory,
        persistent_workers=bool(workers) and not cached,
    )


def torch_dataset(decoded: DecodedSet, split: str, card: ModelCard, multi_label: bool, augment=None):
    """The images of one split as a torch Dataset (cached or streamed, whichever ``decoded`` holds)."""
    rows = [i for i, sample in enumerate(decoded.samples) if sample.split == split]
    samples = [decoded.samples[i] for i in rows]
    targets = label_targets(samples, card.class_names, multi_label)
    if decoded.pixels is not None:
        return CachedImages(decoded.pixels[rows], targets, augment)
    return StreamedImages([s.path for s in samples], targets, card, augment)
