"""What the refinement wizard runs in workers: measuring a model (classification + localization, with previews)
and building the enhanced set."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from camviewer.core.jobs import CancelToken, Progress, relay
from camviewer.gui.jobs.relays import progress_only

if TYPE_CHECKING:  # the engine is imported by the workers, when they run
    from camviewer.core.explain.records import ExplainResult
    from camviewer.core.model.loaded import LoadedModel
    from camviewer.core.trust.groundtruth import Region

PREVIEW_SIZE = 256  # longest side of the before/after previews, pixels


@dataclass
class Preview:
    """One held-out image as the before/after view shows it: the image, its map, the ground truth's outline."""

    display: np.ndarray  # H x W x 3 uint8, at most PREVIEW_SIZE on its longest side
    map01: np.ndarray  # H x W float32 in [0, 1], same size
    truth: list[np.ndarray]  # ground-truth contours (K x 2 x, y), same scale


@dataclass
class Measurement:
    """One model measured on one dataset with ground truth: classification and localization, plus previews."""

    checkpoint: str | None
    metrics: dict[
        str, float | str | None
    ]  # evaluation.run.summary_metrics: n, accuracy, sensitivity, positive_class...
    localization: dict[str, float | None]  # trust summary of the method: pointing_game, iou, energy_in_region...
    method: str
    previews: list[tuple[str, Preview]]  # (image key, preview): the maps of a few images with a region


def measure_model(
    model_or_path: LoadedModel | str,
    data: str,
    masks: str,
    roi: str | None,
    method: str,
    positive_class: str | None,
    preview_keys: Sequence[str] | None,
    preview_count: int,
    allow_outside: bool,
    cancel: CancelToken,
) -> Iterator:
    """Evaluate, then localize one CAM method on the same images; keep overlays of a few images with a region."""
    from camviewer.core.evaluation.run import evaluate, summary_metrics
    from camviewer.core.model.loaded import LoadedModel
    from camviewer.core.model.loading import load_model
    from camviewer.core.trust.dataset import dataset_images
    from camviewer.core.trust.groundtruth import MaskFolder, load_ground_truth
    from camviewer.core.trust.scoring import localize_dataset

    model = model_or_path if isinstance(model_or_path, LoadedModel) else load_model(model_or_path)
    entries = dataset_images(data, allow_outside)  # allow_outside: the user was asked (a CSV naming files elsewhere)
    total = 2 * len(entries)
    job = evaluate(model, data, None, positive_class, cancel=cancel, allow_outside=allow_outside)
    result = yield from progress_only(job, "classification", 0, total)
    truth = load_ground_truth(masks=masks)
    job = localize_dataset(model, entries, truth, [method], 0.2, 0.0, MaskFolder(roi) if roi else None, cancel=cancel)
    wanted = list(preview_keys) if preview_keys else None
    previews: dict[str, Preview] = {}

    by_path = {str(entry.path): entry for entry in entries}  # images refused a target are not explained

    def keep_preview(event: Progress) -> Progress:
        entry = by_path[event.payload.source]
        region = truth.region(entry.key)
        if wanted is not None:
            chosen = entry.key in wanted
        else:
            chosen = region is not None and _has_pixels(region) and len(previews) < preview_count
        if chosen and hasattr(event.payload, "maps"):
            previews[entry.key] = _preview(entry.path, event.payload, method, region)
        return Progress(len(entries) + event.done, total, f"localization: {entry.path.name}")

    localization = yield from relay(job, keep_preview)
    order = wanted if wanted is not None else list(previews)
    return Measurement(
        str(model.source) if model.source else None,
        summary_metrics(result),
        localization["summary"][method],
        method,
        [(key, previews[key]) for key in order if key in previews],
    )


def _has_pixels(region: Region) -> bool:
    return bool(region.boxes) or (region.mask is not None and bool(region.mask.any()))


def _preview(path: Path, result: ExplainResult, method: str, region: Region | None) -> Preview:
    """The image, its map and the ground-truth outline, scaled to at most PREVIEW_SIZE."""
    import cv2

    from camviewer.core import overlay
    from camviewer.core.images import read_image, to_uint8_rgb

    display = to_uint8_rgb(read_image(path).pixels)
    (map01,) = result.maps[method].values()
    mask = region.as_mask(map01.shape).astype(np.uint8) if region is not None else None
    scale = PREVIEW_SIZE / max(display.shape[:2])
    if scale < 1:
        size = (max(1, round(display.shape[1] * scale)), max(1, round(display.shape[0] * scale)))
        display = cv2.resize(display, size, interpolation=cv2.INTER_AREA)
        map01 = cv2.resize(map01, size, interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST) if mask is not None else None
    truth = overlay.contours(mask.astype(bool)) if mask is not None else []
    return Preview(np.ascontiguousarray(display), np.ascontiguousarray(map01, dtype=np.float32), truth)


def build_refined_set(
    data: str,
    out: str,
    mode: str,
    model: LoadedModel | None,
    roi_masks: str | None,
    method: str,
    floor: float,
    border_crop: float,
    allow_outside: bool,
    cancel: CancelToken,
) -> Iterator:
    """``camviewer refine``: the enhanced copy of a training set; returns its manifest."""
    from camviewer.core.trust.refine import refine_dataset

    job = refine_dataset(
        data, out, mode, model, roi_masks, method, floor, border_crop, cancel=cancel, allow_outside=allow_outside
    )
    return (yield from progress_only(job, "building"))
