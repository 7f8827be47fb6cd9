"""What the refinement wizard runs in workers: measuring a model (classification + localization, with previews)
and building the enhanced set."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from camviewer.core.jobs import CancelToken
from camviewer.core.trust import comparison
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
class Measurement(comparison.Measurement):
    """The engine's measurement (classification and localization) plus a few images' overlays to show."""

    previews: list[tuple[str, Preview]] = field(
        default_factory=list
    )  # (image key, preview): a few images with a region


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
    from camviewer.core.model.loaded import LoadedModel
    from camviewer.core.model.loading import load_model

    model = model_or_path if isinstance(model_or_path, LoadedModel) else load_model(model_or_path)
    wanted = list(preview_keys) if preview_keys else None
    previews: dict[str, Preview] = {}

    def keep_preview(entry, region, result) -> None:
        if wanted is not None:
            chosen = entry.key in wanted
        else:
            chosen = region is not None and _has_pixels(region) and len(previews) < preview_count
        if chosen:
            previews[entry.key] = _preview(entry.path, result, method, region)

    spec = comparison.MeasureSpec(data, masks, roi, method, positive_class, allow_outside)  # the user was asked
    measured = yield from comparison.measure(model, spec, cancel, keep_preview)
    order = wanted if wanted is not None else list(previews)
    return Measurement(**vars(measured), previews=[(key, previews[key]) for key in order if key in previews])


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
    border_crop: float | None,
    allow_outside: bool,
    cancel: CancelToken,
) -> Iterator:
    """``camviewer refine``: the enhanced copy of a training set; returns its manifest."""
    from camviewer.core.trust.refine import refine_dataset

    job = refine_dataset(
        data, out, mode, model, roi_masks, method, floor, border_crop, cancel=cancel, allow_outside=allow_outside
    )
    return (yield from progress_only(job, "building"))
