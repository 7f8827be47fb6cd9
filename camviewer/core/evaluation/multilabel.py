"""Metrics of a sigmoid (multi-label) model: each label is its own two-class problem, positive = the label."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import multilabel_confusion_matrix, roc_auc_score

from camviewer.core.evaluation.checks import check_multilabel, quoted
from camviewer.core.evaluation.intervals import delong
from camviewer.core.evaluation.operating import binary_rates


def _label_auc_note(column: np.ndarray, name: str) -> str:
    if len(column) < 2:
        return f"ROC-AUC needs at least 2 images; got {len(column)}"
    side = "positive" if column.all() else "negative"
    return f"undefined: all {len(column)} images are {side} for {name!r}"


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
    names, truth, scores = check_multilabel(y_true, probabilities, class_names)
    predicted = (scores >= threshold).astype(np.int64)
    counts = multilabel_confusion_matrix(truth, predicted)
    per_label = {}
    for i, name in enumerate(names):
        (tn, fp), (fn, tp) = counts[i].tolist()
        is_positive = truth[:, i] == 1
        defined = is_positive.any() and not is_positive.all()
        auc = float(roc_auc_score(is_positive, scores[:, i])) if defined else None
        rates = binary_rates(tp, fp, fn, tn)
        auc_interval = delong(is_positive, scores[:, i]) if defined else None
        rates["intervals"]["auc"] = auc_interval.to_dict() if auc_interval else None
        per_label[name] = {
            "support": tp + fn,
            "negatives": tn + fp,
            **rates,
            "precision": rates["ppv"],
            "auc": auc,
            "auc_note": None if auc is not None else _label_auc_note(truth[:, i], name),
        }

    defined = [name for name in names if per_label[name]["auc"] is not None]
    macro = float(np.mean([per_label[name]["auc"] for name in defined])) if defined else None
    if not defined:
        macro_note = "no label has both positive and negative images"
    elif len(defined) < len(names):
        macro_note = f"mean over the labels with a defined AUC: {quoted(defined)}"
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
