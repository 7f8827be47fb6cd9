"""Training and evaluation data: which images, which classes, which split; decoded once, fed to torch.

A dataset is given in one of three ways:

* **Class folders**: ``DATA/<class>/...`` with one sub-folder per class; images are found recursively
  inside each class folder. Sub-folders named ``masks``, ``roi``, ``boxes`` or ``annotations``, hidden
  ones (``.x``) and ones starting with ``_`` hold ground truth or metadata and are *not* classes, so
  the output of ``camviewer synth`` trains as it is. Folders without any image are not classes either.
* **Split-first folders**: ``DATA/{train,val,test}/<class>/...`` (``valid`` and ``validation`` are
  read as ``val``). These splits are used as they are; a missing ``val`` is carved out of ``train``.
* **A CSV partition file** (as in seed 003): columns ``path,label[,split]`` with a header row; paths
  are relative to the CSV's folder (or absolute); several labels joined by ``|`` make the dataset
  multi-label. The ``split`` column is filled on every row or on none.

Without given splits, :func:`assign_splits` makes a stratified, seeded split with scikit-learn; the
run folder keeps it as ``split.csv`` (the same CSV format), so a run can be resumed and its test images
found again. Every image is decoded once during preparation (in a thread pool): this proves it is
readable (unreadable files are skipped and listed, not guessed from extensions), gives per-image
channel moments for the normalisation statistics, and fills an in-memory uint8 cache for datasets
that fit a memory budget. Images go through :func:`camviewer.core.preprocess.to_unit_array` there,
exactly as at inference; augmentations (torchvision transforms v2) act on the [0, 1] tensors after it.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field, replace
from functools import partial
from itertools import islice
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset

from camviewer.core.card import ModelCard
from camviewer.core.atomic import atomic_path
from camviewer.core.errors import DatasetError, ImageError
from camviewer.core.images import list_images, read_image
from camviewer.core.jobs import CancelToken, Progress
from camviewer.core.preprocess import to_unit_array, to_unit_tensor

METADATA_FOLDERS = frozenset({"masks", "roi", "boxes", "annotations"})
SPLIT_ALIASES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}
SPLITS = ("train", "val", "test")
LABEL_SEPARATOR = "|"
AUGMENTATIONS = ("none", "light", "standard")
DEFAULT_CACHE_BYTES = 1536 * 2**20  # decoded uint8 pixels at input size; above this, stream from disk


@dataclass(frozen=True)
class Sample:
    """One image: its file, its label(s) (one unless multi-label) and its split (None: not assigned)."""

    path: Path
    labels: tuple[str, ...]
    split: str | None = None


@dataclass
class DatasetIndex:
    """The images of a dataset and their labels, before any pixel is decoded."""

    source: Path  # the folder or CSV file the user gave
    layout: str  # "class-folders", "split-folders" or "csv"
    class_names: list[str]
    samples: list[Sample]
    positive_class: str | None = None  # from a synth.json beside the data, if any
    ignored_folders: list[str] = field(default_factory=list)
    origin: dict | None = None  # how `camviewer synth` made the data (kind, n, seed, size, shortcut), if it did

    @property
    def multi_label(self) -> bool:
        return any(len(sample.labels) > 1 for sample in self.samples)

    @property
    def has_splits(self) -> bool:
        return bool(self.samples) and all(sample.split for sample in self.samples)

    def in_split(self, split: str | None) -> list[Sample]:
        return list(self.samples) if split in (None, "all") else [s for s in self.samples if s.split == split]

    def class_counts(self, split: str | None = None) -> dict[str, int]:
        counts = Counter(label for sample in self.in_split(split) for label in sample.labels)
        return {name: counts.get(name, 0) for name in self.class_names}


# ----------------------------------------------------------------------------- reading layouts


def scan_dataset(source: str | os.PathLike) -> DatasetIndex:
    """Index a class-folder tree, a split-first tree or a CSV partition file."""
    path = Path(source)
    if path.is_file():
        return read_partition_csv(path)
    if not path.is_dir():
        raise DatasetError(f"{path}: no such folder or CSV file")
    children = _data_folders(path)
    split_folders = {child: SPLIT_ALIASES[child.name.lower()] for child in children if child.name.lower() in SPLIT_ALIASES}
    if split_folders and len(split_folders) == len(children):
        layout, samples, ignored = "split-folders", [], []
        for folder, split in sorted(split_folders.items()):
            found, skipped = _class_folder_samples(folder, split)
            samples += found
            ignored += skipped
    else:
        layout = "class-folders"
        samples, ignored = _class_folder_samples(path, None)
    if not samples:
        raise DatasetError(f"{path}: no images found in class sub-folders (expected {path}/<class>/<image>)")
    names = sorted({label for sample in samples for label in sample.labels})
    origin = synth_origin(path)
    return DatasetIndex(path, layout, names, samples, _synth_positive_class(origin, names), ignored, origin)


def _data_folders(folder: Path) -> list[Path]:
    """Sub-folders that may hold classes: not metadata, not hidden, not starting with '_'."""
    return sorted(
        child for child in folder.iterdir()
        if child.is_dir() and child.name.lower() not in METADATA_FOLDERS and child.name[0] not in "._"
    )


def _class_folder_samples(folder: Path, split: str | None) -> tuple[list[Sample], list[str]]:
    samples, ignored = [], []
    for class_folder in _data_folders(folder):
        images = list_images(class_folder, recursive=True)
        if not images:
            ignored.append(str(class_folder))
        samples += [Sample(image, (class_folder.name,), split) for image in images]
    return samples, ignored


def synth_origin(folder: Path) -> dict | None:
    """The recipe in a synth.json written by `camviewer synth` into ``folder``, if there is one."""
    try:
        info = json.loads((folder / "synth.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict):
        return None
    return {key: info[key] for key in ("generator", "kind", "n", "seed", "size", "shortcut", "positive_class") if key in info}


def _synth_positive_class(origin: dict | None, names: list[str]) -> str | None:
    positive = (origin or {}).get("positive_class")
    return positive if positive in names else None


def read_partition_csv(csv_path: str | os.PathLike) -> DatasetIndex:
    """Read ``path,label[,split]`` rows (header required); ``|`` separates several labels."""
    csv_path = Path(csv_path)
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DatasetError(f"{csv_path}: cannot read the partition file ({error})") from None
    columns = {name.strip().lower(): name for name in (rows[0].keys() if rows else [])}
    if "path" not in columns or "label" not in columns:
        raise DatasetError(f"{csv_path}: a partition file needs a header with 'path' and 'label' columns (and optionally 'split')")
    samples = [_csv_sample(csv_path, number, row, columns) for number, row in enumerate(rows, start=2)]
    if not samples:
        raise DatasetError(f"{csv_path}: the partition file lists no images")
    with_split = sum(sample.split is not None for sample in samples)
    if 0 < with_split < len(samples):
        raise DatasetError(f"{csv_path}: the 'split' column is filled on {with_split} of {len(samples)} rows; fill it on all or none")
    names = sorted({label for sample in samples for label in sample.labels})
    origin = synth_origin(csv_path.parent)
    return DatasetIndex(csv_path, "csv", names, samples, _synth_positive_class(origin, names), origin=origin)


def _csv_sample(csv_path: Path, number: int, row: dict, columns: dict) -> Sample:
    text = (row.get(columns["path"]) or "").strip()
    labels = tuple(part.strip() for part in (row.get(columns["label"]) or "").split(LABEL_SEPARATOR) if part.strip())
    if not text or not labels:
        raise DatasetError(f"{csv_path}, line {number}: a row needs a path and at least one label")
    split = (row.get(columns["split"]) or "").strip().lower() if "split" in columns else ""
    if split and split not in SPLIT_ALIASES:
        raise DatasetError(f"{csv_path}, line {number}: unknown split {split!r}; use train, val or test")
    path = Path(text)
    return Sample(path if path.is_absolute() else csv_path.parent / path, labels, SPLIT_ALIASES.get(split))


def write_split_csv(samples: Sequence[Sample], csv_path: str | os.PathLike) -> Path:
    """Write ``path,label,split`` (paths relative to the CSV's folder where possible), atomically."""
    csv_path = Path(csv_path)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "label", "split"])
    for sample in samples:
        writer.writerow([_relative_to(sample.path, csv_path.parent), LABEL_SEPARATOR.join(sample.labels), sample.split or ""])
    with atomic_path(csv_path) as tmp:
        tmp.write_text(buffer.getvalue(), encoding="utf-8")
    return csv_path


