"""What the training, evaluation, trust and refinement panels run in workers: thin calls into the engine.

The same rules as :mod:`camviewer.gui.tasks`: never called on the GUI thread, the engine imported when a
function runs (so importing this module costs nothing and loads no torch), and the engine's own
generators driven unchanged — the GUI never re-implements what ``camviewer train/evaluate/localize/
faithfulness/refine`` do. What crosses back to the GUI thread is kept small: per-batch training updates
are gathered into one :class:`BatchChunk` per 50 ms, and per-image explain results are reduced to
their progress line.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from camviewer.core.jobs import CancelToken, Progress, relay

BATCH_FLUSH_S = 0.05  # at most ~20 batch chunks a second cross to the GUI thread
PREVIEW_SIZE = 128  # longest side of the before/after previews, pixels


# ------------------------------------------------------------------------------------- training

@dataclass
class DatasetPreview:
    """What a dataset folder holds, before any pixel is decoded (for the training panel)."""

    source: str
    layout: str
    class_names: list[str]
    counts: dict[str, dict[str, int]]  # split -> class -> images; the single key "all" without given splits
    positive_class: str | None
    multi_label: bool
    ignored_folders: list[str]
    total: int


def preview_dataset(data: str) -> DatasetPreview:
    from camviewer.core.data.index import SPLITS, scan_dataset

    index = scan_dataset(data)
    counts = ({split: index.class_counts(split) for split in SPLITS} if index.has_splits
              else {"all": index.class_counts()})
    return DatasetPreview(str(index.source), index.layout, list(index.class_names), counts, index.positive_class,
                          index.multi_label, list(index.ignored_folders), len(index.samples))


def import_training_stack() -> None:
    """Import what a training run needs now, while the user reads the preview (a job of its own), not after Start.

    Importing a module unmarshals its code with the GIL held: done mid-run, that stalls the window for
    up to ~0.2 s; done here, it happens before the curves and the progress bar have anything to show.
    """
    import safetensors.torch  # noqa: F401  (checkpoints)
    import sklearn.model_selection  # noqa: F401  (the stratified split)
    import torch.utils.serialization  # noqa: F401  (last.pt)
    import torchvision.transforms.v2  # noqa: F401  (augmentation)

    import camviewer.core.evaluation.run  # noqa: F401  (the test split, at the end)
    import camviewer.core.training.loop  # noqa: F401
    import camviewer.core.trust.refine  # noqa: F401  (a refined set's border crop)


@dataclass
class BatchChunk:
    """Consecutive per-batch training updates (``camviewer.core.training.records.BatchUpdate``), oldest first."""

    updates: list


def coalesce_batches(job: Iterator[Progress]) -> Iterator:
    """A training job's events, with its per-batch updates gathered into a BatchChunk every 50 ms.

    Every batch still arrives (the loss curve gets all its points); the GUI thread just gets fewer
    signals. Any other event flushes the pending batches first, so the order is kept.
    """
    from camviewer.core.training.records import BatchUpdate

    pending: list = []
    last = time.perf_counter()
    try:
        while True:
            try:
                event = next(job)
            except StopIteration as stop:
                if pending:
                    yield BatchChunk(pending)
                return stop.value
            if isinstance(event.payload, BatchUpdate):
                pending.append(event.payload)
                if time.perf_counter() - last >= BATCH_FLUSH_S:
                    yield BatchChunk(pending)
                    pending, last = [], time.perf_counter()
                continue
            if pending:
                yield BatchChunk(pending)
                pending, last = [], time.perf_counter()
            yield event
    finally:
        job.close()  # a closed worker still leaves a checkpoint (the engine handles GeneratorExit)


def train_model(options: dict, cancel: CancelToken) -> Iterator:
    """``camviewer train``: ``options`` are TrainConfig's fields (plain values from the form)."""
    from camviewer.core.training.loop import train
    from camviewer.core.training.records import TrainConfig

    return (yield from coalesce_batches(train(TrainConfig(**options), cancel)))


