"""Example images of each confusion-matrix cell, with the map of the class the model predicted.

With a positive class the cells are true/false positives/negatives; otherwise every non-empty
(true class, predicted class) cell. Each cell shows its most confident images (the predicted class's
probability, highest first): for the errors, the ones the model was surest of, which are the ones to look at.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from camviewer.core.jobs import CancelToken, Progress
from camviewer.core.reporting.html import png_data_uri

THUMBNAIL_WIDTH = 200


@dataclass
class Example:
    path: str
    probability: float | None  # of the predicted class
    image: str | None = None  # data: URIs
    overlay: str | None = None
    mapped_class: str | None = None  # whose map the overlay shows
    error: str | None = None


@dataclass
class Cell:
    title: str
    true: str
    predicted: str
    count: int
    examples: list[Example] = field(default_factory=list)


def confusion_cells(predictions: Sequence[dict], positive: str | None, per_cell: int) -> list[Cell]:
    """The cells to show, each with up to ``per_cell`` examples chosen (not yet rendered)."""
    rows = [row for row in predictions if row.get("true") and row.get("predicted")]
    if positive is not None:
        negative = "not " + positive
        groups = {
            ("true positives", positive, positive): [],
            ("false negatives", positive, negative): [],
            ("false positives", negative, positive): [],
            ("true negatives", negative, negative): [],
        }
        for row in rows:
            truth, call = row["true"] == positive, row["predicted"] == positive
            name = {(True, True): "true positives", (True, False): "false negatives"}.get((truth, call))
            name = name or ("false positives" if call else "true negatives")
            key = next(k for k in groups if k[0] == name)
            groups[key].append(row)
    else:
        groups = {}
        for row in sorted(rows, key=lambda r: (r["true"] != r["predicted"], r["true"], r["predicted"])):
            kind = "correct" if row["true"] == row["predicted"] else "wrong"
            groups.setdefault((kind, row["true"], row["predicted"]), []).append(row)
    cells = []
    for (name, true, predicted), members in groups.items():
        title = f"{name[0].upper()}{name[1:]}: true {true}, predicted {predicted}"
        chosen = sorted(members, key=lambda row: -_probability(row))[:per_cell]
        examples = [Example(row["path"], _probability(row)) for row in chosen]
        cells.append(Cell(title, true, predicted, len(members), examples))
    return cells


def _probability(row: dict) -> float:
    try:
        return float(row.get(f"p_{row['predicted']}", "nan"))
    except ValueError:
        return float("nan")


def render_examples(
    model, cells: list[Cell], method: str = "gradcam", cancel: CancelToken | None = None
) -> Iterator[Progress]:
    """Fill every example's thumbnail and map overlay (one explain pass over all of them)."""
    from camviewer.core.explain.records import ExplainFailure
    from camviewer.core.explain.run import explain_iter
    from camviewer.core.overlay import as_rgb8, overlay

    examples = [example for cell in cells for example in cell.examples]
    for example in examples:
        if not Path(example.path).is_file():
            example.error = "image not found"
    present = [example for example in examples if example.error is None]
    if not present:
        return
    job = explain_iter(model, [e.path for e in present], [method], "pred", keep_images=True, cancel=cancel)
    for example, event in zip(present, job):
        result = event.payload
        if isinstance(result, ExplainFailure):
            example.error = result.reason
        else:
            pixels = result.image.pixels
            (mapped, map01), *_ = result.maps[method].items()
            example.image = png_data_uri(_thumbnail(as_rgb8(pixels)))
            example.overlay = png_data_uri(_thumbnail(overlay(pixels, map01)))
            example.mapped_class = mapped
        yield Progress(event.done, event.total, f"example maps: {Path(example.path).name}")


def _thumbnail(rgb: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    if width <= THUMBNAIL_WIDTH:
        return rgb
    size = (THUMBNAIL_WIDTH, max(1, round(height * THUMBNAIL_WIDTH / width)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