def _relative_to(path: Path, folder: Path) -> str:
    try:
        return Path(os.path.relpath(Path(path).resolve(), folder.resolve())).as_posix()
    except ValueError:  # another drive on Windows: keep it absolute
        return str(Path(path).resolve())


# ----------------------------------------------------------------------------- splitting


def assign_splits(index: DatasetIndex, val_fraction: float, test_fraction: float = 0.0, seed: int = 0) -> DatasetIndex:
    """Give every sample a split: the dataset's own, else a stratified seeded train/val(/test) split.

    A dataset with its own splits but no validation images gets ``val_fraction`` of its training
    images as validation. Stratification uses the label (the label set, for multi-label data) and
    falls back to a plain random split when a class is too small to be spread over every split.
    """
    if not 0.0 <= test_fraction < 1.0 or not 0.0 <= val_fraction < 1.0 or val_fraction + test_fraction >= 1.0:
        raise DatasetError(f"split fractions must be in [0, 1) and sum below 1 (val {val_fraction}, test {test_fraction})")
    samples = list(index.samples)
    if index.has_splits:
        if any(s.split == "val" for s in samples) or val_fraction == 0:
            return index
        train = [i for i, s in enumerate(samples) if s.split == "train"]
        return _with_splits(index, samples, {i: "val" for i in _split_off(train, samples, val_fraction, seed)})
    everything = list(range(len(samples)))
    test = _split_off(everything, samples, test_fraction, seed) if test_fraction > 0 else []
    rest = sorted(set(everything) - set(test))
    val = _split_off(rest, samples, val_fraction / (1.0 - test_fraction), seed) if val_fraction > 0 else []
    chosen = {i: "train" for i in everything} | {i: "val" for i in val} | {i: "test" for i in test}
    return _with_splits(index, samples, chosen)


