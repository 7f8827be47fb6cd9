"""Before and after a refinement cycle: one measurement, taken the same way on the same images, and a verdict.

A measurement is what the wizard and ``camviewer refine``/``train --init`` report: classification on a
held-out set with ground truth (accuracy, sensitivity, specificity, ROC AUC) and whether one CAM
method's maps point at the lesion there (pointing game, energy inside the lesion and inside the
region of interest). The verdict never presents a regression as a gain: a fine-tuned model that
localizes worse, or loses accuracy, by more than the tolerance is ``worse`` and the one before is kept.
The records and the verdict load without torch (the GUI imports them before torch has loaded).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from camviewer.core.atomic import write_text_atomic
from camviewer.core.errors import DatasetError
from camviewer.core.jobs import CancelToken, Progress, relay

if TYPE_CHECKING:
    from camviewer.core.model.loaded import LoadedModel

TOLERANCE = 0.02  # a change smaller than this (accuracy, pointing game, energy) is no change
LOCALIZATION = ("pointing_game", "energy_in_region")  # the scores the verdict weighs, besides accuracy


@dataclass(frozen=True)
class MeasureSpec:
    """Where and how to measure: a held-out dataset, its lesion masks, optional ROI masks, one CAM method."""

    data: str
    masks: str
    roi: str | None = None
    method: str = "gradcam"
    positive_class: str | None = None  # None: the model card's
    allow_outside: bool = False  # a CSV partition may name images outside its folder (camviewer.core.data.index)


@dataclass
class Measurement:
    checkpoint: str | None
    metrics: dict[str, Any]  # evaluation.run.summary_metrics: n, accuracy, sensitivity, positive_class...
    localization: dict[str, Any]  # the method's localization summary: pointing_game, energy_in_region...
    method: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Verdict:
    """``outcome``: "better", "worse" or "unchanged"; ``reasons``: the changes beyond the tolerance that decided it."""

    outcome: str
    reasons: list[str] = field(default_factory=list)

    @property
    def keep_before(self) -> bool:
        return self.outcome != "better"

    def text(self) -> str:
        said = "; ".join(self.reasons)
        if self.outcome == "better":
            return f"the fine-tuned model is better ({said})"
        if self.outcome == "worse":
            return f"the fine-tuned model is WORSE ({said}): keep the model from before"
        return f"no change beyond the tolerance of {TOLERANCE}: the fine-tuned model is no better than the one before"


def measure(
    model: LoadedModel,
    spec: MeasureSpec,
    cancel: CancelToken | None = None,
    on_map: Callable[..., None] | None = None,
) -> Iterator[Progress]:
    """Evaluate, then localize ``spec.method`` on the same images; returns a :class:`Measurement`.

    Progress counts 2 x images (classification, then maps). ``on_map(entry, region, result)`` sees
    every explained image (the wizard keeps a few as previews).
    """
    from camviewer.core.evaluation.run import evaluate, summary_metrics
    from camviewer.core.explain.records import ExplainResult
    from camviewer.core.trust.dataset import dataset_images
    from camviewer.core.trust.groundtruth import MaskFolder, load_ground_truth
    from camviewer.core.trust.scoring import localize_dataset

    entries = dataset_images(spec.data, spec.allow_outside)
    total = 2 * len(entries)
    job = evaluate(model, spec.data, None, spec.positive_class, cancel=cancel, allow_outside=spec.allow_outside)
    result = yield from relay(job, lambda event: Progress(event.done, total, "classification"))
    truth = load_ground_truth(masks=spec.masks)
    roi = MaskFolder(spec.roi) if spec.roi else None

    by_path = {str(entry.path): entry for entry in entries}  # images refused a target are not explained

    def localized(event: Progress) -> Progress:
        entry = by_path[event.payload.source]
        if on_map is not None and isinstance(event.payload, ExplainResult):
            on_map(entry, truth.region(entry.key), event.payload)
        return Progress(len(entries) + event.done, total, f"localization: {entry.path.name}")

    job = localize_dataset(model, entries, truth, [spec.method], 0.2, 0.0, roi, cancel=cancel)
    localization = yield from relay(job, localized)
    source = str(model.source) if model.source else None
    return Measurement(source, summary_metrics(result), localization["summary"][spec.method], spec.method)


def compare(before: Measurement, after: Measurement, tolerance: float = TOLERANCE) -> Verdict:
    """Worse if accuracy or any localization score drops by more than ``tolerance``; better if none does
    and some localization score rises by more than it; else unchanged."""
    drops, gains = [], []
    scores = [("accuracy", before.metrics, after.metrics)]
    scores += [(name, before.localization, after.localization) for name in LOCALIZATION]
    for name, old, new in scores:
        first, second = old.get(name), new.get(name)
        if first is None or second is None:
            continue
        change = f"{name.replace('_', ' ')} {first:.3f} -> {second:.3f}"
        if second < first - tolerance:
            drops.append(change)
        elif second > first + tolerance and name != "accuracy":
            gains.append(change)
    if drops:
        return Verdict("worse", drops)
    return Verdict("better", gains) if gains else Verdict("unchanged")


def comparison_table(before: Measurement, after: Measurement) -> list[tuple[str, float | None, float | None]]:
    """(measure, before, after) rows, in the order the CLI prints them."""
    rows = [
        ("accuracy", before.metrics.get("accuracy"), after.metrics.get("accuracy")),
        ("sensitivity", before.metrics.get("sensitivity"), after.metrics.get("sensitivity")),
        ("specificity", before.metrics.get("specificity"), after.metrics.get("specificity")),
    ]
    for name in ("pointing_game", "energy_in_region", "energy_in_roi"):
        rows.append(
            (f"{name.replace('_', ' ')} ({before.method})", before.localization.get(name), after.localization.get(name))
        )
    return [row for row in rows if row[1] is not None or row[2] is not None]


def note_measurement(refined: str | Path, spec: MeasureSpec, before: Measurement) -> None:
    """Keep the measurement before refinement in the refined set's refine.json, for the run that fine-tunes on it."""
    from camviewer.core.trust.refine import MANIFEST, read_manifest

    manifest = read_manifest(refined) or {}
    manifest.update(measure=asdict(spec), before=before.to_dict())
    write_text_atomic(Path(refined) / MANIFEST, json.dumps(manifest, indent=2))


