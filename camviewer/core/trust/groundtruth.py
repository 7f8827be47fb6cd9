"""Ground-truth regions for localization scores: mask folders, box CSVs (ours and ChestX-ray14's), COCO JSON.

Every source answers one question: for an image (by its path relative to the dataset root),
which regions, with which labels? Boxes are (x, y, w, h) in pixels of the original image.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from camviewer.core.errors import AmbiguousGroundTruth, DatasetError, ImageError
from camviewer.core.images import read_image
from camviewer.core.trust.localization import Box, boxes_to_mask

MASK_SUFFIXES = (".png", ".tif", ".tiff", ".bmp", ".jpg", ".jpeg")
# ChestX-ray14's BBox_List_2017.csv: "Image Index,Finding Label,Bbox [x,y,w,h],,," (x/y/w/h spread over 4 columns)
CXR14_COLUMNS = ("Image Index", "Finding Label")


@dataclass
class Region:
    """The ground truth of one image: a mask, or boxes; ``label`` is the class it belongs to, if known."""

    mask: np.ndarray | None = None
    boxes: list[Box] = field(default_factory=list)
    label: str | None = None

    def as_mask(self, shape: tuple[int, int]) -> np.ndarray:
        if self.mask is not None:
            return self.mask
        return boxes_to_mask(self.boxes, shape)


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
    """Masks mirroring the images: ``masks/<relative dir>/<stem>.<png|tif|...>``; non-zero = region."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise DatasetError(f"{self.folder}: mask folder not found")

    def region(self, key: str) -> Region | None:
        relative = PurePosixPath(key)
        for suffix in MASK_SUFFIXES:
            candidate = self.folder / relative.parent / f"{relative.stem}{suffix}"
            if candidate.is_file():
                try:
                    pixels = read_image(candidate).pixels
                except ImageError as error:
                    raise DatasetError(f"{candidate}: unreadable mask ({error.reason})") from None
                mask = (pixels.max(axis=2) if pixels.ndim == 3 else pixels) > 0
                label = relative.parent.name or None
                return Region(mask=mask, label=label)
        return None


class BoxTable:
    """Boxes per image from ``path,x,y,w,h,label`` CSV, ChestX-ray14's BBox_List, or COCO JSON."""

    def __init__(self, boxes: dict[str, list[tuple[Box, str | None]]]) -> None:
        self.boxes = boxes
        # Files named without folders (ChestX-ray14) match any image of that name; paths with
        # folders must match exactly (class folders often reuse file names).
        self.by_name = {key: items for key, items in boxes.items() if "/" not in key}

    def region(self, key: str) -> Region | None:
        items = self.boxes.get(key) or self.by_name.get(PurePosixPath(key).name)
        if not items:
            return None
        labels = {label for _, label in items}
        return Region(boxes=[box for box, _ in items], label=labels.pop() if len(labels) == 1 else None)

    @classmethod
    def from_csv(cls, path: str | Path) -> BoxTable:
        path = Path(path)
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
        if not rows:
            raise DatasetError(f"{path}: empty boxes file")
        header = [h.strip() for h in rows[0]]
        if tuple(header[:2]) == CXR14_COLUMNS:
            parse = _cxr14_row
        elif [h.lower() for h in header[:6]] == ["path", "x", "y", "w", "h", "label"]:
            parse = _camviewer_row
        else:
            raise DatasetError(f"{path}: expected columns path,x,y,w,h,label or ChestX-ray14's BBox_List layout")
        boxes: dict[str, list] = defaultdict(list)
        for number, row in enumerate(rows[1:], start=2):
            if not any(cell.strip() for cell in row):
                continue
            try:
                key, box, label = parse(row)
            except (ValueError, IndexError):
                raise DatasetError(f"{path}, line {number}: cannot read a box from {row}") from None
            boxes[key].append((box, label))
        return cls(dict(boxes))

    @classmethod
    def from_coco(cls, path: str | Path) -> BoxTable:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
            files = {image["id"]: image["file_name"] for image in data["images"]}
            names = {category["id"]: category["name"] for category in data.get("categories", [])}
            boxes: dict[str, list] = defaultdict(list)
            for annotation in data["annotations"]:
                x, y, w, h = (int(round(v)) for v in annotation["bbox"])
                label = names.get(annotation.get("category_id"))
                boxes[PurePosixPath(files[annotation["image_id"]]).as_posix()].append(((x, y, w, h), label))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise DatasetError(f"{path}: not a COCO annotation file ({type(error).__name__}: {error})") from None
        return cls(dict(boxes))


def _camviewer_row(row: list[str]) -> tuple[str, Box, str | None]:
    x, y, w, h = (int(round(float(v))) for v in row[1:5])
    return PurePosixPath(row[0].strip().replace("\\", "/")).as_posix(), (x, y, w, h), row[5].strip() or None


def _cxr14_row(row: list[str]) -> tuple[str, Box, str | None]:
    x, y, w, h = (int(round(float(v))) for v in row[2:6])
    return row[0].strip(), (x, y, w, h), row[1].strip() or None


def load_ground_truth(masks: str | Path | None = None, boxes: str | Path | None = None, coco: str | Path | None = None):
    """Exactly one source: a mask folder, a boxes CSV or a COCO JSON."""
    given = [kind for kind, source in zip(AmbiguousGroundTruth.KINDS, (masks, boxes, coco)) if source is not None]
    if len(given) != 1:
        raise AmbiguousGroundTruth(given)
    if masks is not None:
        return MaskFolder(masks)
    if boxes is not None:
        return BoxTable.from_csv(boxes)
    return BoxTable.from_coco(coco)
