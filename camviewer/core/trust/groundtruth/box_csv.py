"""Box CSVs as they come: the columns are recognised from common header names, or named by the user.

Roles: ``image`` (path or file name), the box as ``x, y, w, h`` or as corners ``x1, y1, x2, y2``, and
an optional ``label``. Header names are compared lower-case with everything but letters and digits
removed, so ``Image Index``, ``image_index`` and ``IMAGE-INDEX`` are one name. ChestX-ray14's
``BBox_List_2017.csv`` (``Image Index,Finding Label,Bbox [x,y,w,h],,,``: the box spread over four
columns) reads as is. A row whose four box cells are all empty lists an image without a box (RSNA and
VinDr write negatives so); a row with some of them empty, or a value that is not a finite number, is
an error naming the line and the column.
"""

from __future__ import annotations

import io
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from camviewer.core import csvfiles
from camviewer.core.errors import AnnotationError, ImageError
from camviewer.core.images.common import open_regular
from camviewer.core.trust.groundtruth.regions import BoxItem, BoxTable

# role -> header names it is recognised by (normalised), best first
ALIASES = {
    "image": (
        *("path", "image", "imagepath", "imagename", "imagefile", "filename", "file", "filepath", "imageindex"),
        *("imageid", "img", "patientid"),  # RSNA pneumonia names its images by patientId
    ),
    "label": ("label", "finding", "findinglabel", "findings", "class", "classname", "category", "categoryname"),
    "x": ("x", "bboxx", "left"),
    "y": ("y", "top"),
    "w": ("w", "width"),
    "h": ("h", "height"),
    "x1": ("x1", "xmin"),
    "y1": ("y1", "ymin"),
    "x2": ("x2", "xmax"),
    "y2": ("y2", "ymax"),
}
ROLES = tuple(ALIASES)
XYWH, CORNERS = ("x", "y", "w", "h"), ("x1", "y1", "x2", "y2")
SPREAD_BOX = "bboxxywh"  # "Bbox [x,y,w,h]" as one header cell over four columns


