"""Dataset-level trust reports: localization against ground truth, faithfulness and sanity.

Both are generators yielding Progress (the GUI's trust panel and the CLI drive the same code)
and returning a summary per method, so a user can pick the method that is right for their model.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from camviewer.core.cam.display import upsample_map
from camviewer.core.data.labels import LabelMapping
from camviewer.core.errors import DatasetError
from camviewer.core.explain.records import ExplainFailure, ExplainResult
from camviewer.core.explain.run import explain_iter
from camviewer.core.jobs import CancelToken, Progress, run_to_end
from camviewer.core.model.loaded import LoadedModel
from camviewer.core.trust.groundtruth import MaskFolder, Region, relative_key
from camviewer.core.trust.localization import (
    binarize,
    box_iou,
    dice,
    energy_inside,
    iou,
    largest_component_box,
    pointing_hit,
    seen_only,
)

THRESHOLD_GRID = tuple(round(0.05 * k, 2) for k in range(1, 20))
SCORES = ("pointing_hit", "iou", "dice", "box_iou", "energy_in_region", "energy_in_roi")
THRESHOLDED = ("iou", "dice", "box_iou")  # the scores of the binarized map: they change with the threshold


@dataclass
class ImageEntry:
    path: Path
    key: str  # path relative to the dataset root: how ground truth is matched
    label: str | None  # class from the dataset layout, if any


@dataclass
class LocalizationRow:
    path: str
    method: str
    class_name: str
    predicted: str
    has_region: bool
    threshold: float | None
    pointing_hit: bool | None
    iou: float | None
    dice: float | None
    box_iou: float | None
    energy_in_region: float | None
    energy_in_roi: float | None


def dataset_images(data: str | Path) -> list[ImageEntry]:
    """Images of a dataset (class folders, split folders, CSV) or, failing that, any folder of images."""
    from camviewer.core.data.index import scan_dataset
    from camviewer.core.images import list_images

    data = Path(data)
    try:
        index = scan_dataset(data)
        root = data.parent if data.is_file() else data
        return [
            ImageEntry(s.path, relative_key(s.path, root), s.labels[0] if len(s.labels) == 1 else None)
            for s in index.samples
        ]
    except DatasetError:
        if not data.is_dir():
            raise
        return [ImageEntry(p, relative_key(p, data), None) for p in list_images(data, recursive=True)]


def truth_mapping(regions, entries, model: LoadedModel, label_map=None) -> LabelMapping:
    """The ground truth's labels and the images' classes matched to the model's classes (core.data.labels)."""
    labels = {region.label for region in regions if region is not None and region.label}
    labels |= {entry.label for entry in entries if entry.label}
    return LabelMapping.build(sorted(labels), model.card.class_names, label_map)


def _explain_class(region: Region | None, entry: ImageEntry, mapping: LabelMapping, target: str) -> str | int:
    """The class whose map is scored: the one the ground truth's label (or the image's class) stands for."""
    if target != "gt":
        return target
    for label in (region.label if region else None, entry.label):
        found = mapping.class_for(label) if label else None
        if found is not None:
            return found
    return "pred"


def score_map(map01: np.ndarray, region: Region | None, roi: np.ndarray | None, threshold, tolerance: float) -> dict:
    """Every localization score of one map; None where it does not apply.

    Only the pixels the model saw count (the map is NaN elsewhere): ground truth is clipped to them,
    and an image whose region lies wholly outside them is scored like one without a region.
    """
    shape = map01.shape
    mask = region.as_mask(shape) if region else None
    if mask is not None and mask.shape != shape:
        raise DatasetError(f"mask {mask.shape[::-1]} does not match the image size {shape[::-1]}")
    mask, boxes = seen_only(map01, mask, region.boxes if region else ())
    has_region = mask is not None and bool(mask.any())
    scores = dict.fromkeys(SCORES)
    scores["energy_in_roi"] = energy_inside(map01, roi) if roi is not None else None
    if not has_region:
        return scores
    scores.update(
        pointing_hit=pointing_hit(map01, mask, tolerance),
        energy_in_region=energy_inside(map01, mask),
        **thresholded_scores(map01, mask, boxes, threshold),
    )
    return scores