def check_refinement(
    data: str | Path, init: str | Path, checkpoint: str | Path, run_dir: str | Path, cancel: CancelToken | None = None
) -> Iterator[Progress]:
    """Measure a model fine-tuned from ``init`` on a refined set as ``init`` was measured before it.

    Returns (before, after, verdict), also written to ``run_dir/refinement.json``; None when the
    refined set holds no measurement of ``init``.
    """
    from camviewer.core.model.loading import load_model
    from camviewer.core.trust.refine import MANIFEST, read_manifest

    folder = Path(data) if Path(data).is_dir() else Path(data).parent
    manifest = read_manifest(folder) or {}
    if "before" not in manifest or not manifest.get("model") or not _same_file(manifest["model"], init):
        return None
    spec, before = _recorded(manifest, folder / MANIFEST)
    after = yield from measure(load_model(checkpoint), spec, cancel)
    verdict = compare(before, after)
    record = {"measure": asdict(spec), "before": before.to_dict(), "after": after.to_dict(), "verdict": asdict(verdict)}
    write_text_atomic(Path(run_dir) / "refinement.json", json.dumps(record, indent=2))
    return before, after, verdict


def _recorded(manifest: dict, path: Path) -> tuple[MeasureSpec, Measurement]:
    """The measurement a refine.json holds; a DatasetError when it is damaged or was edited into other types."""
    unreadable = DatasetError(f"{path}: its measurement before refinement is unreadable")
    try:
        spec, before = MeasureSpec(**manifest["measure"]), Measurement(**manifest["before"])
    except TypeError:  # not objects with these fields
        raise unreadable from None
    texts = all(isinstance(text, str) for text in (spec.data, spec.masks, spec.method, before.method))
    optional = all(text is None or isinstance(text, str) for text in (spec.roi, spec.positive_class))
    tables = isinstance(before.metrics, dict) and isinstance(before.localization, dict)
    scores = [before.metrics.get("accuracy"), *map(before.localization.get, LOCALIZATION)] if tables else []
    numbers = all(score is None or isinstance(score, (int, float)) for score in scores)
    if not (texts and optional and tables and numbers and isinstance(spec.allow_outside, bool)):
        raise unreadable
    return spec, before


def _same_file(a: str | Path, b: str | Path) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False
