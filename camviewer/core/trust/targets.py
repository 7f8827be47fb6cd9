"""Which class's map is scored for each image, decided before anything is explained.

- ``gt``: the class of the ground truth: the label of the image's regions (its boxes' label, or the
  folder of its mask), else the label of the image in the dataset (its class folder), matched to the
  model's classes by the label mapping. An image whose boxes carry several labels is scored once per
  label, against that label's boxes. A label that maps to a group of classes scores the group's most
  probable class. An image with no label, or whose label maps to no class, is *refused* with the
  reason: it is never scored against the prediction instead.
- ``pred``: the predicted class (every positive label of a multi-label model), against all regions.
- a class name: that class for every image (matched by the label mapping too, so ``pneumonia``
  finds ``Pneumonia``), against all regions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from camviewer.core.cam.names import MostProbable
from camviewer.core.data.labels import LabelMapping
from camviewer.core.errors import UnknownClasses
from camviewer.core.model.loaded import LoadedModel
from camviewer.core.trust.dataset import ImageEntry

GT, PRED = "gt", "pred"
NO_LABEL = "no ground-truth label: neither the annotation nor the image's folder names a class"


@dataclass
class ScoringTarget:
    """One map to score: an image, the ground-truth label that chose it, what the engine explains."""

    entry: ImageEntry
    label: str | None  # the ground truth's label as the files write it (None: not known, or not asked)
    choice: str | MostProbable  # a class name, "pred", or the most probable class of a group
    only_label: bool = False  # score against the boxes of ``box_label`` only (boxes of several labels)
    box_label: str | None = None


@dataclass
class Refusal:
    path: str
    label: str | None
    reason: str


@dataclass
class TargetPlan:
    target: str
    targets: list[ScoringTarget]
    refused: list[Refusal]
    mapping: LabelMapping | None  # how the ground truth's labels (or the named target) were matched
    matched: int = 0  # images that have ground truth (a region, or a listing without one)

    def refusal_counts(self) -> Counter:
        return Counter(refusal.reason for refusal in self.refused)

    def label_classes(self) -> dict[str, list[str]]:
        """Every ground-truth label seen (or the named target) -> the model classes it was matched to."""
        if self.mapping is None:
            return {}
        labels = (
            [t.label for t in self.targets] + [r.label for r in self.refused] if self.target == GT else [self.target]
        )
        return {label: list(self.mapping.classes_of(label)) for label in sorted(set(labels) - {None})}


def plan_targets(
    model: LoadedModel,
    entries: Sequence[ImageEntry],
    ground_truth,
    target: str = GT,
    explicit: Mapping[str, Sequence[str]] | str | None = None,
) -> TargetPlan:
    """The maps to score (and the images refused) for ``target`` = "gt", "pred" or a class name;
    ``explicit`` is a label map (text or ``parse_label_map``'s dict)."""
    classes = list(model.card.class_names)
    found = [ground_truth.labels_of(entry.key) for entry in entries]
    matched = sum(labels is not None for labels in found)
    if target == PRED:
        return TargetPlan(target, [ScoringTarget(e, e.label, PRED) for e in entries], [], None, matched)
    if target != GT:
        mapping = LabelMapping.build([target], classes, explicit)
        chosen = _choice(mapping, target)
        if chosen is None:
            raise UnknownClasses([target], classes)
        return TargetPlan(target, [ScoringTarget(e, e.label, chosen) for e in entries], [], mapping, matched)
    wanted = []  # (entry, label, box label or None when the whole region is scored)
    for entry, labels in zip(entries, found):
        labels = labels or [None]
        split = len(labels) > 1
        wanted += [(entry, label if label is not None else entry.label, split, label) for label in labels]
    mapping = LabelMapping.build(sorted({label for _, label, _, _ in wanted if label is not None}), classes, explicit)
    targets, refused = [], []
    for entry, label, split, box_label in wanted:
        chosen = None if label is None else _choice(mapping, label)
        if chosen is not None:
            targets.append(ScoringTarget(entry, label, chosen, split, box_label))
        else:
            reason = NO_LABEL if label is None else f"the label {label!r} matches none of the model's classes"
            refused.append(Refusal(str(entry.path), label, reason))
    return TargetPlan(target, targets, refused, mapping, matched)


def _choice(mapping: LabelMapping, label: str) -> str | MostProbable | None:
    classes = tuple(mapping.classes_of(label))
    if not classes:
        return None
    return classes[0] if len(classes) == 1 else MostProbable(classes)


def scored_classes(target: ScoringTarget, maps: dict[str, object], probs: dict[str, float], alone: bool) -> list[str]:
    """The classes whose maps belong to ``target`` among an explained image's ``maps`` (by class name).

    ``alone``: the image has no other target, so every map is this target's (as for "pred", which may
    be several labels of a multi-label model); otherwise the choice is resolved as the engine did.
    """
    if alone:
        return list(maps)
    if isinstance(target.choice, MostProbable):
        return [max(target.choice.classes, key=lambda name: probs[name])]
    return [target.choice]
