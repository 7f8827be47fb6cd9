"""Decoding a dataset once: every image (or volume) checked, channel moments for the statistics, an optional cache.

Images are cached as uint8 at the model's input size (what an 8-bit file holds); volumes as float16 at the model's
grid (window values in [0, 1] or z-scores: 8 bits would lose ~5 HU steps of a 1400 HU window).
"""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from functools import partial
from itertools import islice

import numpy as np
import torch

from camviewer.core.data.index import Sample
from camviewer.core.errors import DatasetError, ImageError
from camviewer.core.images import read_image
from camviewer.core.jobs import CancelToken, Progress
from camviewer.core.model.card import ModelCard
from camviewer.core.preprocess import to_unit_array
from camviewer.core.preprocess_volume import to_unit_volume
from camviewer.core.volumes import read_volume


@dataclass
class DecodedSet:
    """The readable samples, in order, with what decoding them gave."""

    samples: list[Sample]
    skipped: list[tuple[str, str]]  # (path, reason) of files that could not be decoded
    moments: np.ndarray  # N x C x 2: per-image channel mean and mean of squares, after preprocessing
    pixels: torch.Tensor | None  # N x C x H x W uint8 (N x C x D x H x W float16 for volumes) in memory, else None

    def channel_stats(self, split: str = "train") -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Per-channel mean and std over the images of ``split`` (all images share the input size)."""
        rows = [i for i, sample in enumerate(self.samples) if sample.split == split] or list(range(len(self.samples)))
        mean = self.moments[rows, :, 0].mean(axis=0)
        variance = self.moments[rows, :, 1].mean(axis=0) - mean**2
        std = np.sqrt(np.maximum(variance, 1e-6))  # a constant channel must not divide by zero
        return tuple(float(v) for v in mean), tuple(float(v) for v in std)


def cache_bytes(count: int, card: ModelCard) -> int:
    return count * card.channels * math.prod(card.input_size) * np.dtype(cache_dtype(card)).itemsize


def cache_dtype(card: ModelCard):
    return np.float16 if card.volume is not None else np.uint8


def decode_samples(
    samples: Sequence[Sample],
    card: ModelCard,
    in_memory: bool,
    threads: int | None = None,
    cancel: CancelToken | None = None,
) -> Generator[Progress, None, DecodedSet]:
    """Decode every sample once (verifying it), yielding Progress; returns a :class:`DecodedSet`."""
    total = len(samples)
    dtype = torch.from_numpy(np.zeros(0, cache_dtype(card))).dtype
    pixels = torch.empty((total, card.channels, *card.input_size), dtype=dtype) if in_memory else None
    moments = np.zeros((total, card.channels, 2))
    kept, skipped = [], []
    results = ordered_map(partial(_decode_one, card=card, keep_pixels=in_memory), samples, threads)
    with closing(results):  # on cancel, stop the decoding threads now
        for done, (sample, decoded) in enumerate(zip(samples, results), start=1):
            if cancel is not None:
                cancel.raise_if_cancelled()
            if isinstance(decoded, str):
                skipped.append((str(sample.path), decoded))
            else:
                moments[len(kept)], unit_pixels = decoded
                if pixels is not None:
                    pixels[len(kept)] = torch.from_numpy(unit_pixels)
                kept.append(sample)
            if done % 16 == 0 or done == total:
                kind = "volumes" if card.volume is not None else "images"
                yield Progress(done, total, f"checked {done}/{total} {kind}, {len(skipped)} unreadable")
    cached = pixels[: len(kept)].clone() if pixels is not None and skipped else pixels
    return DecodedSet(kept, skipped, moments[: len(kept)], cached)


def channel_statistics(
    paths: Sequence[str | os.PathLike], card: ModelCard, limit: int = 2000, cancel: CancelToken | None = None
) -> Generator[Progress, None, tuple[tuple[float, ...], tuple[float, ...], int]]:
    """Per-channel mean and std of images after the card's preprocessing, as training computes them.

    At most ``limit`` images, evenly spread over ``paths``. Yields Progress; returns (mean, std, images used).
    """
    from pathlib import Path

    step = max(1, -(-len(paths) // limit))
    samples = [Sample(Path(path), ()) for path in list(paths)[::step]]
    decoded = yield from decode_samples(samples, card, in_memory=False, cancel=cancel)
    if not decoded.samples:
        raise DatasetError(f"none of the {len(samples)} images could be decoded")
    mean, std = decoded.channel_stats()
    return mean, std, len(decoded.samples)


def ordered_map(function: Callable, items: Sequence, threads: int | None = None, ahead: int = 64) -> Iterator:
    """``function`` over ``items`` in a thread pool, results in order, at most ``ahead`` pending at once.

    Decoders (Pillow, OpenCV, pydicom) release the GIL, so threads overlap the I/O and decoding.
    Closing the iterator early (cancel) waits only for the few tasks already started.
    """
    with ThreadPoolExecutor(
        max_workers=threads or min(8, os.cpu_count() or 1), thread_name_prefix="camviewer-decode"
    ) as pool:
        remaining = iter(items)
        pending = deque(pool.submit(function, item) for item in islice(remaining, ahead))
        try:
            while pending:
                result = pending.popleft().result()
                pending.extend(pool.submit(function, item) for item in islice(remaining, 1))
                yield result
        finally:
            for future in pending:
                future.cancel()


def _decode_one(sample: Sample, card: ModelCard, keep_pixels: bool) -> tuple[np.ndarray, np.ndarray | None] | str:
    """(channel moments, C x (D x) H x W cache values or None) of one preprocessed image or volume, or the reason
    it is unreadable."""
    try:
        if card.volume is not None:
            unit = to_unit_volume(read_volume(sample.path), card).numpy()  # C x D x H x W
        else:
            unit = to_unit_array(read_image(sample.path), card).transpose(2, 0, 1)  # C x H x W
    except ImageError as error:  # VolumeError is one too
        return error.reason
    except Exception as error:  # a decoder bug must not stop a whole dataset: report it with the file
        return f"{type(error).__name__}: {error}"
    wide = unit.reshape(unit.shape[0], -1).astype(np.float64)  # E[x^2] - E[x]^2 loses digits in float32
    moments = np.stack([wide.mean(axis=1), np.square(wide).mean(axis=1)], axis=1)
    if not keep_pixels:
        return moments, None
    return moments, unit.astype(np.float16) if card.volume is not None else np.rint(unit * 255).astype(np.uint8)
