"""Calibration: do the probabilities mean what they say? Reliability diagrams and the expected calibration error.

Probabilities are put into equal-width bins over [0, 1] exactly as scikit-learn's
``calibration_curve(strategy="uniform")`` does (a value on an inner edge goes to the lower bin), and for
each bin the mean predicted probability is set against the observed frequency. The expected calibration
error (ECE) is the image-weighted mean gap ``sum_b n_b / N * |observed_b - predicted_b|``; ``max_gap`` is
the largest gap of a non-empty bin.

* **top label** (every single-label model): the probability of the predicted class against whether the
  prediction was right (Guo et al. 2017);
* **positive class** (when one is named): its probability against whether the image is of that class,
  with the Brier score (mean squared error of that probability).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import brier_score_loss

BINS = 10


def reliability(predicted: np.ndarray, observed: np.ndarray, bins: int = BINS) -> dict:
    """Per-bin counts, mean predicted probability and observed frequency; ECE and the largest gap."""
    predicted = np.clip(np.asarray(predicted, dtype=np.float64), 0.0, 1.0)  # sums of softmax outputs may pass 1 by 1e-7
    observed = np.asarray(observed, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.searchsorted(edges[1:-1], predicted)
    count = np.bincount(which, minlength=bins)
    predicted_sum = np.bincount(which, weights=predicted, minlength=bins)
    observed_sum = np.bincount(which, weights=observed, minlength=bins)
    rows, gaps = [], []
    for b in range(bins):
        mean_predicted = predicted_sum[b] / count[b] if count[b] else None
        frequency = observed_sum[b] / count[b] if count[b] else None
        if count[b]:
            gaps.append((count[b], abs(frequency - mean_predicted)))
        rows.append(
            {
                "low": float(edges[b]),
                "high": float(edges[b + 1]),
                "count": int(count[b]),
                "mean_predicted": None if mean_predicted is None else float(mean_predicted),
                "observed": None if frequency is None else float(frequency),
            }
        )
    total = len(predicted)
    return {
        "n": int(total),
        "ece": float(sum(n * gap for n, gap in gaps) / total),
        "max_gap": float(max(gap for _, gap in gaps)),
        "bins": rows,
    }


def calibration_report(labels: np.ndarray, scores: np.ndarray, positive: int | None, names: list[str]) -> dict:
    """Top-label reliability, and the positive class's (with its Brier score) when there is one."""
    predicted = scores.argmax(axis=1)
    out = {
        "bins": BINS,
        "binning": "equal width over [0, 1]",
        "top_label": reliability(scores.max(axis=1), predicted == labels),
        "positive_class": None,
    }
    if positive is not None:
        is_positive = labels == positive
        probability = np.clip(scores[:, positive], 0.0, 1.0)
        out["positive_class"] = {
            "name": names[positive],
            **reliability(probability, is_positive),
            "brier": float(brier_score_loss(is_positive, probability, pos_label=True)),
        }
    return out
