"""Boxes from COCO JSON (one file) and Pascal VOC XML (a folder of files, one per image).

COCO ``bbox`` is ``[x, y, width, height]`` in pixels; images without annotations are listed as having
no box. VOC's ``xmin..xmax`` are 1-based inclusive pixel indices, so ``x = xmin - 1`` and
``w = xmax - x`` (as detectron2 reads them); the image is ``<filename>`` inside the XML, under the XML's
own sub-folder of the annotation folder. The XML parser is expat (2.4.1 and later refuse the
"billion laughs" entity expansion), and no external entity is ever fetched.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path, PurePosixPath
from xml.etree import ElementTree

from camviewer.core.errors import AnnotationError, ImageError
from camviewer.core.images.common import open_regular
from camviewer.core.trust.groundtruth.regions import BoxItem, BoxTable


def read_coco(path: str | Path) -> BoxTable:
    path = Path(path)
    try:
        with open_regular(path) as handle:
            data = json.loads(handle.read().decode("utf-8"))
    except ImageError as error:
        raise AnnotationError(path, error.reason) from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
        raise AnnotationError(path, f"not a COCO annotation file ({type(error).__name__}: {error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise AnnotationError(path, "not a COCO annotation file: no 'images' list")
    annotations, categories = data.get("annotations", []), data.get("categories", [])
    for part, value in (("annotations", annotations), ("categories", categories), ("images", data["images"])):
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise AnnotationError(path, f"not a COCO annotation file: '{part}' is not a list of objects", column=part)
    files = {}
    for number, image in enumerate(data["images"], start=1):
        if not _is_id(image.get("id")) or "file_name" not in image:
            raise AnnotationError(
                path, f"image {number}: no 'id' (a number or a name) and 'file_name'", column="images"
            )
        files[image["id"]] = _key(image["file_name"])
    names = {c["id"]: str(c["name"]) for c in categories if _is_id(c.get("id")) and c.get("name") is not None}
    boxes: dict[str, list[BoxItem]] = defaultdict(list)
    for number, annotation in enumerate(annotations, start=1):
        where = f"annotation {number} (id {annotation.get('id', '?')})"
        image_id, category = annotation.get("image_id"), annotation.get("category_id")
        if not _is_id(image_id) or image_id not in files:
            raise AnnotationError(path, f"{where}: image_id {image_id!r} is not among the images")
        box = _box(path, where, annotation.get("bbox"))
        boxes[files[image_id]].append((box, names.get(category) if _is_id(category) else None))
    for name in files.values():
        boxes.setdefault(name, [(None, None)])
    table = BoxTable(dict(boxes))
    table.description = f"{path.name} (COCO): {table.summary()}"
    return table


def _is_id(value) -> bool:
    return isinstance(value, (int, str))


def _key(name) -> str:
    return PurePosixPath(str(name).replace("\\", "/")).as_posix()


def _box(path: Path, where: str, bbox) -> tuple[int, int, int, int]:
    try:
        x, y, w, h = (float(v) for v in bbox)
    except (TypeError, ValueError, OverflowError):
        raise AnnotationError(path, f"{where}: bbox {bbox!r} is not [x, y, width, height]", value=repr(bbox)) from None
    if not all(map(math.isfinite, (x, y, w, h))) or round(w) <= 0 or round(h) <= 0:
        raise AnnotationError(path, f"{where}: bbox {bbox!r} has no area", value=repr(bbox))
    return int(round(x)), int(round(y)), int(round(w)), int(round(h))


def read_voc_folder(folder: str | Path) -> BoxTable:
    folder = Path(folder)
    if not folder.is_dir():
        raise AnnotationError(folder, "Pascal VOC annotation folder not found")
    files = sorted(folder.rglob("*.xml"))
    if not files:
        raise AnnotationError(folder, "no .xml files: expected one Pascal VOC annotation per image")
    boxes: dict[str, list[BoxItem]] = {}
    for file in files:
        key, items = _read_voc(file, folder)
        boxes.setdefault(key, []).extend(items)
    table = BoxTable(boxes)
    table.description = f"{folder.name}/ (Pascal VOC, {len(files):,} files): {table.summary()}"
    return table


def _read_voc(file: Path, folder: Path) -> tuple[str, list[BoxItem]]:
    try:
        with open_regular(file) as handle:  # a FIFO named x.xml is refused, not waited on
            root = ElementTree.parse(handle).getroot()
    except ImageError as error:
        raise AnnotationError(file, error.reason) from None
    except (ElementTree.ParseError, OSError) as error:
        raise AnnotationError(file, f"not readable XML ({error})") from None
    if root.tag != "annotation":
        raise AnnotationError(file, f"not a Pascal VOC annotation (the root element is <{root.tag}>, not <annotation>)")
    name = (root.findtext("filename") or "").strip() or file.stem
    parent = file.parent.relative_to(folder).as_posix()
    key = name if parent == "." else f"{parent}/{name}"
    items: list[BoxItem] = []
    for number, obj in enumerate(root.iter("object"), start=1):
        label = (obj.findtext("name") or "").strip() or None
        where = f"object {number} ({label or 'no name'})"
        corners = []
        for tag in ("xmin", "ymin", "xmax", "ymax"):
            text = (obj.findtext(f"bndbox/{tag}") or "").strip()
            try:
                corners.append(float(text))
                if not math.isfinite(corners[-1]):
                    raise ValueError(text)
            except ValueError:
                reason = "is missing" if not text else f"holds {text!r}, not a number"
                raise AnnotationError(file, f"{where}: <bndbox><{tag}> {reason}", column=tag, value=text) from None
        xmin, ymin, xmax, ymax = corners
        x, y = round(xmin - 1), round(ymin - 1)
        w, h = round(xmax) - x, round(ymax) - y
        if w <= 0 or h <= 0:
            raise AnnotationError(file, f"{where}: the box {corners} has no area", value=repr(corners))
        items.append(((x, y, w, h), label))
    return key, items or [(None, None)]
