"""Evaluation metrics for single-label (softmax) and multi-label (sigmoid) classifiers.

Every number comes from scikit-learn; this module decides *which* numbers are defined and says why
when one is not. Two bugs from the seed projects shape it:

* Sensitivity and specificity belong to a positive class. A two-class evaluation therefore requires
  ``positive_class`` by name and never guesses it from the class order.
* A metric that is undefined on the data (ROC-AUC from one image or one class, Cohen's kappa when
  both raters only ever say the same single class) is ``None`` with a note, never a number.

All results are plain Python ints, floats, strings, lists and dicts, so ``json.dumps`` takes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

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


@dataclass
class ClassificationReport:
    """Metrics of a single-label classifier. ``None`` means undefined on this data; a note says why."""

    class_names: list[str]
    positive_class: str | None  # binary only; None for more than two classes
    n: int
    accuracy: float
    balanced_accuracy: float
    cohen_kappa: float | None
    per_class: dict[str, dict]  # one-vs-rest counts and metrics of each class
    sensitivity: float | None  # binary: of positive_class
    specificity: float | None
    roc_auc: float | None  # binary: from positive_class's probability; otherwise macro one-vs-rest
    roc_auc_note: str | None  # why roc_auc is None, or which classes a macro AUC covers
    confusion_matrix: list[list[int]]  # rows = true, columns = predicted, in class_names order
    cohen_kappa_note: str | None = None
    sensitivity_note: str | None = None
    specificity_note: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ClassificationReport:
        """Rebuild a report from :meth:`to_dict` output (extra keys, as in metrics.json, are ignored)."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


# ----------------------------------------------------------------------------- validation


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(repr(name) for name in names)


def _check_class_names(class_names: Sequence[str]) -> list[str]:
    names = [str(name) for name in class_names]
    if len(names) < 2:
        raise MetricsError(f"at least 2 classes are needed to evaluate a classifier; got {names}")
    if len(set(names)) != len(names):
        raise MetricsError(f"class names must be unique; got {_quoted(names)}")
    return names


def _check_scores(probabilities: Any, names: list[str], n_rows: int) -> np.ndarray:
    scores = np.asarray(probabilities, dtype=np.float64)
    if scores.ndim != 2:
        raise MetricsError(f"probabilities must be a 2-D array (images x classes); got shape {scores.shape}")
    if scores.shape[1] != len(names):
        raise MetricsError(
            f"probabilities have {scores.shape[1]} columns but there are {len(names)} class names ({_quoted(names)})"
        )
    if scores.shape[0] != n_rows:
        raise MetricsError(f"{n_rows} labels but {scores.shape[0]} rows of probabilities")
    if not np.all(np.isfinite(scores)):
        bad_row = int(np.argwhere(~np.isfinite(scores))[0, 0])
        raise MetricsError(f"probabilities contain NaN or infinite values (first at row {bad_row})")
    return scores


def _check_labels(y_true: Any, n_classes: int) -> np.ndarray:
    labels = np.asarray(y_true)
    if labels.ndim != 1:
        raise MetricsError(f"labels must be a 1-D sequence of class indices; got shape {labels.shape}")
    if labels.size == 0:
        raise MetricsError("nothing to evaluate: there are no images")
    if labels.dtype.kind not in "iuf" or np.any(labels != np.round(labels)):
        raise MetricsError(f"labels must be integer class indices 0..{n_classes - 1}")
    labels = labels.astype(np.int64)
    out_of_range = (labels < 0) | (labels >= n_classes)
    if np.any(out_of_range):
        bad = sorted(set(labels[out_of_range].tolist()))
        raise MetricsError(
            f"labels must be class indices 0..{n_classes - 1}; found {bad} "
            f"(first at row {int(np.argmax(out_of_range))})"
        )
    return labels


def _positive_index(positive_class: str | None, names: list[str]) -> int | None:
    """The index of the positive class: required for two classes, refused for more."""
    if len(names) > 2:
        if positive_class is not None:
            raise MetricsError(
                f"positive_class applies to two-class problems only; this one has {len(names)} "
                f"classes ({_quoted(names)})"
            )
        return None
    if positive_class is None:
        raise MetricsError(
            f"a two-class evaluation needs an explicit positive class: pass positive_class as one of {_quoted(names)}"
        )
    if positive_class not in names:
        raise MetricsError(f"positive class {positive_class!r} is not one of the class names: {_quoted(names)}")
    return names.index(positive_class)


