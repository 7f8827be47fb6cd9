"""95% confidence intervals: Wilson for proportions, DeLong for ROC-AUC, a stratified bootstrap for the rest.

* **Wilson score** (scipy's ``binomtest(...).proportion_ci(method="wilson")``): sensitivity, specificity,
  PPV, NPV, accuracy. It stays inside [0, 1] and is honest for small counts and for 0 % or 100 %.
* **DeLong** (DeLong et al. 1988, with the midrank algorithm of Sun & Xu 2014): the variance of the
  empirical ROC-AUC from its structural components; the interval is AUC ± z·SE, clipped to [0, 1]
  (as pROC does). It needs at least two images on each side.
* **Stratified bootstrap** (percentile): kappa, balanced accuracy, F1 and the macro AUC. Each resample
  draws, within every true class, as many images as the class has (with replacement), so every resample
  keeps the class counts and every one-vs-rest AUC stays defined. A resample is a vector of counts
  (how often each image was drawn) and the statistics are computed on those weights for all resamples at
  once; :func:`weighted_auc` and :func:`confusion_counts` equal scikit-learn on the expanded data.
  Seeded: the same evaluation gives the same interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass

import numpy as np

CONFIDENCE = 0.95
RESAMPLES = 2000
SEED = 0
CHUNK_CELLS = 4_000_000  # counts held at once: resamples x images


@dataclass
class Interval:
    """A confidence interval; ``n`` is the number of images the estimate rests on (a proportion's denominator)."""

    low: float
    high: float
    method: str  # "wilson", "delong" or "bootstrap"
    n: int
    note: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def methods_text(resamples: int = RESAMPLES, seed: int = SEED, confidence: float = CONFIDENCE) -> dict:
    """How the intervals were computed, as metrics.json states it."""
    return {
        "confidence": confidence,
        "wilson": "Wilson score interval (sensitivity, specificity, PPV, NPV, accuracy)",
        "delong": "DeLong variance of the ROC-AUC, AUC +/- z*SE clipped to [0, 1]",
        "bootstrap": f"stratified bootstrap, {resamples} resamples within each true class, percentile, seed {seed} "
        "(Cohen's kappa, balanced accuracy, F1, macro ROC-AUC)",
        "resamples": resamples,
        "seed": seed,
    }


def _z(confidence: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(0.5 + confidence / 2))


# ----------------------------------------------------------------------------- Wilson


def wilson(successes: int, n: int, confidence: float = CONFIDENCE) -> Interval | None:
    """Wilson score interval of ``successes / n``; None when n is 0."""
    if n <= 0:
        return None
    from scipy.stats import binomtest

    ci = binomtest(int(successes), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return Interval(float(ci.low), float(ci.high), "wilson", int(n))


# ----------------------------------------------------------------------------- DeLong


def _midranks(values: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(values, method="average")


def delong_variance(is_positive: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    """(AUC, DeLong variance) of one score column; needs at least two positives and two negatives."""
    is_positive = np.asarray(is_positive, dtype=bool)
    score = np.asarray(score, dtype=np.float64)
    positives, negatives = score[is_positive], score[~is_positive]
    m, n = len(positives), len(negatives)
    if m < 2 or n < 2:
        raise ValueError(f"DeLong needs at least 2 positive and 2 negative images; got {m} and {n}")
    everything = _midranks(np.concatenate([positives, negatives]))
    # Structural components: V10[i] is the share of negatives that positive i outranks (ties 1/2),
    # V01[j] the share of positives that outrank negative j.
    v10 = (everything[:m] - _midranks(positives)) / n
    v01 = 1.0 - (everything[m:] - _midranks(negatives)) / m
    auc = float(v10.mean())
    return auc, float(v10.var(ddof=1) / m + v01.var(ddof=1) / n)


def delong(is_positive: np.ndarray, score: np.ndarray, confidence: float = CONFIDENCE) -> Interval | None:
    """DeLong interval of the ROC-AUC; None with fewer than two images on either side."""
    is_positive = np.asarray(is_positive, dtype=bool)
    m = int(is_positive.sum())
    if m < 2 or len(is_positive) - m < 2:
        return None
    auc, variance = delong_variance(is_positive, score)
    half = _z(confidence) * math.sqrt(variance)
    note = None
    if variance == 0:
        note = "every positive outranks every negative (or none does): the interval collapses to a point"
    return Interval(max(0.0, auc - half), min(1.0, auc + half), "delong", len(is_positive), note)


# ----------------------------------------------------------------------------- bootstrap


def stratified_counts(
    labels: np.ndarray, resamples: int = RESAMPLES, seed: int = SEED, chunk_cells: int = CHUNK_CELLS
) -> Iterator[np.ndarray]:
    """Chunks of bootstrap resamples as (resamples, images) draw counts, drawn within each true class."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    # In order of first appearance, so that renaming or reordering the classes draws the same resamples.
    strata = sorted((np.flatnonzero(labels == value) for value in np.unique(labels)), key=lambda m: m[0])
    per_chunk = max(1, chunk_cells // max(1, len(labels)))
    for start in range(0, resamples, per_chunk):
        size = min(per_chunk, resamples - start)
        counts = np.zeros((size, len(labels)), dtype=np.int64)
        for members in strata:  # len(members) draws with replacement per resample, counted per image
            draws = rng.integers(0, len(members), size=(size, len(members)))
            draws += np.arange(size)[:, None] * len(members)
            counts[:, members] = np.bincount(draws.ravel(), minlength=size * len(members)).reshape(size, -1)
        yield counts


def bootstrap(
    labels: np.ndarray,
    statistics: Callable[[np.ndarray], Mapping[str, np.ndarray]],
    resamples: int = RESAMPLES,
    seed: int = SEED,
    confidence: float = CONFIDENCE,
) -> dict[str, Interval | None]:
    """Percentile intervals of several statistics over the same stratified resamples.

    ``statistics`` maps a (resamples, images) count array to ``{name: one value per resample}`` (NaN
    where undefined on that resample); one call per chunk lets them share work such as the confusion
    matrices. A statistic undefined on every resample gets None.
    """
    values: dict[str, list[np.ndarray]] = {}
    for counts in stratified_counts(labels, resamples, seed):
        for name, drawn in statistics(counts).items():
            values.setdefault(name, []).append(np.asarray(drawn, dtype=np.float64))
    tail = 100 * (1 - confidence) / 2
    out: dict[str, Interval | None] = {}
    for name, chunks in values.items():
        drawn = np.concatenate(chunks)
        defined = drawn[~np.isnan(drawn)]
        if not len(defined):
            out[name] = None
            continue
        low, high = np.percentile(defined, [tail, 100 - tail])
        note = None if len(defined) == len(drawn) else f"undefined on {len(drawn) - len(defined)} resamples"
        out[name] = Interval(float(low), float(high), "bootstrap", len(labels), note)
    return out


# ----------------------------------------------------------------------------- statistics on weights


def confusion_counts(counts: np.ndarray, truth: np.ndarray, predicted: np.ndarray, k: int) -> np.ndarray:
    """(resamples, k, k) confusion matrices of weighted images; rows are the truth."""
    cell = np.asarray(truth) * k + np.asarray(predicted)
    order = np.argsort(cell, kind="stable")  # images grouped by cell: one summed slice per cell
    present, starts = np.unique(cell[order], return_index=True)
    out = np.zeros((len(counts), k * k))
    out[:, present] = np.add.reduceat(counts[:, order], starts, axis=1)
    return out.reshape(-1, k, k)


def kappa_of(confusion: np.ndarray) -> np.ndarray:
    """Cohen's kappa of each confusion matrix; NaN where chance agreement is 1."""
    total = confusion.sum(axis=(1, 2))
    observed = np.trace(confusion, axis1=1, axis2=2) / total
    expected = (confusion.sum(axis=2) * confusion.sum(axis=1)).sum(axis=1) / total**2
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(expected < 1, (observed - expected) / (1 - expected), np.nan)


def balanced_accuracy_of(confusion: np.ndarray) -> np.ndarray:
    """Mean recall over the classes present (rows with images)."""
    rows = confusion.sum(axis=2)
    present = rows[0] > 0  # stratified: every resample has the same rows
    recall = np.diagonal(confusion, axis1=1, axis2=2)[:, present] / rows[:, present]
    return recall.mean(axis=1)


def f1_of(confusion: np.ndarray, index: int) -> np.ndarray:
    """F1 of one class, one vs rest; NaN where it has no true and no predicted image."""
    tp = confusion[:, index, index]
    denominator = confusion[:, index, :].sum(axis=1) + confusion[:, :, index].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, 2 * tp / denominator, np.nan)


def weighted_auc(counts: np.ndarray, is_positive: np.ndarray, score: np.ndarray) -> np.ndarray:
    """ROC-AUC of each resample (images weighted by their draw counts); ties count one half.

    The negatives are sorted by score once; for each resample a cumulative sum of their weights gives,
    for every positive, the weight of the negatives below it and tied with it: one pass per resample
    instead of a sort per resample.
    """
    is_positive = np.asarray(is_positive, dtype=bool)
    score = np.asarray(score)
    negatives = np.flatnonzero(~is_positive)
    negatives = negatives[np.argsort(score[negatives], kind="stable")]
    positives = np.flatnonzero(is_positive)
    ranked = score[negatives]
    below_at = np.searchsorted(ranked, score[positives], side="left")
    up_to = np.searchsorted(ranked, score[positives], side="right")
    negative_weights = counts[:, negatives].astype(np.float64)
    cumulative = np.zeros((len(counts), len(negatives) + 1))
    np.cumsum(negative_weights, axis=1, out=cumulative[:, 1:])
    below, tied = cumulative[:, below_at], cumulative[:, up_to] - cumulative[:, below_at]
    positive_weights = counts[:, positives]
    wins = (positive_weights * (below + 0.5 * tied)).sum(axis=1)
    pairs = positive_weights.sum(axis=1) * cumulative[:, -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(pairs > 0, wins / pairs, np.nan)
