"""Operating points: where the positive class's probability becomes a call, and the metrics at that point.

A rule is written as text (the CLI's ``--operating-point``, metrics.json's ``rule``):

* ``argmax`` (default): an image is called positive when the positive class has the highest probability;
* ``youden``: the threshold that maximises Youden's J = sensitivity + specificity - 1 on the ROC curve
  (the highest such threshold when several tie);
* ``sensitivity:0.9``: the highest threshold whose sensitivity reaches 0.9;
* ``threshold:0.3``: called positive when the probability is at least 0.3.

``youden`` and ``sensitivity:`` choose their threshold on the images being evaluated, so the numbers at
that point are optimistic for new images; the report says so. Every rate comes with its Wilson interval
(F1 with a stratified bootstrap one), conditional on the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_curve

from camviewer.core.errors import MetricsError
from camviewer.core.evaluation.intervals import RESAMPLES, SEED, bootstrap, confusion_counts, f1_of, wilson

RULES = ("argmax", "youden", "sensitivity", "threshold")
CHOSEN_HERE_NOTE = "threshold chosen on these images: expect lower figures on new ones"


@dataclass(frozen=True)
class OperatingRule:
    """How calls are made: ``kind`` is one of :data:`RULES`; ``value`` the target sensitivity or the threshold."""

    kind: str = "argmax"
    value: float | None = None

    @classmethod
    def parse(cls, text: str | OperatingRule | None) -> OperatingRule:
        if text is None:
            return cls()
        if isinstance(text, OperatingRule):
            return text
        kind, _, value = str(text).strip().lower().partition(":")
        if kind in ("argmax", "youden") and not value:
            return cls(kind)
        if kind in ("sensitivity", "threshold") and value:
            try:
                number = float(value)
            except ValueError:
                number = -1.0
            if 0 < number < 1 or (kind == "sensitivity" and number == 1) or (kind == "threshold" and number == 0):
                return cls(kind, number)
            raise MetricsError(f"operating point {text!r}: {kind} must be a number between 0 and 1")
        raise MetricsError(
            f"unknown operating point {text!r}; use argmax, youden, sensitivity:TARGET or threshold:PROBABILITY"
        )

    def __str__(self) -> str:
        return self.kind if self.value is None else f"{self.kind}:{self.value:g}"


def binary_rates(tp: int, fp: int, fn: int, tn: int) -> dict:
    """Counts, sensitivity, specificity, PPV and NPV (None where undefined), each with its Wilson interval."""
    fractions = {
        "sensitivity": (tp, tp + fn),
        "specificity": (tn, tn + fp),
        "ppv": (tp, tp + fp),
        "npv": (tn, tn + fn),
    }
    out: dict = {"tp": int(tp), "fp": int(fp), "fn": int(fn), "tn": int(tn)}
    intervals = {}
    for name, (hits, total) in fractions.items():
        out[name] = hits / total if total else None
        interval = wilson(hits, total)
        intervals[name] = interval.to_dict() if interval else None
    out["intervals"] = intervals
    return out


def choose_threshold(rule: OperatingRule, is_positive: np.ndarray, score: np.ndarray) -> float:
    """The probability threshold a rule stands for (``score >= threshold`` is a positive call)."""
    if rule.kind == "threshold":
        return float(rule.value)
    if is_positive.all() or not is_positive.any():
        raise MetricsError(f"operating point {rule}: the images hold only one side of the positive class")
    fpr, tpr, thresholds = roc_curve(is_positive, score, drop_intermediate=False)
    fpr, tpr, thresholds = fpr[1:], tpr[1:], thresholds[1:]  # the first point (threshold inf) calls nothing
    if rule.kind == "youden":
        return float(thresholds[int(np.argmax(tpr - fpr))])
    if rule.kind == "sensitivity":
        return float(thresholds[int(np.argmax(tpr >= rule.value))])  # tpr only grows: the first is the highest
    raise MetricsError(f"operating point {rule} has no threshold")


def operating_point(
    rule: OperatingRule | str,
    labels: np.ndarray,
    scores: np.ndarray,
    positive: int,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> dict:
    """The calls of ``rule`` for class ``positive`` (one vs rest) and every rate at that point."""
    rule = OperatingRule.parse(rule)
    is_positive = labels == positive
    score = scores[:, positive]
    if rule.kind == "argmax":
        threshold, called = None, scores.argmax(axis=1) == positive
    else:
        threshold = choose_threshold(rule, is_positive, score)
        called = score >= threshold
    tp = int(np.sum(called & is_positive))
    fp = int(np.sum(called & ~is_positive))
    fn = int(np.sum(~called & is_positive))
    tn = int(np.sum(~called & ~is_positive))
    out = {
        "rule": str(rule),
        "threshold": threshold,
        "note": CHOSEN_HERE_NOTE if rule.kind in ("youden", "sensitivity") else None,
        **binary_rates(tp, fp, fn, tn),
    }
    out["accuracy"] = (tp + tn) / len(labels)
    out["f1"] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None
    sensitivity, specificity = out["sensitivity"], out["specificity"]
    out["youden_j"] = sensitivity + specificity - 1 if sensitivity is not None and specificity is not None else None
    accuracy = wilson(tp + tn, len(labels))
    truth, calls = is_positive.astype(np.int64), called.astype(np.int64)
    f1 = bootstrap(labels, lambda counts: {"f1": f1_of(confusion_counts(counts, truth, calls, 2), 1)}, resamples, seed)
    out["intervals"].update(
        accuracy=accuracy.to_dict() if accuracy else None,
        f1=f1["f1"].to_dict() if out["f1"] is not None and f1["f1"] else None,
    )
    return out