def _check_multilabel(y_true, probabilities, class_names) -> tuple[list[str], np.ndarray, np.ndarray]:
    names = [str(name) for name in class_names]
    if not names or len(set(names)) != len(names):
        raise MetricsError(f"label names must be unique and non-empty; got {names}")
    truth = np.asarray(y_true)
    if truth.ndim != 2 or truth.shape[1] != len(names):
        raise MetricsError(
            f"multi-label targets must be a 0/1 array of shape (images, {len(names)}); got shape {truth.shape}"
        )
    if truth.shape[0] == 0:
        raise MetricsError("nothing to evaluate: there are no images")
    if not np.isin(truth, (0, 1)).all():
        raise MetricsError("multi-label targets must be 0 or 1")
    return names, truth.astype(np.int64), _check_scores(probabilities, names, truth.shape[0])


def _validated(y_true, probabilities, class_names, positive_class):
    names = _check_class_names(class_names)
    labels = _check_labels(y_true, len(names))
    scores = _check_scores(probabilities, names, len(labels))
    return labels, scores, names, _positive_index(positive_class, names)


# ----------------------------------------------------------------------------- helpers


def _plain(value: float) -> float | None:
    """A Python float, or None where sklearn reports an undefined value as NaN."""
    value = float(value)
    return None if np.isnan(value) else value


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _binary_auc(is_positive: np.ndarray, score: np.ndarray) -> float | None:
    """ROC-AUC of one score column, or None when the labels hold only one of the two sides."""
    if is_positive.all() or not is_positive.any():
        return None
    return float(roc_auc_score(is_positive, score))


def _single_class_note(labels: np.ndarray, names: list[str]) -> str | None:
    """Why no ROC-AUC can be computed from these labels, or None if one can."""
    if len(labels) < 2:
        return f"ROC-AUC needs at least 2 images; got {len(labels)}"
    present = np.unique(labels)
    if len(present) < 2:
        return f"only one class present in the labels ({len(labels)} images of {names[present[0]]!r})"
    return None


def _label_auc_note(column: np.ndarray, name: str) -> str:
    if len(column) < 2:
        return f"ROC-AUC needs at least 2 images; got {len(column)}"
    side = "positive" if column.all() else "negative"
    return f"undefined: all {len(column)} images are {side} for {name!r}"


def _one_vs_rest(counts: np.ndarray) -> dict:
    """Counts, sensitivity and specificity from one of sklearn's [[tn, fp], [fn, tp]] matrices."""
    (tn, fp), (fn, tp) = counts.tolist()
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "sensitivity": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
    }


def _per_class(labels, predicted, scores, names) -> dict[str, dict]:
    """One-vs-rest counts and metrics for each class; undefined ratios are None."""
    k = list(range(len(names)))
    precision, recall, f1, support = precision_recall_fscore_support(labels, predicted, labels=k, zero_division=np.nan)
    counts = multilabel_confusion_matrix(labels, predicted, labels=k)
    return {
        name: {
            "support": int(support[i]),
            "precision": _plain(precision[i]),
            "recall": _plain(recall[i]),
            "f1": _plain(f1[i]),
            **_one_vs_rest(counts[i]),
            "roc_auc": _binary_auc(labels == i, scores[:, i]),
        }
        for i, name in enumerate(names)
    }


def _kappa(labels, predicted, names) -> tuple[float | None, str | None]:
    # Kappa is 0/0 exactly when truth and prediction are all one and the same class (p_e = 1).
    used = np.unique(np.concatenate([labels, predicted]))
    if len(used) == 1:
        return None, f"undefined: labels and predictions are all {names[used[0]]!r} (chance agreement is 1)"
    return float(cohen_kappa_score(labels, predicted, labels=list(range(len(names))))), None


