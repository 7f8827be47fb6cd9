"""Evaluation metrics of a single-label (softmax) classifier, with 95% confidence intervals.

Every point estimate comes from scikit-learn; this module decides *which* numbers are defined and says
why when one is not. Two bugs from the seed projects shape it:

* Sensitivity and specificity belong to a positive class. A two-class evaluation therefore requires
  ``positive_class`` by name and never guesses it from the class order. With more classes any class may
  be the positive one (one vs rest), and every class's one-vs-rest figures are in ``per_class`` anyway.
* A metric that is undefined on the data (ROC-AUC from one image or one class, Cohen's kappa when
  both raters only ever say the same single class) is ``None`` with a note, never a number.

Intervals (:mod:`.intervals`): Wilson for proportions, DeLong for a class's ROC-AUC, a stratified
bootstrap for kappa, balanced accuracy, F1 and the macro AUC. ``operating_point`` (:mod:`.operating`)
gives the positive class's figures at a chosen threshold, ``calibration`` (:mod:`.calibration`) the
reliability of the probabilities. Multi-label models: :mod:`.multilabel`.

All results are plain Python ints, floats, strings, lists and dicts, so ``json.dumps`` takes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    cohen_kappa_score,
    confusion_matrix,
    multilabel_confusion_matrix,
    precision_recall_fscore_support,
    recall_score,
    roc_auc_score,
    roc_curve,
)

from camviewer.core.errors import MetricsError
from camviewer.core.evaluation.calibration import calibration_report
from camviewer.core.evaluation.checks import quoted, validated
from camviewer.core.evaluation.intervals import (
    RESAMPLES,
    SEED,
    balanced_accuracy_of,
    bootstrap,
    confusion_counts,
    delong,
    f1_of,
    kappa_of,
    methods_text,
    weighted_auc,
    wilson,
)
from camviewer.core.evaluation.multilabel import multilabel_report
from camviewer.core.evaluation.operating import OperatingRule, binary_rates, operating_point

__all__ = ["ClassificationReport", "evaluate_predictions", "multilabel_report", "roc_points"]


@dataclass
class ClassificationReport:
    """Metrics of a single-label classifier. ``None`` means undefined on this data; a note says why."""

    class_names: list[str]
    positive_class: str | None  # required for two classes; optional (one vs rest) for more
    n: int
    accuracy: float
    balanced_accuracy: float
    cohen_kappa: float | None
    per_class: dict[str, dict]  # one-vs-rest counts, rates, F1, ROC-AUC of each class, with "intervals"
    sensitivity: float | None  # of positive_class, at the argmax calls
    specificity: float | None
    roc_auc: float | None  # positive_class's one-vs-rest AUC; without one, the macro one-vs-rest AUC
    roc_auc_note: str | None  # why roc_auc is None, or which classes a macro AUC covers
    confusion_matrix: list[list[int]]  # rows = true, columns = predicted, in class_names order
    cohen_kappa_note: str | None = None
    sensitivity_note: str | None = None
    specificity_note: str | None = None
    intervals: dict[str, dict | None] = field(default_factory=dict)  # headline metric -> Interval.to_dict()
    interval_methods: dict = field(default_factory=dict)  # confidence level and how each kind was computed
    operating_point: dict | None = None  # positive_class's calls and rates at the chosen rule (operating.py)
    calibration: dict | None = None  # calibration.calibration_report

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ClassificationReport:
        """Rebuild a report from :meth:`to_dict` output (extra keys, as in metrics.json, are ignored)."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


# ----------------------------------------------------------------------------- helpers


def _plain(value: float) -> float | None:
    """A Python float, or None where sklearn reports an undefined value as NaN."""
    value = float(value)
    return None if np.isnan(value) else value


def _two_sided(is_positive: np.ndarray) -> bool:
    return bool(is_positive.any() and not is_positive.all())


def _single_class_note(labels: np.ndarray, names: list[str]) -> str | None:
    """Why no ROC-AUC can be computed from these labels, or None if one can."""
    if len(labels) < 2:
        return f"ROC-AUC needs at least 2 images; got {len(labels)}"
    present = np.unique(labels)
    if len(present) < 2:
        return f"only one class present in the labels ({len(labels)} images of {names[present[0]]!r})"
    return None


