"""Localization over a dataset: every map scored against the ground truth, next to chance.

    images + ground truth --targets.plan_targets--> the class to explain per image (or refused, why)
    methods --cam.engine.inapplicable_methods--> skipped with their reason; the rest explained in one pass
    each map --score_map--> scores and their chance baselines --chance.summarize--> per method, best method

A generator yielding Progress per explained image (the GUI's Trust dock and ``camviewer localize``
drive the same code), returning the rows, the summary and everything the run decided.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from camviewer.core.cam.engine import inapplicable_methods
from camviewer.core.distributed.shards import shard
from camviewer.core.distributed.world import World
from camviewer.core.errors import DatasetError, NoApplicableMethod
from camviewer.core.explain.records import ExplainFailure
from camviewer.core.explain.run import explain_iter
from camviewer.core.jobs import CancelToken, Progress
from camviewer.core.model.loaded import LoadedModel
from camviewer.core.trust.chance import SCORES, best_method, summarize
from camviewer.core.trust.dataset import ImageEntry
from camviewer.core.trust.groundtruth import MaskFolder, Region
from camviewer.core.trust.localization import (
    binarize,
    box_iou,
    chance_box_iou,
    chance_overlap,
    dice,
    energy_inside,
    iou,
    largest_component_box,
    pointing_hit,
    reach_fraction,
    seen_box,
    seen_only,
    share,
)
from camviewer.core.trust.targets import GT, ScoringTarget, TargetPlan, plan_targets, scored_classes

THRESHOLD_GRID = tuple(round(0.05 * k, 2) for k in range(1, 20))
THRESHOLD_SCORES = ("iou", "dice", "box_iou")  # the scores that depend on the binarization threshold


@dataclass
class LocalizationRow:
    path: str
    method: str
    class_name: str  # the class whose map was scored
    predicted: str
    truth_label: str | None  # the ground truth's label that chose the class (as the files write it)
    has_region: bool
    threshold: float | None
    pointing_hit: bool | None
    iou: float | None
    dice: float | None
    box_iou: float | None
    energy_in_region: float | None
    energy_in_roi: float | None
    chance_pointing_hit: float | None = None
    chance_iou: float | None = None
    chance_dice: float | None = None
    chance_box_iou: float | None = None
    chance_energy_in_region: float | None = None
    chance_energy_in_roi: float | None = None


def threshold_scores(map01: np.ndarray, mask: np.ndarray, boxes, threshold) -> dict:
    """IoU, Dice and box IoU of the map binarized at ``threshold``, with their chance values."""
    binary, seen = binarize(map01, threshold), ~np.isnan(map01)
    chance_iou, chance_dice = chance_overlap(binary, mask, seen)
    scores = {
        "iou": iou(binary, mask),
        "dice": dice(binary, mask),
        "chance_iou": chance_iou,
        "chance_dice": chance_dice,
    }
    if boxes:
        predicted = largest_component_box(binary)
        scores["box_iou"] = max(box_iou(predicted, box) for box in boxes) if predicted else 0.0
        scores["chance_box_iou"] = (
            max(chance_box_iou(predicted, box, seen_box(map01)) for box in boxes) if predicted else 0.0
        )
    return scores


def score_map(map01: np.ndarray, region: Region | None, roi: np.ndarray | None, threshold, tolerance: float) -> dict:
    """Every localization score of one map and its chance baseline (``chance_<score>``); None where it does not apply.

    Only the pixels the model saw count (the map is NaN elsewhere): ground truth is clipped to them,
    an image whose region lies wholly outside them is scored like one without a region, and chance is
    that of the seen pixels.
    """
    shape = map01.shape
    mask = region.as_mask(shape) if region else None
    if mask is not None and mask.shape != shape:
        raise DatasetError(f"mask {mask.shape[::-1]} does not match the image size {shape[::-1]}")
    mask, boxes = seen_only(map01, mask, region.boxes if region else ())
    seen = ~np.isnan(map01)
    scores = dict.fromkeys((*SCORES, *(f"chance_{score}" for score in SCORES)))
    if roi is not None:
        scores.update(energy_in_roi=energy_inside(map01, roi), chance_energy_in_roi=share(roi, seen))
    if mask is None or not mask.any():
        return scores
    scores.update(
        pointing_hit=pointing_hit(map01, mask, tolerance),
        chance_pointing_hit=reach_fraction(mask, tolerance, seen),
        energy_in_region=energy_inside(map01, mask),
        chance_energy_in_region=share(mask, seen),
        **threshold_scores(map01, mask, boxes, threshold),
    )
    return scores


def localize_dataset(
    model: LoadedModel,
    entries: Sequence[ImageEntry],
    ground_truth,
    methods: Sequence[str] = ("gradcam",),
    threshold: float | str = 0.2,
    tolerance: float = 0.0,
    roi: MaskFolder | None = None,
    target: str = GT,
    batch_size: int = 16,
    tune_fraction: float = 0.5,
    seed: int = 0,
    cancel: CancelToken | None = None,
    label_map: Mapping[str, Sequence[str]] | str | None = None,
    layer: str | None = None,
    plan: TargetPlan | None = None,
    world: World | None = None,
) -> Iterator[Progress]:
    """Score every map against the ground truth; yields per image, returns a dict (see ``_result``).

    ``target``: "gt", "pred" or a class name (see ``targets``), the ground truth's labels matched with
    ``label_map`` (explicit label -> model classes) first; pass ``plan`` to reuse one already shown.
    ``threshold="tuned"`` picks, per class and method, the grid threshold with the best mean IoU on a
    seeded ``tune_fraction`` of the maps with regions, and reports scores only on the rest.
    With a ``world`` of several processes each explains its share of the images and rank 0 returns the whole
    (the same rows, in the same order, as one process); the others return None.
    """
    plan = plan or plan_targets(model, entries, ground_truth, target, label_map)
    skipped = inapplicable_methods(model, methods, layer)
    usable = [method for method in methods if method not in skipped]
    if not usable:
        raise NoApplicableMethod(skipped)
    per_image: dict[str, list[ScoringTarget]] = defaultdict(list)
    for scoring in plan.targets:
        per_image[str(scoring.entry.path)].append(scoring)
    images = list(per_image.values())
    choices = [[t.choice for t in targets] if len(targets) > 1 else targets[0].choice for targets in images]
    paths = [targets[0].entry.path for targets in images]
    world = world or World()
    mine = shard(images, world)
    mine_paths, mine_choices = [paths[i] for i in mine], [choices[i] for i in mine]
    job = explain_iter(model, mine_paths, usable, mine_choices, layer=layer, batch_size=batch_size, cancel=cancel)
    scored, failures, used_layer = [], [], layer  # (image index, [(row, grid)...]), (image index, failure)
    for position, event in enumerate(job):
        result, index = event.payload, mine[position]
        if isinstance(result, ExplainFailure):
            failures.append((index, (result.source, result.reason)))
        else:
            used_layer = result.layer
            scored.append((index, list(_score_image(result, images[index], ground_truth, roi, threshold, tolerance))))
        yield Progress(event.done, event.total, event.message, result)
    shares = world.gather((scored, failures, used_layer))
    if shares is None:
        return None
    rows: list[LocalizationRow] = []
    grids: dict[int, dict] = {}  # row index -> {threshold: scores} for tuning
    for _, pairs in sorted((item for part in shares for item in part[0]), key=lambda item: item[0]):
        for row, grid in pairs:
            if grid:
                grids[len(rows)] = grid
            rows.append(row)
    failures = [failure for _, failure in sorted(item for part in shares for item in part[1])]
    used_layer = next((part[2] for part in shares if part[2]), layer)
    tuned = _apply_tuned_thresholds(rows, grids, tune_fraction, seed) if threshold == "tuned" else {}
    reported = [row for i, row in enumerate(rows) if i not in tuned.get("tuning_rows", set())]
    summary = summarize(reported, usable)
    return {
        "rows": rows,
        "summary": summary,
        "best": best_method(summary),
        "thresholds": tuned.get("thresholds"),
        "failed": failures,
        "refused": [asdict(refusal) for refusal in plan.refused],
        "skipped_methods": skipped,
        "plan": plan,
        "target": plan.target,
        "layer": used_layer,
    }


def _score_image(result, targets: list[ScoringTarget], ground_truth, roi, threshold, tolerance):
    """(row, {grid threshold: scores}) per map of one explained image; the grid only for tuning."""
    key = targets[0].entry.key
    whole = ground_truth.region(key)
    roi_region = roi.region(key) if roi is not None else None
    roi_mask = roi_region.mask if roi_region is not None else None
    fixed = 0.2 if threshold == "tuned" else threshold  # replaced by the tuned value afterwards
    for scoring in targets:
        region = whole.by_label().get(scoring.box_label) if scoring.only_label and whole is not None else whole
        for method, per_class in result.maps.items():
            for class_name in scored_classes(scoring, per_class, result.probs, alone=len(targets) == 1):
                map01 = per_class[class_name]
                scores = score_map(map01, region, roi_mask, fixed, tolerance)
                has_region = scores["pointing_hit"] is not None
                grid = {}
                if threshold == "tuned" and has_region:
                    mask, boxes = seen_only(map01, region.as_mask(map01.shape), region.boxes)
                    grid = {t: threshold_scores(map01, mask, boxes, t) for t in THRESHOLD_GRID}
                row = LocalizationRow(
                    path=str(result.source),
                    method=method,
                    class_name=class_name,
                    predicted=result.predicted,
                    truth_label=scoring.label,
                    has_region=has_region,
                    threshold=fixed if has_region else None,
                    **scores,
                )
                yield row, grid


def _apply_tuned_thresholds(rows, grids, tune_fraction: float, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    candidates = sorted(grids)
    tuning = set(rng.choice(candidates, size=int(len(candidates) * tune_fraction), replace=False).tolist())
    by_group = defaultdict(list)
    for i in tuning:
        by_group[(rows[i].method, rows[i].class_name)].append(grids[i])
    best = {
        group: max(THRESHOLD_GRID, key=lambda t: np.mean([grid[t]["iou"] for grid in grids_of_group]))
        for group, grids_of_group in by_group.items()
    }
    for i in set(candidates) - tuning:
        row = rows[i]
        chosen = best.get((row.method, row.class_name), 0.2)
        row.threshold = chosen
        for name, value in grids[i][chosen].items():
            setattr(row, name, value)
    return {"tuning_rows": tuning, "thresholds": {f"{m}/{c}": t for (m, c), t in best.items()}}


def rows_as_dicts(rows: Sequence[LocalizationRow]) -> list[dict]:
    return [asdict(row) for row in rows]


def localization_record(result: dict, truth: str, options: dict) -> dict:
    """What ``summary.json`` holds (and a report shows): the scores, what was scored per image, and every
    decision the run took; ``truth`` describes the ground truth, ``options`` the run's settings."""
    plan = result["plan"]
    scored = {(row.path, row.truth_label, row.class_name) for row in result["rows"]}
    return {
        "kind": "localization",
        "summary": result["summary"],
        "best": result["best"],
        "ground_truth": truth,
        "target": plan.target,
        "label_mapping": plan.label_classes(),
        "scored": [{"path": p, "truth_label": label, "class": c} for p, label, c in sorted(scored, key=str)],
        "refused": result["refused"],
        "refused_counts": dict(plan.refusal_counts()),
        "skipped_methods": result["skipped_methods"],
        "layer": result["layer"],
        "thresholds": result["thresholds"],
        "failed": result["failed"],
        **options,
    }