def _split_off(indices: list[int], samples: list[Sample], fraction: float, seed: int) -> list[int]:
    """A stratified random ``fraction`` of ``indices`` (scikit-learn's train_test_split)."""
    from sklearn.model_selection import train_test_split

    if len(indices) < 2:
        raise DatasetError(f"{len(indices)} image(s) cannot be split into training and held-out parts")
    strata = [LABEL_SEPARATOR.join(sorted(samples[i].labels)) for i in indices]
    try:
        _, held_out = train_test_split(indices, test_size=fraction, random_state=seed, stratify=strata)
    except ValueError:  # a class with a single image, or fewer held-out images than classes
        _, held_out = train_test_split(indices, test_size=fraction, random_state=seed)
    return sorted(held_out)


def _with_splits(index: DatasetIndex, samples: list[Sample], chosen: dict[int, str]) -> DatasetIndex:
    updated = [replace(sample, split=chosen.get(i, sample.split)) for i, sample in enumerate(samples)]
    return replace(index, samples=updated)


# ----------------------------------------------------------------------------- decoding and checking


@dataclass
class DecodedSet:
    """The readable samples, in order, with what decoding them gave."""

    samples: list[Sample]
    skipped: list[tuple[str, str]]  # (path, reason) of files that could not be decoded
    moments: np.ndarray  # N x C x 2: per-image channel mean and mean of squares, after preprocessing
    pixels: torch.Tensor | None  # N x C x H x W uint8 when cached in memory, else None

    def channel_stats(self, split: str = "train") -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Per-channel mean and std over the images of ``split`` (all images share the input size)."""
        rows = [i for i, sample in enumerate(self.samples) if sample.split == split] or list(range(len(self.samples)))
        mean = self.moments[rows, :, 0].mean(axis=0)
        variance = self.moments[rows, :, 1].mean(axis=0) - mean**2
        std = np.sqrt(np.maximum(variance, 1e-6))  # a constant channel must not divide by zero
        return tuple(float(v) for v in mean), tuple(float(v) for v in std)


def cache_bytes(count: int, card: ModelCard) -> int:
    return count * card.channels * card.input_size[0] * card.input_size[1]


def decode_samples(
    samples: Sequence[Sample],
    card: ModelCard,
    in_memory: bool,
    threads: int | None = None,
    cancel: CancelToken | None = None,
) -> Generator[Progress, None, DecodedSet]:
    """Decode every sample once (verifying it), yielding Progress; returns a :class:`DecodedSet`."""
    total = len(samples)
    pixels = torch.empty((total, card.channels, *card.input_size), dtype=torch.uint8) if in_memory else None
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
                yield Progress(done, total, f"checked {done}/{total} images, {len(skipped)} unreadable")
    cached = pixels[: len(kept)].clone() if pixels is not None and skipped else pixels
    return DecodedSet(kept, skipped, moments[: len(kept)], cached)


def ordered_map(function: Callable, items: Sequence, threads: int | None = None, ahead: int = 64) -> Iterator:
    """``function`` over ``items`` in a thread pool, results in order, at most ``ahead`` pending at once.

    Decoders (Pillow, OpenCV, pydicom) release the GIL, so threads overlap the I/O and decoding.
    Closing the iterator early (cancel) waits only for the few tasks already started.
    """
    with ThreadPoolExecutor(max_workers=threads or min(8, os.cpu_count() or 1), thread_name_prefix="camviewer-decode") as pool:
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
    """(channel moments, uint8 CxHxW or None) of one preprocessed image, or the reason it is unreadable."""
    try:
        unit = to_unit_array(read_image(sample.path).pixels, card)
    except ImageError as error:
        return error.reason
    except Exception as error:  # a decoder bug must not stop a whole dataset: report it with the file
        return f"{type(error).__name__}: {error}"
    wide = unit.astype(np.float64)  # E[x^2] - E[x]^2 loses digits in float32
    moments = np.stack([wide.mean(axis=(0, 1)), np.square(wide).mean(axis=(0, 1))], axis=1)
    return moments, np.rint(unit * 255).astype(np.uint8).transpose(2, 0, 1) if keep_pixels else None


# ----------------------------------------------------------------------------- torch datasets


def build_augmentation(preset: str, channels: int):
    """A per-image torchvision v2 transform on [0, 1] tensors, or None for "none".

    ``light``: horizontal and vertical flips (microscopy has no up or left; for radiographs, where
    laterality matters, prefer ``none``). ``standard``: flips, rotations of up to 10 degrees and a
    mild brightness/contrast (and, in colour, saturation/hue) jitter. The border crop is not an
    augmentation: it is the card's ``border_crop``, applied identically in training and inference.
    """
    from torchvision.transforms import v2

    if preset not in AUGMENTATIONS:
        raise DatasetError(f"unknown augmentation {preset!r}; choose one of {', '.join(AUGMENTATIONS)}")
    if preset == "none":
        return None
    flips = [v2.RandomHorizontalFlip(), v2.RandomVerticalFlip()]
    if preset == "light":
        return v2.Compose(flips)
    colour = {"saturation": 0.1, "hue": 0.02} if channels == 3 else {}
    return v2.Compose([*flips, v2.RandomRotation(10), v2.ColorJitter(brightness=0.15, contrast=0.15, **colour)])


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
    """Decoded uint8 images in memory. ``__getitems__`` lets the DataLoader take a batch in one slice."""

    def __init__(self, pixels: torch.Tensor, targets: torch.Tensor, augment=None) -> None:
        self.pixels, self.targets, self.augment = pixels, targets, augment

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        images, targets = self.__getitems__([index])
        return images[0], targets[0]

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        images = self.pixels[indices].float().div_(255.0)
        if self.augment is not None:  # v2 draws one set of parameters per call: call it per image
            images = torch.stack([self.augment(image) for image in images])
        return images, self.targets[indices]


class StreamedImages(TorchDataset):
    """Images decoded from disk on demand, through the same preprocessing as inference."""

    def __init__(self, paths: Sequence[Path], targets: torch.Tensor, card: ModelCard, augment=None) -> None:
        self.paths, self.targets, self.card, self.augment = list(paths), targets, card, augment

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        try:
            image = to_unit_tensor(read_image(self.paths[index]).pixels, self.card)
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
) -> DataLoader:
    """A DataLoader over either dataset; in-memory batches come pre-stacked from ``__getitems__``.

    A shuffled (training) loader drops a last batch of one image: BatchNorm cannot train on it.
    """
    cached = isinstance(dataset, CachedImages)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        drop_last=shuffle and len(dataset) % batch_size == 1 and len(dataset) > 1,
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


# ----------------------------------------------------------------------------- summary


@dataclass
class DatasetSummary:
    """What the user should see before training: classes, counts per split, imbalance, skipped files."""

    source: str
    layout: str
    class_names: list[str]
    multi_label: bool
    counts: dict[str, dict[str, int]]  # split -> class -> images
    skipped: list[tuple[str, str]]
    in_memory: bool
    cache_megabytes: float
    imbalance: float | None  # largest / smallest training class count (None if a class has none)
    ignored_folders: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """A few lines of plain text for the terminal."""
        header = f"{self.source} ({self.layout}{', multi-label' if self.multi_label else ''}): {len(self.class_names)} classes"
        out = [header]
        width = max(len(name) for name in self.class_names)
        splits = [split for split in SPLITS if sum(self.counts.get(split, {}).values())]
        out.append(f"  {'class':<{width}}  " + "  ".join(f"{split:>6}" for split in splits))
        for name in self.class_names:
            out.append(f"  {name:<{width}}  " + "  ".join(f"{self.counts[split][name]:>6}" for split in splits))
        if self.imbalance is not None and self.imbalance >= 1.5:
            out.append(f"  class imbalance: the largest training class is {self.imbalance:.1f}x the smallest")
        elif self.imbalance is None:
            out.append("  warning: a class has no training images")
        if self.ignored_folders:
            out.append(f"  folders without images, not classes: {', '.join(self.ignored_folders)}")
        where = f"in memory ({self.cache_megabytes:.0f} MB)" if self.in_memory else "streamed from disk"
        out.append(f"  images decoded and checked; training data {where}")
        if self.skipped:
            out.append(f"  skipped {len(self.skipped)} unreadable file(s):")
            out += [f"    {path}: {reason}" for path, reason in self.skipped[:10]]
            out += [f"    ... and {len(self.skipped) - 10} more"] if len(self.skipped) > 10 else []
        return out


def summarize(index: DatasetIndex, decoded: DecodedSet) -> DatasetSummary:
    usable = replace(index, samples=decoded.samples)
    counts = {split: usable.class_counts(split) for split in SPLITS}
    train_counts = list(counts["train"].values())
    imbalance = max(train_counts) / min(train_counts) if min(train_counts) > 0 else None
    megabytes = 0.0 if decoded.pixels is None else decoded.pixels.numel() / 2**20
    return DatasetSummary(
        str(index.source), index.layout, index.class_names, index.multi_label, counts, decoded.skipped,
        decoded.pixels is not None, megabytes, imbalance, index.ignored_folders,
    )