def _dict(interval) -> dict | None:
    return interval.to_dict() if interval is not None else None


def _per_class(labels, predicted, scores, names, f1_intervals) -> dict[str, dict]:
    """One-vs-rest counts, rates, F1 and ROC-AUC of each class, with intervals; undefined values are None."""
    k = list(range(len(names)))
    precision, recall, f1, support = precision_recall_fscore_support(labels, predicted, labels=k, zero_division=np.nan)
    counts = multilabel_confusion_matrix(labels, predicted, labels=k)
    out = {}
    for i, name in enumerate(names):
        (tn, fp), (fn, tp) = counts[i].tolist()
        is_positive = labels == i
        rates = binary_rates(tp, fp, fn, tn)
        rates["intervals"]["f1"] = _dict(f1_intervals[name]) if not np.isnan(f1[i]) else None
        rates["intervals"]["roc_auc"] = _dict(delong(is_positive, scores[:, i]))
        out[name] = {
            "support": int(support[i]),
            "precision": _plain(precision[i]),
            "recall": _plain(recall[i]),
            "f1": _plain(f1[i]),
            **rates,
            "roc_auc": float(roc_auc_score(is_positive, scores[:, i])) if _two_sided(is_positive) else None,
        }
    return out


def _kappa(labels, predicted, names) -> tuple[float | None, str | None]:
    # Kappa is 0/0 exactly when truth and prediction are all one and the same class (p_e = 1).
    used = np.unique(np.concatenate([labels, predicted]))
    if len(used) == 1:
        return None, f"undefined: labels and predictions are all {names[used[0]]!r} (chance agreement is 1)"
    return float(cohen_kappa_score(labels, predicted, labels=list(range(len(names))))), None


def _roc_auc(labels, names, positive, per_class) -> tuple[float | None, str | None]:
    note = _single_class_note(labels, names)
    if note is not None:
        return None, note
    if positive is not None:
        auc = per_class[names[positive]]["roc_auc"]
        absent = None if auc is not None else f"undefined: no images of {names[positive]!r} in the labels"
        return auc, absent
    # Macro one-vs-rest is the mean of the per-class AUCs, exactly what roc_auc_score(multi_class="ovr",
    # average="macro") returns. We average sklearn's per-class values ourselves because that call
    # returns NaN when a class is absent from the labels and insists that every row sums to 1.
    present = [names[i] for i in np.unique(labels)]
    macro = float(np.mean([per_class[name]["roc_auc"] for name in present]))
    if len(present) == len(names):
        return macro, None
    absent = [name for name in names if name not in present]
    return macro, (
        f"macro one-vs-rest over the {len(present)} classes present in the labels ({quoted(present)}); "
        f"not in the labels: {quoted(absent)}"
    )


def _bootstrapped(labels, predicted, scores, names, positive, resamples, seed) -> dict:
    """Bootstrap intervals of kappa, balanced accuracy, each class's F1 and the macro AUC (one set of resamples)."""
    k = len(names)
    present = [i for i in range(k) if (labels == i).any()]

    def statistics(counts):
        confusion = confusion_counts(counts, labels, predicted, k)
        out = {
            "cohen_kappa": kappa_of(confusion),
            "balanced_accuracy": balanced_accuracy_of(confusion),
            **{f"f1:{names[i]}": f1_of(confusion, i) for i in range(k)},
        }
        if positive is None and len(present) > 1:  # the headline AUC is the macro one only without a positive
            out["macro_roc_auc"] = np.mean([weighted_auc(counts, labels == i, scores[:, i]) for i in present], axis=0)
        return out

    return bootstrap(labels, statistics, resamples, seed)


# ----------------------------------------------------------------------------- public API


