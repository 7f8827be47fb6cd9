"""What ground truth and the Trust dock run in workers: loading ground truth, scoring the shown map, and
`camviewer localize` / `faithfulness` over a dataset. The engine is imported when a function runs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from camviewer.core.jobs import CancelToken
from camviewer.gui.jobs.relays import progress_only

if TYPE_CHECKING:  # the engine is imported by the workers, when they run
    from camviewer.core.model.loaded import LoadedModel
    from camviewer.core.trust.groundtruth import BoxTable, MaskFolder, Region


@dataclass
class TruthSource:
    """Loaded ground truth for the viewer: regions by key, optional ROI masks, the root keys are relative to."""

    truth: MaskFolder | BoxTable
    roi: MaskFolder | None
    root: str
    description: str  # what was read and understood (a CSV's columns, counts, labels)


def load_truth(
    masks: str | None,
    boxes: str | None,
    coco: str | None,
    roi: str | None,
    root: str,
    voc: str | None = None,
    columns: dict[str, str] | None = None,
) -> TruthSource:
    from camviewer.core.trust.groundtruth import MaskFolder, load_ground_truth

    truth = load_ground_truth(masks or None, boxes or None, coco or None, voc or None, columns or None)
    roi_folder = MaskFolder(roi) if roi else None
    description = truth.description + (f" · ROI: {Path(roi).name}" if roi else "")
    return TruthSource(truth, roi_folder, root, description)


def parse_columns(text: str) -> dict[str, str] | None:
    """'image=Image Index,label=Finding Label' -> {role: column}; None when empty. ValueError when malformed."""
    from camviewer.core.trust.groundtruth import parse_columns

    return parse_columns(text) or None


def describe_columns(path: str, columns: str) -> tuple[str, bool]:
    """What a boxes CSV's header is understood as, before it is read: (a line for the dialog, understood?)."""
    from camviewer.core.errors import CamviewerError
    from camviewer.core.trust.groundtruth import describe_columns

    try:
        return f"Understood: {describe_columns(path, parse_columns(columns))}", True
    except (CamviewerError, ValueError) as error:
        return str(error), False


@dataclass
class TruthRegion:
    """The ground truth of one image, with its outlines ready to draw (polygons in pixel coordinates)."""

    path: str
    key: str
    region: Region | None
    roi_mask: np.ndarray | None
    outline: list[np.ndarray] = field(default_factory=list)  # contours of the region mask
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)
    roi_outline: list[np.ndarray] = field(default_factory=list)


def load_region(source: TruthSource, path: str) -> TruthRegion:
    from camviewer.core.overlay import contours
    from camviewer.core.trust.groundtruth import relative_key

    key = relative_key(path, source.root)
    region = source.truth.region(key)
    roi = source.roi.region(key) if source.roi is not None else None
    roi_mask = roi.mask if roi is not None else None
    outline = contours(region.mask) if region is not None and region.mask is not None else []
    boxes = list(region.boxes) if region is not None else []
    roi_outline = contours(roi_mask) if roi_mask is not None else []
    return TruthRegion(path, key, region, roi_mask, outline, boxes, roi_outline)


def score_truth(
    map01: np.ndarray, region: Region | None, roi_mask: np.ndarray | None, threshold: float | str, tolerance: float
) -> dict[str, float | bool | None]:
    """Localization scores of the shown map (``camviewer.core.trust.scoring.score_map``): 27 ms at 1024², 77 ms at 2048², so not on the GUI thread."""
    from camviewer.core.trust.scoring import score_map

    return score_map(map01, region, roi_mask, threshold, tolerance)


@dataclass
class TrustRequest:
    data: str
    masks: str | None
    boxes: str | None
    coco: str | None
    roi: str | None
    methods: list[str]
    threshold: float | str
    tolerance: float
    faithfulness: bool = False
    faithfulness_images: int = 32
    steps: int = 20
    sanity_images: int = 8
    batch_size: int = 16
    voc: str | None = None
    columns: dict[str, str] | None = None
    target: str = "gt"
    label_map: str | None = None
    loaded: TruthSource | None = None  # the ground truth already loaded in the viewer: used as it is
    allow_outside: bool = False  # a CSV partition may name images outside its folder (the user was asked)


def trust_report(model: LoadedModel, request: TrustRequest, cancel: CancelToken) -> Iterator:
    """``camviewer localize`` (and ``camviewer faithfulness``, with the sanity check) over one dataset."""
    from camviewer.core.trust.dataset import ImageEntry, dataset_images, faithfulness_dataset
    from camviewer.core.trust.groundtruth import MaskFolder, load_ground_truth, relative_key
    from camviewer.core.trust.scoring import localize_dataset
    from camviewer.core.trust.targets import plan_targets

    entries = dataset_images(request.data, request.allow_outside)
    if request.loaded is not None:  # its keys are relative to the root it was loaded with
        truth, roi, root = request.loaded.truth, request.loaded.roi, request.loaded.root
        entries = [ImageEntry(e.path, relative_key(e.path, root), e.label) for e in entries]
    else:
        truth = load_ground_truth(request.masks, request.boxes, request.coco, request.voc, request.columns)
        roi = None
    roi = MaskFolder(request.roi) if request.roi else roi
    plan = plan_targets(model, entries, truth, request.target, request.label_map)
    explained = len({str(target.entry.path) for target in plan.targets})
    faithful = entries[: request.faithfulness_images] if request.faithfulness else []
    total = explained + (len(faithful) + len(request.methods) if faithful else 0)
    job = localize_dataset(
        model,
        entries,
        truth,
        request.methods,
        request.threshold,
        request.tolerance,
        roi,
        request.target,
        request.batch_size,
        cancel=cancel,
        plan=plan,
    )
    localization = yield from progress_only(job, "localization", 0, total)
    faithfulness = None
    if faithful:
        job = faithfulness_dataset(
            model,
            [entry.path for entry in faithful],
            request.methods,
            request.steps,
            sanity_images=request.sanity_images,
            cancel=cancel,
        )
        faithfulness = yield from progress_only(job, "faithfulness", explained, total)
    return {
        "images": len(entries),
        "explained": explained,
        "truth": truth.description,
        "localization": localization,
        "faithfulness": faithfulness,
    }
