"""Worker tasks of the image browser: listing a folder, a run's held-out images, what a drop opens.

Each imports core when it runs, so importing this module costs nothing (see :mod:`.tasks`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Listing:
    """A folder's images and volumes (a DICOM series is one entry; its sub-folders' too when recursive), with the
    true labels the data gives."""

    paths: list[Path]
    below: int  # images in sub-folders, counted (up to a limit) when a plain listing found none directly
    labels: dict[str, str]  # image path -> label from class folders or a partition CSV


def list_folder(folder: str, recursive: bool = False) -> Listing:
    from camviewer.core.data.folder_labels import folder_labels
    from camviewer.core.images.listing import count_images_below
    from camviewer.gui.volume.tasks import list_entries

    paths = list(map(Path, list_entries(folder, recursive)))
    below = count_images_below(folder) if not paths and not recursive else 0
    return Listing(paths, below, folder_labels(folder, paths))


def labels_of(paths: Sequence[str | Path]) -> dict[str, str]:
    """True labels of a list of images (dropped files): each one's folder as a class folder, where it is one."""
    from camviewer.core.data.folder_labels import folder_labels

    labels: dict[str, str] = {}
    by_folder: dict[Path, list[Path]] = {}
    for path in map(Path, paths):
        by_folder.setdefault(path.parent, []).append(path)
    for folder, images in by_folder.items():
        labels.update(folder_labels(folder, images))
    return labels


@dataclass
class HeldOut:
    """The images a training run kept out of training: its test split, else its validation split."""

    split: str  # "test" or "val"
    paths: list[Path]
    labels: dict[str, str]


def held_out_images(checkpoint: str) -> HeldOut | None:
    """From the split.csv beside a run's checkpoint; None when it has none (not a run, or nothing held out)."""
    from camviewer.core.data.index import LABEL_SEPARATOR, read_partition_csv

    split_file = Path(checkpoint).parent / "split.csv"
    if not split_file.is_file():
        return None
    index = read_partition_csv(split_file, allow_outside=True)  # the run's own file, naming the data
    for split in ("test", "val"):
        samples = index.in_split(split)
        if samples:
            labels = {str(sample.path): LABEL_SEPARATOR.join(sample.labels) for sample in samples}
            return HeldOut(split, [sample.path for sample in samples], labels)
    return None


@dataclass
class Gathered:
    """What a drop or a command line opens: one folder as such, or a list of images; plus what was refused."""

    folder: Path | None
    images: list[Path]
    unsupported: list[Path]
    title: str
    labels: dict[str, str] = field(default_factory=dict)  # true labels of ``images``, where their folders say


def gather_images(paths: Sequence[str | Path]) -> Gathered:
    """Sort paths into folders, image (or NIfTI) files and the rest; several items become one list of images."""
    from camviewer.gui.volume.tasks import is_listed_file, list_entries

    folders, images, unsupported = [], [], []
    for path in map(Path, paths):
        if path.is_dir():
            folders.append(path)
        elif path.is_file() and is_listed_file(path):
            images.append(path)
        else:
            unsupported.append(path)
    if len(folders) == 1 and not images:
        return Gathered(folders[0], [], unsupported, folders[0].name)
    for folder in folders:
        images.extend(map(Path, list_entries(folder)))
    title = f"{len(paths) - len(unsupported)} opened item{'s' if len(paths) - len(unsupported) != 1 else ''}"
    return Gathered(None, images, unsupported, title, labels_of(images))
