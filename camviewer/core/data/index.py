"""Training and evaluation data: which images, which classes, which split; decoded once, fed to torch.

A dataset is given in one of three ways:

A dataset holds 2-D images, or volumes (NIfTI files, DICOM series folders, multi-frame DICOM) for a 3-D
model: ``scan_dataset(..., volumes=True)`` lists each class folder's volumes with
:func:`camviewer.core.volumes.list_volumes` instead of its images (a DICOM series is one sample, its folder).

* **Class folders**: ``DATA/<class>/...`` with one sub-folder per class; images are found recursively
  inside each class folder. Sub-folders named ``masks``, ``roi``, ``boxes`` or ``annotations``, hidden
  ones (``.x``) and ones starting with ``_`` hold ground truth or metadata and are *not* classes, so
  the output of ``camviewer synth`` trains as it is. Folders without any image are not classes either.
* **Split-first folders**: ``DATA/{train,val,test}/<class>/...`` (``valid`` and ``validation`` are
  read as ``val``). These splits are used as they are; a missing ``val`` is carved out of ``train``.
* **A CSV partition file** (as in seed 003): columns ``path,label[,split]`` with a header row; paths
  are relative to the CSV's folder (or absolute); several labels joined by ``|`` make the dataset
  multi-label. The ``split`` column is filled on every row or on none. A file that names images outside
  its own folder (``../x.png``, ``/etc/x``) is refused (:class:`~camviewer.core.errors.OutsidePartitionFolder`)
  unless that is allowed: a partition file received with a dataset must not make camviewer read any file
  on the machine. The run's own ``split.csv`` (beside the run, naming the data) is always allowed.

Without given splits, :func:`assign_splits` makes a stratified, seeded split with scikit-learn; the
run folder keeps it as ``split.csv`` (the same CSV format), so a run can be resumed and its test images
found again. Every image is decoded once during preparation (in a thread pool): this proves it is
readable (unreadable files are skipped and listed, not guessed from extensions), gives per-image
channel moments for the normalisation statistics, and fills an in-memory uint8 cache for datasets
that fit a memory budget. Images go through :func:`camviewer.core.preprocess.to_unit_array` there,
exactly as at inference; augmentations (torchvision transforms v2) act on the [0, 1] tensors after it.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from camviewer.core import csvfiles
from camviewer.core.atomic import atomic_path
from camviewer.core.errors import DatasetError, OutsidePartitionFolder
from camviewer.core.images import list_images

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
    volumes: bool = False  # the samples are volumes (for a 3-D model), not 2-D images

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


def scan_dataset(source: str | os.PathLike, allow_outside: bool = False, volumes: bool = False) -> DatasetIndex:
    """Index a class-folder tree, a split-first tree or a CSV partition file (``allow_outside``: see the module),
    of images or of ``volumes``."""
    path = Path(source)
    if path.is_file():
        return replace(read_partition_csv(path, allow_outside), volumes=volumes)
    if not path.is_dir():
        raise DatasetError(f"{path}: no such folder or CSV file")
    children = _data_folders(path)
    split_folders = {
        child: SPLIT_ALIASES[child.name.lower()] for child in children if child.name.lower() in SPLIT_ALIASES
    }
    if split_folders and len(split_folders) == len(children):
        layout, samples, ignored = "split-folders", [], []
        for folder, split in sorted(split_folders.items()):
            found, skipped = _class_folder_samples(folder, split, volumes)
            samples += found
            ignored += skipped
    else:
        layout = "class-folders"
        samples, ignored = _class_folder_samples(path, None, volumes)
    if not samples:
        kind = "volume" if volumes else "image"
        raise DatasetError(f"{path}: no {kind}s found in class sub-folders (expected {path}/<class>/<{kind}>)")
    names = sorted({label for sample in samples for label in sample.labels})
    origin = synth_origin(path)
    positive = _synth_positive_class(origin, names)
    return DatasetIndex(path, layout, names, samples, positive, ignored, origin, volumes)


def _data_folders(folder: Path) -> list[Path]:
    """Sub-folders that may hold classes: not metadata, not hidden, not starting with '_'."""
    return sorted(
        child
        for child in folder.iterdir()
        if child.is_dir() and child.name.lower() not in METADATA_FOLDERS and child.name[0] not in "._"
    )


def _class_folder_samples(folder: Path, split: str | None, volumes: bool) -> tuple[list[Sample], list[str]]:
    samples, ignored = [], []
    for class_folder in _data_folders(folder):
        if volumes:
            from camviewer.core.volumes import list_volumes

            images = list(dict.fromkeys(source.path for source in list_volumes(class_folder)))  # a folder once
        else:
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
    return {
        key: info[key]
        for key in ("generator", "kind", "n", "seed", "size", "shortcut", "positive_class")
        if key in info
    }


def _synth_positive_class(origin: dict | None, names: list[str]) -> str | None:
    positive = (origin or {}).get("positive_class")
    return positive if positive in names else None


def read_partition_csv(csv_path: str | os.PathLike, allow_outside: bool = False) -> DatasetIndex:
    """Read ``path,label[,split]`` rows (header required); ``|`` separates several labels.

    Paths that lie outside the CSV's folder raise OutsidePartitionFolder unless ``allow_outside``.
    """
    csv_path = Path(csv_path)
    try:
        with csv_path.open(newline="", encoding="utf-8-sig", errors="surrogateescape") as handle:
            rows = csvfiles.dict_rows(handle)
    except (OSError, UnicodeDecodeError, csvfiles.Error) as error:
        raise DatasetError(f"{csv_path}: cannot read the partition file ({error})") from None
    columns = {name.strip().lower(): name for name in (rows[0].keys() if rows else [])}
    if "path" not in columns or "label" not in columns:
        raise DatasetError(
            f"{csv_path}: a partition file needs a header with 'path' and 'label' columns (and optionally 'split')"
        )
    samples = [_csv_sample(csv_path, number, row, columns) for number, row in enumerate(rows, start=2)]
    if not samples:
        raise DatasetError(f"{csv_path}: the partition file lists no images")
    if not allow_outside:
        outside = outside_folder(csv_path.parent, [sample.path for sample in samples])
        if outside:
            raise OutsidePartitionFolder(csv_path, outside)
    with_split = sum(sample.split is not None for sample in samples)
    if 0 < with_split < len(samples):
        raise DatasetError(
            f"{csv_path}: the 'split' column is filled on {with_split} of {len(samples)} rows; fill it on all or none"
        )
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


def outside_folder(folder: Path, paths: Sequence[Path]) -> list[str]:
    """The paths that do not lie in ``folder`` once ``..`` is resolved (by name: links inside are not followed)."""
    root = os.path.abspath(folder)
    inside = root.rstrip(os.sep) + os.sep
    return [str(path) for path in paths if not os.path.abspath(path).startswith(inside)]


def write_split_csv(samples: Sequence[Sample], csv_path: str | os.PathLike) -> Path:
    """Write ``path,label,split`` (paths relative to the CSV's folder where possible), atomically."""
    csv_path = Path(csv_path)
    rows = [
        [_relative_to(sample.path, csv_path.parent), LABEL_SEPARATOR.join(sample.labels), sample.split or ""]
        for sample in samples
    ]
    with atomic_path(csv_path) as tmp:
        tmp.write_text(
            csvfiles.csv_text([["path", "label", "split"], *rows]), encoding="utf-8", errors="surrogateescape"
        )
    return csv_path


def _relative_to(path: Path, folder: Path) -> str:
    try:
        return Path(os.path.relpath(Path(path).resolve(), folder.resolve())).as_posix()
    except ValueError:  # another drive on Windows: keep it absolute
        return str(Path(path).resolve())


def assign_splits(index: DatasetIndex, val_fraction: float, test_fraction: float = 0.0, seed: int = 0) -> DatasetIndex:
    """Give every sample a split: the dataset's own, else a stratified seeded train/val(/test) split.

    A dataset with its own splits but no validation images gets ``val_fraction`` of its training
    images as validation. Stratification uses the label (the label set, for multi-label data) and
    falls back to a plain random split when a class is too small to be spread over every split.
    """
    if not 0.0 <= test_fraction < 1.0 or not 0.0 <= val_fraction < 1.0 or val_fraction + test_fraction >= 1.0:
        raise DatasetError(
            f"split fractions must be in [0, 1) and sum below 1 (val {val_fraction}, test {test_fraction})"
        )
    samples = list(index.samples)
    if index.has_splits:
        if any(s.split == "val" for s in samples) or val_fraction == 0:
            return index
        train = [i for i, s in enumerate(samples) if s.split == "train"]
        return _with_splits(index, samples, dict.fromkeys(_split_off(train, samples, val_fraction, seed), "val"))
    everything = list(range(len(samples)))
    test = _split_off(everything, samples, test_fraction, seed) if test_fraction > 0 else []
    rest = sorted(set(everything) - set(test))
    val = _split_off(rest, samples, val_fraction / (1.0 - test_fraction), seed) if val_fraction > 0 else []
    chosen = dict.fromkeys(everything, "train") | dict.fromkeys(val, "val") | dict.fromkeys(test, "test")
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
