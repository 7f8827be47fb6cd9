"""Validation of what is handed to the metrics: class names, labels, scores, the positive class."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from camviewer.core.errors import MetricsError


def quoted(names: Sequence[str]) -> str:
    return ", ".join(repr(name) for name in names)


def check_class_names(class_names: Sequence[str]) -> list[str]:
    names = [str(name) for name in class_names]
    if len(names) < 2:
        raise MetricsError(f"at least 2 classes are needed to evaluate a classifier; got {names}")
    if len(set(names)) != len(names):
        raise MetricsError(f"class names must be unique; got {quoted(names)}")
    return names


def check_scores(probabilities: Any, names: list[str], n_rows: int) -> np.ndarray:
    scores = np.asarray(probabilities, dtype=np.float64)
    if scores.ndim != 2:
        raise MetricsError(f"probabilities must be a 2-D array (images x classes); got shape {scores.shape}")
    if scores.shape[1] != len(names):
        raise MetricsError(
            f"probabilities have {scores.shape[1]} columns but there are {len(names)} class names ({quoted(names)})"
        )
    if scores.shape[0] != n_rows:
        raise MetricsError(f"{n_rows} labels but {scores.shape[0]} rows of probabilities")
    if not np.all(np.isfinite(scores)):
        bad_row = int(np.argwhere(~np.isfinite(scores))[0, 0])
        raise MetricsError(f"probabilities contain NaN or infinite values (first at row {bad_row})")
    return scores


def check_labels(y_true: Any, n_classes: int) -> np.ndarray:
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


def positive_index(positive_class: str | None, names: list[str]) -> int | None:
    """The index of the positive class: required for two classes, optional (one vs rest) for more."""
    if positive_class is None:
        if len(names) > 2:
            return None
        raise MetricsError(
            f"a two-class evaluation needs an explicit positive class: pass positive_class as one of {quoted(names)}"
        )
    if positive_class not in names:
        raise MetricsError(f"positive class {positive_class!r} is not one of the class names: {quoted(names)}")
    return names.index(positive_class)


def validated(y_true, probabilities, class_names, positive_class):
    """(labels, scores, names, positive index) after every check."""
    names = check_class_names(class_names)
    labels = check_labels(y_true, len(names))
    scores = check_scores(probabilities, names, len(labels))
    return labels, scores, names, positive_index(positive_class, names)


def check_multilabel(y_true, probabilities, class_names) -> tuple[list[str], np.ndarray, np.ndarray]:
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
    return names, truth.astype(np.int64), check_scores(probabilities, names, truth.shape[0])
