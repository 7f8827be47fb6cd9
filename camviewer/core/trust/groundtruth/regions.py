"""Regions of one image and the two kinds of source that hold them: mask folders and box tables.

Every source answers one question: for an image (by its path relative to the dataset root), which
regions, with which labels? Boxes are (x, y, w, h) in pixels of the original image.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from camviewer.core.errors import AnnotationError, DatasetError, ImageError
from camviewer.core.images import read_image
from camviewer.core.trust.localization import Box, boxes_to_mask
from camviewer.core.volumes import VolumeSource, is_nifti_path, read_volume

MASK_SUFFIXES = (".png", ".tif", ".tiff", ".bmp", ".jpg", ".jpeg")
VOLUME_MASK_SUFFIXES = (".nii.gz", ".nii")  # masks of volumes, on the volume's voxel grid


@dataclass
class Region:
    """The ground truth of one image: a mask, or boxes with one label each (None when the file has none).

    ``label`` is the label shared by the mask or by every box, else None.
    """

    mask: np.ndarray | None = None
    boxes: list[Box] = field(default_factory=list)
    label: str | None = None
    box_labels: list[str | None] = field(default_factory=list)

    def as_mask(self, shape: tuple[int, int]) -> np.ndarray:
        if self.mask is not None:
            return self.mask
        return boxes_to_mask(self.boxes, shape)

    def by_label(self) -> dict[str | None, Region]:
        """One region per label, boxes grouped (a mask, or boxes of one label, are one region)."""
        labels = list(dict.fromkeys(self.box_labels))
        if self.mask is not None or len(labels) <= 1:
            return {self.label: self}
        return {
            label: Region(
                boxes=[b for b, other in zip(self.boxes, self.box_labels) if other == label],
                label=label,
                box_labels=[label] * self.box_labels.count(label),
            )
            for label in labels
        }


def relative_key(path: str | Path, root: str | Path | None) -> str:
    """Forward-slash path relative to the dataset root (or the bare file name without a root)."""
    path = Path(path)
    if root is not None:
        try:
            return PurePosixPath(path.resolve().relative_to(Path(root).resolve())).as_posix()
        except ValueError:
            pass
    return path.name


class MaskFolder:
    """Masks mirroring the images: ``masks/<relative dir>/<stem>.<png|tif|...>``; non-zero = region.

    A volume's mask is a NIfTI file on the same voxel grid, ``<stem>.nii.gz`` or ``<stem>.nii``, where a NIfTI
    volume's stem drops its extension (``case.nii.gz`` -> ``case``) and a DICOM series folder's is its name.
    """

    description = "masks"

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise DatasetError(f"{self.folder}: mask folder not found")
        self.description = f"masks in {self.folder.name}/"

    def _file(self, key: str) -> Path | None:
        relative = PurePosixPath(key)
        volume_stem = VolumeSource(Path(relative.name), "").stem
        candidates = [self.folder / relative.parent / f"{volume_stem}{suffix}" for suffix in VOLUME_MASK_SUFFIXES]
        candidates += [self.folder / relative.parent / f"{relative.stem}{suffix}" for suffix in MASK_SUFFIXES]
        return next((candidate for candidate in candidates if candidate.is_file()), None)

    def region(self, key: str) -> Region | None:
        path = self._file(key)
        if path is None:
            return None
        try:
            if is_nifti_path(path):
                mask = read_volume(path).array > 0
            else:
                pixels = read_image(path).pixels
                mask = (pixels.max(axis=2) if pixels.ndim == 3 else pixels) > 0
        except ImageError as error:  # VolumeError is one too
            raise AnnotationError(path, f"unreadable mask ({error.reason})") from None
        return Region(mask=mask, label=PurePosixPath(key).parent.name or None)

    def labels_of(self, key: str) -> list[str | None] | None:
        """The labels of an image's regions, without reading them (None: no mask for this image)."""
        return None if self._file(key) is None else [PurePosixPath(key).parent.name or None]

    def labels(self) -> Counter:
        """Masks per label (the name of the folder holding them; masks at the top have none)."""
        return Counter(
            path.parent.name if path.parent != self.folder else None
            for path in self.folder.rglob("*")
            if path.suffix.lower() in MASK_SUFFIXES or is_nifti_path(path)
        )


BoxItem = tuple[Box | None, str | None]  # a box and its label; no box: the image is listed as having none


class BoxTable:
    """Boxes per image, read from a boxes CSV, COCO JSON or Pascal VOC XML (see the package's readers).

    Keys are the paths the file gives. An image matches its exact relative path; failing that, a key
    without folders matches any image of that file name, and a key without an extension any image of
    that stem (class folders often reuse file names, so keys with folders must match exactly).
    """

    def __init__(self, boxes: dict[str, list[BoxItem]], description: str = "boxes") -> None:
        self.boxes = boxes
        self.by_name = {key: items for key, items in boxes.items() if "/" not in key}
        self.by_stem = {key: items for key, items in self.by_name.items() if not PurePosixPath(key).suffix}
        self.description = description
        self.layout = None  # a box CSV's ColumnLayout: what was understood

    def items(self, key: str) -> list[BoxItem] | None:
        name = PurePosixPath(key)
        return self.boxes.get(key) or self.by_name.get(name.name) or self.by_stem.get(name.stem)

    def region(self, key: str) -> Region | None:
        items = self.items(key)
        if items is None:
            return None
        listed = [(box, label) for box, label in items if box is not None]
        labels = {label for _, label in listed} or {label for _, label in items}
        return Region(
            boxes=[box for box, _ in listed],
            label=labels.pop() if len(labels) == 1 else None,
            box_labels=[label for _, label in listed],
        )

    def labels_of(self, key: str) -> list[str | None] | None:
        """The labels of an image's boxes, in order (None: the image is not in the table)."""
        items = self.items(key)
        if items is None:
            return None
        return list(dict.fromkeys(label for box, label in items if box is not None)) or [items[0][1]]

    def labels(self) -> Counter:
        """Boxes per label."""
        return Counter(label for items in self.boxes.values() for box, label in items if box is not None)

    def summary(self) -> str:
        """'984 boxes on 880 images; labels: Atelectasis 180, Cardiomegaly 146, ...'"""
        boxed = sum(any(box is not None for box, _ in items) for items in self.boxes.values())
        counts = self.labels()
        text = f"{sum(counts.values()):,} boxes on {boxed:,} images"
        if len(self.boxes) > boxed:
            text += f", {len(self.boxes) - boxed:,} listed without a box"
        named = [f"{label} {count}" for label, count in counts.most_common() if label is not None]
        return text + (f"; labels: {', '.join(named)}" if named else "; no labels")