def normalise(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


@dataclass(frozen=True)
class ColumnLayout:
    """Which column (0-based) holds each role; ``header`` is the file's first row."""

    header: tuple[str, ...]
    columns: dict[str, int]

    @property
    def box_roles(self) -> tuple[str, ...]:
        return XYWH if all(role in self.columns for role in XYWH) else CORNERS

    def name(self, role: str) -> str:
        index = self.columns[role]
        text = self.header[index].strip() if index < len(self.header) else ""
        return repr(text) if text else f"column {index + 1}"

    def describe(self) -> str:
        """'image: 'Image Index' · box x, y, w, h: 'Bbox [x', 'y', 'w', 'h]' · label: 'Finding Label''"""
        roles = self.box_roles
        parts = [
            f"image: {self.name('image')}",
            f"box {', '.join(roles)}: {', '.join(self.name(r) for r in roles)}"
            + (" (corners)" if roles == CORNERS else " (corner, width, height)"),
            f"label: {self.name('label')}" if "label" in self.columns else "no label column",
        ]
        return " · ".join(parts)


def detect_layout(path: str | Path, header: list[str], override: dict[str, str] | None = None) -> ColumnLayout:
    """Recognise the columns from the header; ``override`` (role -> header name or 1-based number) wins."""
    names = [normalise(cell) for cell in header]
    columns: dict[str, int] = {}
    for role, aliases in ALIASES.items():
        found = next((names.index(alias) for alias in aliases if alias in names), None)
        if found is not None:
            columns[role] = found
    if SPREAD_BOX in names and not all(role in columns for role in XYWH):
        start = names.index(SPREAD_BOX)
        columns.update({role: start + offset for offset, role in enumerate(XYWH)})
    for role, wanted in (override or {}).items():
        if role not in ROLES:
            raise AnnotationError(
                path, f"unknown role {role!r}; the roles are {', '.join(ROLES)}", columns=tuple(header)
            )
        if not wanted:
            columns.pop(role, None)
            continue
        columns[role] = _column_index(path, header, names, role, wanted)
    missing = [] if "image" in columns else ["image"]
    if not any(all(role in columns for role in roles) for roles in (XYWH, CORNERS)):
        missing.append("x, y, w, h (or x1, y1, x2, y2)")
    if missing:
        found = ", ".join(repr(cell) for cell in header) or "none"
        raise AnnotationError(
            path,
            f"cannot tell which columns hold the {' and the '.join(missing)}; columns found: {found}",
            columns=tuple(header),
            missing=tuple(missing),
        )
    return ColumnLayout(tuple(header), columns)


def _column_index(path, header: list[str], names: list[str], role: str, wanted: str) -> int:
    if wanted in header:
        return header.index(wanted)
    if normalise(wanted) and normalise(wanted) in names:
        return names.index(normalise(wanted))
    if wanted.isdigit() and 1 <= int(wanted) <= len(header):
        return int(wanted) - 1
    found = ", ".join(repr(cell) for cell in header)
    raise AnnotationError(
        path, f"no column {wanted!r} for {role}; columns found: {found}", column=wanted, columns=tuple(header)
    )


def parse_columns(text: str) -> dict[str, str]:
    """'image=Image Index,x=Bbox [x,label=' -> {role: column}; a column name may not contain a comma."""
    pairs = {}
    for part in text.split(","):
        if not part.strip():
            continue
        role, sep, column = part.partition("=")
        if not sep:
            raise ValueError(f"expected ROLE=COLUMN, not {part.strip()!r}")
        pairs[role.strip().lower()] = column.strip()
    return pairs


def describe_columns(path: str | Path, columns: dict[str, str] | None = None) -> str:
    """What the header of a boxes CSV is understood as (the first line only: a preview before loading)."""
    path = Path(path)
    try:
        with _open_text(path) as handle:
            first = handle.readline()
    except ImageError as error:
        raise AnnotationError(path, error.reason) from None
    except (OSError, UnicodeDecodeError) as error:
        raise AnnotationError(path, f"not a readable text file ({error})") from None
    header = next(csvfiles.reader([first], dialect=_dialect(first)), [])
    return detect_layout(path, header, columns).describe()


def read_box_csv(path: str | Path, columns: dict[str, str] | None = None) -> BoxTable:
    """A BoxTable from a CSV; its description says what was understood (see ``ColumnLayout.describe``)."""
    path = Path(path)
    try:
        with _open_text(path) as handle:
            sample = handle.read(64 * 1024)
            handle.seek(0)
            rows = list(csvfiles.reader(handle, dialect=_dialect(sample)))
    except ImageError as error:
        raise AnnotationError(path, error.reason) from None
    except UnicodeDecodeError as error:
        raise AnnotationError(path, f"not a text CSV file ({error.reason} at byte {error.start})") from None
    except csvfiles.Error as error:
        raise AnnotationError(path, f"not a readable CSV file ({error})") from None
    if not rows:
        raise AnnotationError(path, "empty file: expected a header row and one row per box")
    layout = detect_layout(path, rows[0], columns)
    boxes: dict[str, list[BoxItem]] = defaultdict(list)
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        key, item = _read_row(path, layout, row, line)
        boxes[key].append(item)
    if not boxes:
        raise AnnotationError(path, "no rows below the header")
    table = BoxTable(dict(boxes))
    table.layout = layout
    table.description = f"{path.name}: {layout.describe()}; {table.summary()}"
    return table


def _open_text(path: Path) -> io.TextIOWrapper:
    """A regular file as text (a FIFO or a device is an ImageError, never a read that blocks)."""
    return io.TextIOWrapper(open_regular(path), encoding="utf-8-sig", newline="")


def _dialect(sample: str):
    return csvfiles.sniff_dialect(sample.split("\n", 1)[0])


def _read_row(path: Path, layout: ColumnLayout, row: list[str], line: int) -> tuple[str, BoxItem]:
    def cell(role: str) -> str:
        index = layout.columns[role]
        if index >= len(row):
            raise AnnotationError(
                path,
                f"the row has {len(row)} cells; {role} is in column {index + 1} ({layout.name(role)})",
                line=line,
                column=role,
            )
        return row[index].strip()

    image = cell("image").replace("\\", "/")
    if not image:
        raise AnnotationError(path, f"no image in {layout.name('image')}", line=line, column="image", value="")
    label = (cell("label") or None) if "label" in layout.columns else None
    roles = layout.box_roles
    texts = [cell(role) for role in roles]
    if not any(texts):
        return PurePosixPath(image).as_posix(), (None, label)
    values = []
    for role, text in zip(roles, texts):
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            reason = "is empty" if not text else f"holds {text!r}, not a number"
            raise AnnotationError(path, f"{role} ({layout.name(role)}) {reason}", line=line, column=role, value=text)
        values.append(value)
    if roles == CORNERS:
        x1, y1, x2, y2 = values
        values = [x1, y1, x2 - x1, y2 - y1]
    x, y, w, h = (int(round(v)) for v in values)
    if w <= 0 or h <= 0:
        raise AnnotationError(
            path,
            f"the box {', '.join(f'{r}={t}' for r, t in zip(roles, texts))} has no area (width {w}, height {h})",
            line=line,
            value=",".join(texts),
        )
    return PurePosixPath(image).as_posix(), ((x, y, w, h), label)