def resume_training(run_dir: str, changes: dict, cancel: CancelToken) -> Iterator:
    """``camviewer train --resume RUN``: only epochs, patience, device and workers may change."""
    from camviewer.core.training.loop import resume

    return (yield from coalesce_batches(resume(run_dir, changes, cancel)))


@dataclass
class RunInfo:
    """A run folder's state, read before resuming it."""

    run_dir: str
    config: dict
    history: list  # [EpochRecord]
    stale_epochs: int


def read_run(run_dir: str) -> RunInfo:
    from camviewer.core.training.loop import read_train_state
    from camviewer.core.training.records import EpochRecord

    state = read_train_state(run_dir)
    return RunInfo(run_dir, dict(state["config"]), [EpochRecord(**record) for record in state["history"]],
                   int(state["stale_epochs"]))


# ----------------------------------------------------------------------------------- evaluation

def evaluate_model(model, data: str, split: str | None, positive_class: str | None, cancel: CancelToken) -> Iterator:
    """``camviewer evaluate``: the split comes from the data or the split.csv beside the checkpoint."""
    from camviewer.core.evaluation.run import evaluate

    return (yield from evaluate(model, data, split, positive_class, cancel=cancel))


def write_evaluation_report(result, out_dir: str, checkpoint: str | None) -> dict[str, Path]:
    """The report files of ``camviewer evaluate --out``; training curves too when the run's history is there."""
    from camviewer.core.evaluation.run import write_report

    return write_report(result, out_dir, Path(checkpoint).parent / "history.csv" if checkpoint else None)


# --------------------------------------------------------------------------------- ground truth

@dataclass
class TruthSource:
    """Loaded ground truth for the viewer: regions by key, optional ROI masks, the root keys are relative to."""

    truth: Any  # MaskFolder or BoxTable
    roi: Any | None  # MaskFolder
    root: str
    description: str


def load_truth(masks: str | None, boxes: str | None, coco: str | None, roi: str | None, root: str) -> TruthSource:
    from camviewer.core.trust.groundtruth import MaskFolder, load_ground_truth

    truth = load_ground_truth(masks or None, boxes or None, coco or None)
    roi_folder = MaskFolder(roi) if roi else None
    source = Path(masks or boxes or coco)
    kind = "masks" if masks else "boxes" if boxes else "COCO boxes"
    description = f"{kind}: {source.name}" + (f" · ROI: {Path(roi).name}" if roi else "")
    return TruthSource(truth, roi_folder, root, description)


@dataclass
class TruthRegion:
    """The ground truth of one image, with its outlines ready to draw (polygons in pixel coordinates)."""

    path: str
    key: str
    region: Any | None  # groundtruth.Region
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


def score_truth(map01: np.ndarray, region, roi_mask, threshold: float | str, tolerance: float) -> dict:
    """Localization scores of the shown map (``camviewer.core.trust.dataset.score_map``): 27 ms at 1024², 77 ms at 2048², so not on the GUI thread."""
    from camviewer.core.trust.dataset import score_map

    return score_map(map01, region, roi_mask, threshold, tolerance)


# ---------------------------------------------------------------------------------------- trust

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


def _progress_only(job: Iterator[Progress], stage: str, offset: int = 0, total: int | None = None) -> Iterator[Progress]:
    """Progress lines without their payloads (maps stay in the worker), renumbered into one bar."""
    return relay(job, lambda event: Progress(offset + event.done, total or event.total,
                                             f"{stage}: {Path(str(event.message)).name}"))