def thresholded_scores(map01: np.ndarray, mask: np.ndarray, boxes: Sequence, threshold) -> dict[str, float | None]:
    """IoU and Dice of the binarized map with the mask; IoU of its largest component's box with the best box."""
    binary = binarize(map01, threshold)
    scores = {"iou": iou(binary, mask), "dice": dice(binary, mask), "box_iou": None}
    if boxes:
        predicted = largest_component_box(binary)
        scores["box_iou"] = max(box_iou(predicted, box) for box in boxes) if predicted else 0.0
    return scores


def localize_dataset(
    model: LoadedModel,
    entries: Sequence[ImageEntry],
    ground_truth,
    methods: Sequence[str] = ("gradcam",),
    threshold: float | str = 0.2,
    tolerance: float = 0.0,
    roi: MaskFolder | None = None,
    target: str = "gt",
    batch_size: int = 16,
    tune_fraction: float = 0.5,
    seed: int = 0,
    cancel: CancelToken | None = None,
    label_map: str | dict | None = None,
) -> Iterator[Progress]:
    """Score every map against the ground truth; yields per image, returns {"rows", "summary", ...}.

    ``threshold="tuned"`` picks, per class and method, the grid threshold with the best mean IoU
    on a seeded ``tune_fraction`` of the images with regions, and reports scores only on the rest.
    """
    regions = [ground_truth.region(entry.key) for entry in entries]
    mapping = truth_mapping(regions, entries, model, label_map)
    targets = [_explain_class(r, e, mapping, target) for r, e in zip(regions, entries)]
    job = explain_iter(model, [e.path for e in entries], methods, targets, batch_size=batch_size, cancel=cancel)
    rows: list[LocalizationRow] = []
    grid_scores: dict[int, dict] = {}  # row index -> {threshold: thresholded scores}, for tuning
    failures = []
    for index, event in enumerate(job):
        result = event.payload
        if isinstance(result, ExplainFailure):
            failures.append((result.source, result.reason))
        else:
            roi_mask = _roi_mask(roi, entries[index].key)
            for row, grid in _score_result(result, regions[index], roi_mask, threshold, tolerance):
                if threshold == "tuned" and row.has_region:
                    grid_scores[len(rows)] = grid
                rows.append(row)
        yield Progress(event.done, event.total, event.message, result)
    tuned = _apply_tuned_thresholds(rows, grid_scores, tune_fraction, seed) if threshold == "tuned" else {}
    reported = [row for i, row in enumerate(rows) if i not in tuned.get("tuning_rows", set())]
    return {
        "rows": rows,
        "summary": summarize(reported, methods),
        "thresholds": tuned.get("thresholds"),
        "failed": failures,
    }


def _roi_mask(roi: MaskFolder | None, key: str) -> np.ndarray | None:
    region = roi.region(key) if roi is not None else None
    return region.mask if region is not None else None


def _score_result(result: ExplainResult, region, roi_mask, threshold, tolerance):
    """(row, {grid threshold: thresholded scores}) per map; the table is filled only for tuning."""
    fixed = 0.2 if threshold == "tuned" else threshold  # replaced by the tuned value afterwards
    for method, per_class in result.maps.items():
        for class_name, map01 in per_class.items():
            scores = score_map(map01, region, roi_mask, fixed, tolerance)
            has_region = scores["pointing_hit"] is not None
            grid = {}
            if threshold == "tuned" and has_region:
                mask, boxes = seen_only(map01, region.as_mask(map01.shape), region.boxes)
                grid = {t: thresholded_scores(map01, mask, boxes, t) for t in THRESHOLD_GRID}
            row = LocalizationRow(
                str(result.source),
                method,
                class_name,
                result.predicted,
                has_region,
                fixed if has_region else None,
                **scores,
            )
            yield row, grid


def _apply_tuned_thresholds(rows, grid_scores, tune_fraction: float, seed: int) -> dict:
    """Pick each (method, class)'s threshold by mean IoU on the tuning rows; rescore the others at it."""
    rng = np.random.default_rng(seed)
    candidates = sorted(grid_scores)
    tuning = set(rng.choice(candidates, size=int(len(candidates) * tune_fraction), replace=False).tolist())
    best: dict[tuple[str, str], float] = {}
    by_group = defaultdict(list)
    for i in tuning:
        by_group[(rows[i].method, rows[i].class_name)].append(grid_scores[i])
    for group, tables in by_group.items():
        best[group] = max(THRESHOLD_GRID, key=lambda t: np.mean([table[t]["iou"] for table in tables]))
    for i in set(candidates) - tuning:
        row = rows[i]
        row.threshold = best.get((row.method, row.class_name), 0.2)
        for score in THRESHOLDED:  # every score of the binarized map, at the tuned threshold
            setattr(row, score, grid_scores[i][row.threshold][score])
    return {"tuning_rows": tuning, "thresholds": {f"{m}/{c}": t for (m, c), t in best.items()}}