def evaluate_predictions(
    y_true: Sequence[int],
    probabilities: np.ndarray,
    class_names: Sequence[str],
    positive_class: str | None = None,
    operating: OperatingRule | str | None = None,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> ClassificationReport:
    """Evaluate softmax outputs (N, K) against integer labels; predictions are the argmax.

    ``positive_class`` is required for two classes and optional for more (one vs rest): sensitivity,
    specificity and ROC-AUC are that class's, whatever its position in ``class_names``.
    ``operating`` (a rule, default argmax) sets where the positive class's figures in
    ``operating_point`` are read; a rule other than argmax needs a positive class. ``resamples`` and
    ``seed`` drive the bootstrap intervals.
    """
    labels, scores, names, positive = validated(y_true, probabilities, class_names, positive_class)
    rule = OperatingRule.parse(operating)
    if positive is None and rule.kind != "argmax":
        raise MetricsError(f"operating point {rule} needs a positive class (one of {quoted(names)})")
    predicted = scores.argmax(axis=1)
    boot = _bootstrapped(labels, predicted, scores, names, positive, resamples, seed)
    per_class = _per_class(labels, predicted, scores, names, {n: boot[f"f1:{n}"] for n in names})
    kappa, kappa_note = _kappa(labels, predicted, names)
    auc, auc_note = _roc_auc(labels, names, positive, per_class)
    correct = int(np.sum(predicted == labels))
    intervals = {
        "accuracy": _dict(wilson(correct, len(labels))),
        "balanced_accuracy": _dict(boot["balanced_accuracy"]),
        "cohen_kappa": _dict(boot["cohen_kappa"]) if kappa is not None else None,
        "roc_auc": None,
    }

    sensitivity = specificity = None
    sensitivity_note = specificity_note = None
    point = None
    if positive is not None:
        name = names[positive]
        pos = per_class[name]
        sensitivity, specificity = pos["sensitivity"], pos["specificity"]
        if sensitivity is None:
            sensitivity_note = f"undefined: no images of the positive class {name!r} in the labels"
        if specificity is None:
            others = [other for other in names if other != name]
            specificity_note = f"undefined: no images of the negative class(es) {quoted(others)} in the labels"
        intervals.update(
            sensitivity=pos["intervals"]["sensitivity"],
            specificity=pos["intervals"]["specificity"],
            roc_auc=pos["intervals"]["roc_auc"],
        )
        point = operating_point(rule, labels, scores, positive, resamples, seed)
    elif auc is not None:
        intervals["roc_auc"] = _dict(boot.get("macro_roc_auc"))

    return ClassificationReport(
        class_names=names,
        positive_class=None if positive is None else names[positive],
        n=len(labels),
        accuracy=float(accuracy_score(labels, predicted)),
        # Mean recall of the classes present in the labels: balanced_accuracy_score's definition,
        # without its warning when a prediction names a class absent from the labels.
        balanced_accuracy=float(recall_score(labels, predicted, labels=np.unique(labels), average="macro")),
        cohen_kappa=kappa,
        per_class=per_class,
        sensitivity=sensitivity,
        specificity=specificity,
        roc_auc=auc,
        roc_auc_note=auc_note,
        confusion_matrix=confusion_matrix(labels, predicted, labels=list(range(len(names)))).tolist(),
        cohen_kappa_note=kappa_note,
        sensitivity_note=sensitivity_note,
        specificity_note=specificity_note,
        intervals=intervals,
        interval_methods=methods_text(resamples, seed),
        operating_point=point,
        calibration=calibration_report(labels, scores, positive, names),
    )


def _curve(is_positive: np.ndarray, score: np.ndarray) -> dict:
    fpr, tpr, thresholds = roc_curve(is_positive, score)
    return {
        "fpr": fpr.tolist(),
        "tpr": tpr.tolist(),
        "thresholds": thresholds.tolist(),  # the first is inf: the point where nothing is called positive
        "auc": float(roc_auc_score(is_positive, score)),
    }


def roc_points(
    y_true: Sequence[int],
    probabilities: np.ndarray,
    class_names: Sequence[str],
    positive_class: str | None = None,
) -> dict[str, dict]:
    """ROC curves keyed by class name: the positive class's for two classes, else each class vs rest.

    Each curve is ``{"fpr", "tpr", "thresholds", "auc"}``. Classes whose curve is undefined (absent
    from the labels, or every image of it) are left out, so one image or one class gives ``{}``.
    No interpolated macro curve: it would have no thresholds; the macro AUC is in the report.
    """
    labels, scores, names, positive = validated(y_true, probabilities, class_names, positive_class)
    if _single_class_note(labels, names) is not None:
        return {}
    wanted = [positive] if len(names) == 2 else range(len(names))
    return {names[i]: _curve(labels == i, scores[:, i]) for i in wanted if _two_sided(labels == i)}
