"""The true label of images being browsed, where the data says it: a CSV partition file, or class folders.

The browser shows it next to each image (and, once the model has predicted, whether it got it right).
Nothing is guessed from file names: a label comes from a partition CSV that lists the image (columns
``path,label[,split]``, as training reads it), or from the class folder the image sits in, the way
training reads ``DATA/<class>/`` and ``DATA/{train,val,test}/<class>/`` trees (at least two classes).
A single folder opened on its own is taken as a class folder only inside a split folder or a dataset
``camviewer synth`` made: any folder that merely sits beside others would otherwise get a "label".
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from camviewer.core.data.index import LABEL_SEPARATOR, METADATA_FOLDERS, SPLIT_ALIASES, read_partition_csv
from camviewer.core.errors import DatasetError

SIBLINGS_CHECKED = 50  # entries looked at per sibling folder to see whether it holds images


def folder_labels(folder: str | os.PathLike, images: Sequence[str | os.PathLike]) -> dict[str, str]:
    """{image path: label} for the images of ``folder`` whose label the data gives (others are absent)."""
    folder = Path(folder)
    if not images:
        return {}
    return _csv_labels(folder, images) or _class_folder_labels(folder, images)


def _csv_labels(folder: Path, images: Sequence[str | os.PathLike]) -> dict[str, str]:
    csvs = [path for where in (folder, folder.parent) for path in sorted(_csv_files(where))]
    if not csvs:
        return {}  # most folders: no path resolved, a 10,000-image listing stays as fast as it was
    wanted = {Path(image).resolve(): str(image) for image in images}
    for csv in csvs:
        try:
            index = read_partition_csv(csv, allow_outside=True)  # it only labels the images listed: none is read
        except (DatasetError, OSError, UnicodeDecodeError):
            continue  # not a partition file (e.g. a report, a box list)
        labels = {
            wanted[path]: LABEL_SEPARATOR.join(sample.labels)
            for sample in index.samples
            if (path := sample.path.resolve()) in wanted
        }
        if labels:
            return labels
    return {}


def _csv_files(folder: Path) -> list[Path]:
    try:
        with os.scandir(folder) as entries:  # a plain suffix test: 10,000 names, no pattern matching
            return [Path(entry.path) for entry in entries if entry.name.lower().endswith(".csv") and entry.is_file()]
    except OSError:
        return []


def _class_folder_labels(folder: Path, images: Sequence[str | os.PathLike]) -> dict[str, str]:
    """Images in class sub-folders of ``folder`` (recursive listing), or ``folder`` itself being one class folder."""
    base = os.fspath(folder)
    if all(os.path.dirname(image) == base for image in images):  # a plain listing: is the folder a class?
        return {str(image): folder.name for image in images} if _is_class_folder(folder) else {}
    labels = {}
    for image in images:
        parts = [part for part in Path(image).relative_to(folder).parts[:-1] if part.lower() not in SPLIT_ALIASES]
        if parts and parts[0].lower() not in METADATA_FOLDERS:
            labels[str(image)] = parts[0]
    return labels if len(set(labels.values())) >= 2 else {}


def _is_class_folder(folder: Path) -> bool:
    """``folder`` is one class of a dataset: its parent is a split folder (``train/``...) or was made by
    ``camviewer synth``, and holds at least two class folders with images."""
    from camviewer.core.images import is_image_path

    parent = folder.parent
    name = folder.name.lower()
    if name in SPLIT_ALIASES or name in METADATA_FOLDERS or name.startswith((".", "_")):
        return False
    if parent.name.lower() not in SPLIT_ALIASES and not (parent / "synth.json").is_file():
        return False  # any folder beside others would do otherwise (icons/ next to samples/)
    try:
        siblings = [
            entry.path
            for entry in os.scandir(parent)
            if entry.is_dir() and not entry.name.startswith((".", "_")) and entry.name.lower() not in METADATA_FOLDERS
        ]
    except OSError:
        return False
    with_images = 0
    for sibling in siblings:
        try:
            with os.scandir(sibling) as entries:
                if any(
                    entry.is_file() and is_image_path(entry.path) for _, entry in zip(range(SIBLINGS_CHECKED), entries)
                ):
                    with_images += 1
        except OSError:
            continue
        if with_images >= 2:
            return True
    return False