def summarize(rows: Sequence[LocalizationRow], methods: Sequence[str]) -> dict[str, dict]:
    """Mean of each score per method over the images where it applies (pointing game = hit rate)."""
    summary = {}
    for method in methods:
        mine = [row for row in rows if row.method == method]
        entry = {"images": len(mine), "with_region": sum(row.has_region for row in mine)}
        for score in SCORES:
            values = [float(getattr(row, score)) for row in mine if getattr(row, score) is not None]
            entry[score] = float(np.mean(values)) if values else None
        entry["pointing_game"] = entry.pop("pointing_hit")
        summary[method] = entry
    return summary


def rows_as_dicts(rows: Sequence[LocalizationRow]) -> list[dict]:
    return [asdict(row) for row in rows]


# --- faithfulness and sanity over a dataset -----------------------------------------------------


def faithfulness_dataset(
    model: LoadedModel,
    paths: Sequence[Path],
    methods: Sequence[str] = ("gradcam",),
    steps: int = 20,
    batch_size: int = 8,
    sanity_images: int = 8,
    cancel: CancelToken | None = None,
) -> Iterator[Progress]:
    """Deletion/insertion AUC, average drop and increase per method; then the sanity check.

    Yields Progress per image (then per sanity stage); returns {"rows", "summary"}.
    """
    from camviewer.core.cam.engine import compute_cams
    from camviewer.core.images import as_decoded
    from camviewer.core.trust.faithfulness import faithfulness
    from camviewer.core.trust.sanity import sanity_check

    rows, summary, failed = [], {m: defaultdict(list) for m in methods}, []
    size = model.card.input_size
    decoded = []
    total = len(paths) + len(methods)
    for start in range(0, len(paths), batch_size):
        chunk, images = [], []
        for path in paths[start : start + batch_size]:
            try:
                images.append(as_decoded(path))
                chunk.append(path)
            except Exception as error:  # an unreadable image is reported, not fatal
                failed.append((str(path), str(error)))
        if not images:
            continue
        batch = model.to_batch(images)
        if len(decoded) < sanity_images:
            decoded.extend(images[: sanity_images - len(decoded)])
        out = compute_cams(model, batch, methods, target="pred", cancel=cancel)
        classes = [t[0] for t in out.targets]
        for method in methods:
            maps = np.stack([upsample_map(raw[method][c], size) for raw, c in zip(out.raw, classes)])
            scores = faithfulness(model, batch, maps, classes, steps=steps, cancel=cancel)
            for j, path in enumerate(chunk):
                row = {
                    "path": str(path),
                    "method": method,
                    "class_name": model.card.class_names[classes[j]],
                    "deletion_auc": float(scores.deletion_auc[j]),
                    "insertion_auc": float(scores.insertion_auc[j]),
                    "average_drop": float(scores.drop[j]),
                    "increase": bool(scores.increase[j]),
                }
                rows.append(row)
                for key in ("deletion_auc", "insertion_auc", "average_drop", "increase"):
                    summary[method][key].append(float(row[key]))
        yield Progress(min(start + batch_size, len(paths)), total, str(chunk[-1]))
    means = {m: {key: float(np.mean(values)) for key, values in table.items()} for m, table in summary.items()}
    if decoded:
        batch = model.to_batch(decoded)
        for done, method in enumerate(methods, start=len(paths) + 1):
            report = run_to_end(sanity_check(model, batch, method, cancel=cancel))
            means[method]["sanity"] = {
                "passed": report.passed,
                "stages": [asdict(stage) for stage in report.stages],
            }
            yield Progress(done, total, f"sanity check of {method}: {'passed' if report.passed else 'FAILED'}")
    return {"rows": rows, "summary": means, "failed": failed}


def format_table(summary: dict[str, dict], columns: Sequence[str]) -> str:
    """A plain-text table, one row per method (for the CLI)."""
    header = ["method", *columns]
    lines = [header]
    for method, entry in summary.items():
        cells = [method]
        for column in columns:
            value = entry.get(column)
            cells.append(
                "-"
                if value is None or (isinstance(value, float) and math.isnan(value))
                else f"{value:.3f}"
                if isinstance(value, float)
                else str(value)
            )
        lines.append(cells)
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) for row in lines)
