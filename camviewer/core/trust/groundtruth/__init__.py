"""Ground-truth regions for localization scores, read from the files people have.

- mask folders mirroring the images (``MaskFolder``),
- box CSVs with any common header, ChestX-ray14's ``BBox_List_2017.csv`` included (``box_csv``),
- COCO JSON and folders of Pascal VOC XML (``coco_voc``).

Each gives a source with ``region(key) -> Region | None`` (key: the image's path relative to the
dataset root), ``labels()`` (the labels it uses, counted) and ``description`` (what was understood).
Labels are kept as the file writes them; matching them to a model's classes is the label mapping's job.
"""

from __future__ import annotations

from pathlib import Path

from camviewer.core.errors import AmbiguousGroundTruth
from camviewer.core.trust.groundtruth.box_csv import ColumnLayout, describe_columns, parse_columns, read_box_csv
from camviewer.core.trust.groundtruth.coco_voc import read_coco, read_voc_folder
from camviewer.core.trust.groundtruth.regions import BoxTable, MaskFolder, Region, relative_key

__all__ = [
    "BoxTable",
    "ColumnLayout",
    "MaskFolder",
    "Region",
    "describe_columns",
    "load_ground_truth",
    "parse_columns",
    "read_box_csv",
    "read_coco",
    "read_voc_folder",
    "relative_key",
]


def load_ground_truth(
    masks: str | Path | None = None,
    boxes: str | Path | None = None,
    coco: str | Path | None = None,
    voc: str | Path | None = None,
    columns: dict[str, str] | None = None,
) -> MaskFolder | BoxTable:
    """Exactly one source: a mask folder, a boxes CSV (``columns`` overrides its detected columns),
    a COCO JSON or a folder of Pascal VOC XML."""
    given = [kind for kind, source in zip(AmbiguousGroundTruth.KINDS, (masks, boxes, coco, voc)) if source is not None]
    if len(given) != 1:
        raise AmbiguousGroundTruth(given)
    if masks is not None:
        return MaskFolder(masks)
    if boxes is not None:
        return read_box_csv(boxes, columns)
    if coco is not None:
        return read_coco(coco)
    return read_voc_folder(voc)