def _roc_auc(labels, scores, names, positive, per_class) -> tuple[float | None, str | None]:
    note = _single_class_note(labels, names)
    if note is not None:
        return None, note
    if positive is not None:
        return per_class[names[positive]]["roc_auc"], None
    # Macro one-vs-rest is the mean of the per-class AUCs, exactly what roc_auc_score(multi_class="ovr",
    # average="macro") returns. We average sklearn's per-class values ourselves because that call
    # returns NaN when a class is absent from the labels and insists that every row sums to 1.
    present = [names[i] for i in np.unique(labels)]
    macro = float(np.mean([per_class[name]["roc_auc"] for name in present]))
    if len(present) == len(names):
        return macro, None
    absent = [name for name in names if name not in present]
    return macro, (
        f"macro one-vs-rest over the {len(present)} classes present in the labels ({_quoted(present)}); "
        f"not in the labels: {_quoted(absent)}"
    )


# ----------------------------------------------------------------------------- public API


def evaluate_predictions(
    y_true: Sequence[int],
    probabilities: np.ndarray,
    class_names: Sequence[str],
    positive_class: str | None = None,
) -> ClassificationReport:
    """Evaluate softmax outputs (N, K) against integer labels; predictions are the argmax.

    With two classes ``positive_class`` is required: sensitivity, specificity and ROC-AUC are those
    of that class, whatever its position in ``class_names``. With more classes it must be None.
    """
    labels, scores, names, positive = _validated(y_true, probabilities, class_names, positive_class)
    predicted = scores.argmax(axis=1)
    per_class = _per_class(labels, predicted, scores, names)
    kappa, kappa_note = _kappa(labels, predicted, names)
    auc, auc_note = _roc_auc(labels, scores, names, positive, per_class)

    sensitivity = specificity = None
    sensitivity_note = specificity_note = None
    if positive is not None:
        pos = per_class[names[positive]]
        negative = names[1 - positive]
        sensitivity, specificity = pos["sensitivity"], pos["specificity"]
        if sensitivity is None:
            sensitivity_note = f"undefined: no images of the positive class {names[positive]!r} in the labels"
        if specificity is None:
            specificity_note = f"undefined: no images of the negative class {negative!r} in the labels"

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
    labels, scores, names, positive = _validated(y_true, probabilities, class_names, positive_class)
    if _single_class_note(labels, names) is not None:
        return {}
    wanted = [positive] if positive is not None else range(len(names))
    return {
        names[i]: _curve(labels == i, scores[:, i]) for i in wanted if (labels == i).any() and not (labels == i).all()
    }


def multilabel_report(
    y_true: np.ndarray,
    probabilities: np.ndarray,
    class_names: Sequence[str],
    threshold: float = 0.5,
) -> dict:
    """Per-label metrics of a sigmoid (multi-label) model; a label is predicted when prob >= threshold.

    Each label is its own binary problem whose positive class is the label itself. Returns
    ``{"class_names", "n", "threshold", "per_label": {name: {...}}, "macro_auc", "macro_auc_note"}``.
    """
    names, truth, scores = _check_multilabel(y_true, probabilities, class_names)
    predicted = (scores >= threshold).astype(np.int64)
    counts = multilabel_confusion_matrix(truth, predicted)
    per_label = {}
    for i, name in enumerate(names):
        rates = _one_vs_rest(counts[i])
        auc = _binary_auc(truth[:, i] == 1, scores[:, i])
        per_label[name] = {
            "support": rates["tp"] + rates["fn"],
            "negatives": rates["tn"] + rates["fp"],
            **rates,
            "precision": _ratio(rates["tp"], rates["tp"] + rates["fp"]),
            "auc": auc,
            "auc_note": None if auc is not None else _label_auc_note(truth[:, i], name),
        }

    defined = [name for name in names if per_label[name]["auc"] is not None]
    macro = float(np.mean([per_label[name]["auc"] for name in defined])) if defined else None
    if not defined:
        macro_note = "no label has both positive and negative images"
    elif len(defined) < len(names):
        macro_note = f"mean over the labels with a defined AUC: {_quoted(defined)}"
    else:
        macro_note = None
    return {
        "class_names": names,
        "n": int(truth.shape[0]),
        "threshold": float(threshold),
        "per_label": per_label,
        "macro_auc": macro,
        "macro_auc_note": macro_note,
    }