def trust_report(model, request: TrustRequest, cancel: CancelToken) -> Iterator:
    """``camviewer localize`` (and ``camviewer faithfulness``, with the sanity check) over one dataset."""
    from camviewer.core.trust.dataset import dataset_images, faithfulness_dataset, localize_dataset
    from camviewer.core.trust.groundtruth import MaskFolder, load_ground_truth

    truth = load_ground_truth(request.masks, request.boxes, request.coco)
    roi = MaskFolder(request.roi) if request.roi else None
    entries = dataset_images(request.data)
    faithful = entries[:request.faithfulness_images] if request.faithfulness else []
    total = len(entries) + (len(faithful) + len(request.methods) if faithful else 0)
    job = localize_dataset(model, entries, truth, request.methods, request.threshold, request.tolerance, roi,
                                 batch_size=request.batch_size, cancel=cancel)
    localization = yield from _progress_only(job, "localization", 0, total)
    faithfulness = None
    if faithful:
        job = faithfulness_dataset(model, [entry.path for entry in faithful], request.methods, request.steps,
                                         sanity_images=request.sanity_images, cancel=cancel)
        faithfulness = yield from _progress_only(job, "faithfulness", len(entries), total)
    return {"images": len(entries), "localization": localization, "faithfulness": faithfulness}


# ----------------------------------------------------------------------------------- refinement

@dataclass
class Measurement:
    """One model measured on one dataset with ground truth: classification and localization, plus previews."""

    checkpoint: str | None
    metrics: dict  # evaluation.run.summary_metrics: n, accuracy, sensitivity, specificity, roc_auc, positive_class...
    localization: dict  # trust summary of the method: pointing_game, iou, energy_in_region, energy_in_roi...
    method: str
    previews: list[tuple[str, np.ndarray]]  # (image key, overlay RGB uint8 with the ground-truth outline)


def measure_model(model_or_path, data: str, masks: str, roi: str | None, method: str, positive_class: str | None,
                  preview_keys: Sequence[str] | None, preview_count: int, cancel: CancelToken) -> Iterator:
    """Evaluate, then localize one CAM method on the same images; keep overlays of a few images with a region."""
    from camviewer.core.evaluation.run import evaluate, summary_metrics
    from camviewer.core.model.loaded import LoadedModel
    from camviewer.core.model.loading import load_model
    from camviewer.core.trust.dataset import dataset_images, localize_dataset
    from camviewer.core.trust.groundtruth import MaskFolder, load_ground_truth

    model = model_or_path if isinstance(model_or_path, LoadedModel) else load_model(model_or_path)
    entries = dataset_images(data)
    total = 2 * len(entries)
    job = evaluate(model, data, None, positive_class, cancel=cancel)
    result = yield from _progress_only(job, "classification", 0, total)
    truth = load_ground_truth(masks=masks)
    job = localize_dataset(model, entries, truth, [method], 0.2, 0.0, MaskFolder(roi) if roi else None,
                                 cancel=cancel)
    wanted = list(preview_keys) if preview_keys else None
    previews: dict[str, np.ndarray] = {}

    def keep_preview(event: Progress) -> Progress:
        entry = entries[event.done - 1]
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
    return Measurement(str(model.source) if model.source else None, summary_metrics(result),
                       localization["summary"][method], method, [(key, previews[key]) for key in order if key in previews])


def _has_pixels(region) -> bool:
    return bool(region.boxes) or (region.mask is not None and bool(region.mask.any()))


def _preview(path: Path, result, method: str, region) -> np.ndarray:
    """The image with its map (jet, half opacity) and the ground-truth outline in white, at most PREVIEW_SIZE."""
    import cv2

    from camviewer.core import overlay
    from camviewer.core.images import read_image

    pixels = read_image(path).pixels
    (map01,) = result.maps[method].values()
    rgb = overlay.overlay(pixels, map01, "jet", 0.5)
    if region is not None:
        rgb = overlay.draw_contours(rgb, overlay.contours(region.as_mask(map01.shape)))
    scale = PREVIEW_SIZE / max(rgb.shape[:2])
    if scale != 1:
        size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_NEAREST if scale > 1 else cv2.INTER_AREA)
    return np.ascontiguousarray(rgb)


def build_refined_set(data: str, out: str, mode: str, model, roi_masks: str | None, method: str, floor: float,
                      border_crop: float, cancel: CancelToken) -> Iterator:
    """``camviewer refine``: the enhanced copy of a training set; returns its manifest."""
    from camviewer.core.trust.refine import refine_dataset

    job = refine_dataset(data, out, mode, model, roi_masks, method, floor, border_crop, cancel=cancel)
    return (yield from _progress_only(job, "building"))
