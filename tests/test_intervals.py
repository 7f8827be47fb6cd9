"""Confidence intervals, operating points and calibration against published, hand-worked and reference values."""

import math

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    balanced_accuracy_score,
    brier_score_loss,
    cohen_kappa_score,
    f1_score,
    roc_auc_score,
)

from camviewer.core.errors import MetricsError
from camviewer.core.evaluation.calibration import calibration_report, reliability
from camviewer.core.evaluation.intervals import (
    balanced_accuracy_of,
    bootstrap,
    confusion_counts,
    delong,
    delong_variance,
    f1_of,
    kappa_of,
    stratified_counts,
    weighted_auc,
    wilson,
)
from camviewer.core.evaluation.operating import OperatingRule, operating_point

# ----------------------------------------------------------------------------- Wilson


@pytest.mark.parametrize(
    "successes, n, low, high",
    # Newcombe (1998), Statistics in Medicine 17:857-872, Table I, method 3 (score interval, no continuity correction)
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)],
)
def test_wilson_matches_newcombes_published_intervals(successes, n, low, high):
    interval = wilson(successes, n)
    assert (interval.low, interval.high) == (pytest.approx(low, abs=5e-5), pytest.approx(high, abs=5e-5))
    assert interval.method == "wilson" and interval.n == n


@pytest.mark.parametrize("successes, n", [(3, 4), (4, 6), (10, 10), (7, 250)])
def test_wilson_matches_the_closed_form(successes, n):
    z = norm.ppf(0.975)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    interval = wilson(successes, n)
    assert interval.low == pytest.approx(max(0.0, centre - half)) and interval.high == pytest.approx(centre + half)


def test_wilson_of_nothing_is_none():
    assert wilson(0, 0) is None


# ----------------------------------------------------------------------------- DeLong


def psi_components(is_positive, score):
    """DeLong's structural components from their definition (pairs, ties 1/2): an independent path."""
    pos = [s for s, p in zip(score, is_positive) if p]
    neg = [s for s, p in zip(score, is_positive) if not p]

    def psi(x, y):
        return 1.0 if x > y else 0.5 if x == y else 0.0

    v10 = [np.mean([psi(x, y) for y in neg]) for x in pos]
    v01 = [np.mean([psi(x, y) for x in pos]) for y in neg]
    return np.mean(v10), np.var(v10, ddof=1) / len(pos) + np.var(v01, ddof=1) / len(neg)


def test_delong_on_a_hand_worked_example():
    # Positives 0.9, 0.6, 0.4; negatives 0.5, 0.3.
    # V10 = [1, 1, 1/2] (0.4 beats 0.3 only); V01 = [2/3, 1] (0.5 is beaten by 0.9 and 0.6).
    # AUC = 2.5/3 = 5/6; S10 = var([1, 1, .5]) = 1/12; S01 = var([2/3, 1]) = 1/18;
    # Var = S10/3 + S01/2 = 1/36 + 1/36 = 1/18.
    is_positive = np.array([1, 1, 1, 0, 0], bool)
    score = np.array([0.9, 0.6, 0.4, 0.5, 0.3])
    auc, variance = delong_variance(is_positive, score)
    assert auc == pytest.approx(5 / 6) and variance == pytest.approx(1 / 18)
    interval = delong(is_positive, score)
    half = norm.ppf(0.975) * math.sqrt(1 / 18)
    assert (interval.low, interval.high) == (pytest.approx(5 / 6 - half), 1.0)  # clipped at 1
    assert interval.method == "delong" and interval.n == 5


def test_delong_with_ties_matches_the_pairwise_definition():
    rng = np.random.default_rng(4)
    is_positive = rng.random(60) < 0.4
    score = np.round(rng.random(60) + 0.4 * is_positive, 1)  # coarse: many ties
    auc, variance = delong_variance(is_positive, score)
    expected_auc, expected_variance = psi_components(is_positive, score)
    assert auc == pytest.approx(roc_auc_score(is_positive, score)) == pytest.approx(expected_auc)
    assert variance == pytest.approx(expected_variance)


def test_delong_standard_error_agrees_with_a_large_bootstrap():
    rng = np.random.default_rng(7)
    is_positive = np.r_[np.ones(80, bool), np.zeros(120, bool)]
    score = rng.normal(size=200) + 1.0 * is_positive
    _, variance = delong_variance(is_positive, score)
    aucs = np.concatenate(
        [weighted_auc(counts, is_positive, score) for counts in stratified_counts(is_positive, 4000, seed=1)]
    )
    assert np.std(aucs, ddof=1) == pytest.approx(math.sqrt(variance), rel=0.08)


def test_delong_needs_two_images_on_each_side_and_says_when_it_collapses():
    assert delong(np.array([1, 0, 0], bool), np.array([0.9, 0.1, 0.2])) is None
    perfect = delong(np.array([1, 1, 0, 0], bool), np.array([0.9, 0.8, 0.1, 0.2]))
    assert (perfect.low, perfect.high) == (1.0, 1.0) and "collapses" in perfect.note


# ----------------------------------------------------------------------------- bootstrap

rng = np.random.default_rng(11)
truth3 = rng.integers(0, 3, 45)
scores3 = rng.dirichlet([1, 1, 1], 45) + np.eye(3)[truth3] * 0.4
predicted3 = scores3.argmax(axis=1)


def test_resamples_keep_every_class_count():
    counts = np.concatenate(list(stratified_counts(truth3, 300, seed=2, chunk_cells=45 * 64)))
    assert counts.shape == (300, 45)
    for k in range(3):
        assert (counts[:, truth3 == k].sum(axis=1) == np.sum(truth3 == k)).all()


def test_weighted_statistics_equal_sklearn_on_the_expanded_resamples():
    counts = next(stratified_counts(truth3, 20, seed=5))
    confusion = confusion_counts(counts, truth3, predicted3, 3)
    kappa, balanced, f1 = kappa_of(confusion), balanced_accuracy_of(confusion), f1_of(confusion, 2)
    auc = weighted_auc(counts, truth3 == 1, scores3[:, 1])
    for b in range(20):
        rows = np.repeat(np.arange(45), counts[b])
        truth, predicted = truth3[rows], predicted3[rows]
        assert kappa[b] == pytest.approx(cohen_kappa_score(truth, predicted))
        assert balanced[b] == pytest.approx(balanced_accuracy_score(truth, predicted))
        assert f1[b] == pytest.approx(f1_score(truth, predicted, labels=[2], average=None)[0])
        assert auc[b] == pytest.approx(roc_auc_score(truth == 1, scores3[rows, 1]))


def plain_kappa(truth, predicted):
    """Cohen's kappa from its definition (sklearn's cohen_kappa_score agrees: see the test above)."""
    matrix = np.bincount(truth * 3 + predicted, minlength=9).reshape(3, 3) / len(truth)
    expected = matrix.sum(axis=1) @ matrix.sum(axis=0)
    return (np.trace(matrix) - expected) / (1 - expected)


def test_bootstrap_kappa_interval_agrees_with_a_plain_index_bootstrap():
    ours = bootstrap(truth3, lambda c: {"kappa": kappa_of(confusion_counts(c, truth3, predicted3, 3))}, 4000)["kappa"]
    draw = np.random.default_rng(99)  # other draws, drawn as indices: the intervals agree to sampling noise
    strata = [np.flatnonzero(truth3 == k) for k in range(3)]
    plain = []
    for _ in range(4000):
        rows = np.concatenate([draw.choice(members, len(members)) for members in strata])
        plain.append(plain_kappa(truth3[rows], predicted3[rows]))
    low, high = np.percentile(plain, [2.5, 97.5])
    assert ours.low == pytest.approx(low, abs=0.03) and ours.high == pytest.approx(high, abs=0.03)
    assert ours.method == "bootstrap" and ours.n == 45
    assert ours.low < cohen_kappa_score(truth3, predicted3) < ours.high


def test_bootstrap_is_seeded():
    statistic = lambda c: {"kappa": kappa_of(confusion_counts(c, truth3, predicted3, 3))}  # noqa: E731
    assert bootstrap(truth3, statistic, 200, seed=3) == bootstrap(truth3, statistic, 200, seed=3)


# ----------------------------------------------------------------------------- operating points

# Ten biopsies, positive "malignant" (index 1); the same set as test_metrics.
LABELS = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
P = np.array([0.95, 0.80, 0.65, 0.40, 0.55, 0.60, 0.40, 0.30, 0.20, 0.10])
PROBS = np.column_stack([1 - P, P])


def test_argmax_operating_point_by_hand():
    point = operating_point("argmax", LABELS, PROBS, 1)
    # p > 0.5: TP 3 (0.95, 0.80, 0.65), FN 1 (0.40), FP 2 (0.55, 0.60), TN 4
    assert (point["tp"], point["fp"], point["fn"], point["tn"]) == (3, 2, 1, 4)
    assert point["threshold"] is None and point["note"] is None
    assert point["sensitivity"] == 3 / 4 and point["specificity"] == 4 / 6
    assert point["ppv"] == 3 / 5 and point["npv"] == 4 / 5 and point["accuracy"] == 7 / 10
    assert point["f1"] == pytest.approx(6 / 9) and point["youden_j"] == pytest.approx(3 / 4 + 4 / 6 - 1)
    ci = point["intervals"]
    assert (ci["ppv"]["low"], ci["ppv"]["high"]) == (wilson(3, 5).low, wilson(3, 5).high)
    assert ci["npv"]["n"] == 5 and ci["accuracy"]["n"] == 10 and ci["f1"]["method"] == "bootstrap"


def test_youden_picks_the_threshold_with_the_best_j_by_hand():
    # threshold 0.65: TP 3, FP 0 -> J = 3/4;  0.55: TP 3, FP 2 -> 3/4 - 2/6;  0.40: TP 4, FP 3 -> 1 - 3/6 = 1/2
    point = operating_point("youden", LABELS, PROBS, 1)
    assert point["threshold"] == 0.65 and (point["tp"], point["fp"]) == (3, 0)
    assert point["youden_j"] == pytest.approx(3 / 4) and "chosen on these images" in point["note"]


def test_target_sensitivity_takes_the_highest_threshold_that_reaches_it():
    point = operating_point("sensitivity:0.9", LABELS, PROBS, 1)  # 3/4 < 0.9: down to 0.40, TP 4 and FP 3
    assert point["threshold"] == 0.40 and point["sensitivity"] == 1.0 and point["specificity"] == 3 / 6
    assert operating_point("sensitivity:0.75", LABELS, PROBS, 1)["threshold"] == 0.65


def test_fixed_threshold_counts_ties_as_positive():
    point = operating_point("threshold:0.4", LABELS, PROBS, 1)
    assert (point["tp"], point["fp"], point["fn"], point["tn"]) == (4, 3, 0, 3) and point["note"] is None


def test_one_vs_rest_operating_point_in_three_classes():
    point = operating_point("threshold:0.5", truth3, scores3, 2)
    called, truth = scores3[:, 2] >= 0.5, truth3 == 2
    assert point["tp"] == np.sum(called & truth) and point["tn"] == np.sum(~called & ~truth)


@pytest.mark.parametrize("text", ["youdens", "sensitivity", "sensitivity:1.5", "threshold:x", "argmax:0.5"])
def test_bad_operating_rules_are_refused(text):
    with pytest.raises(MetricsError):
        OperatingRule.parse(text)


def test_operating_rules_round_trip_as_text():
    for text in ("argmax", "youden", "sensitivity:0.9", "threshold:0.3"):
        assert str(OperatingRule.parse(text)) == text


# ----------------------------------------------------------------------------- calibration


def test_reliability_bins_match_sklearn_and_ece_is_worked_by_hand():
    predicted = np.array([0.05, 0.1, 0.15, 0.5, 0.55, 0.9, 0.95, 1.0])
    observed = np.array([0, 0, 1, 0, 1, 1, 1, 1])
    curve = reliability(predicted, observed, bins=4)
    filled = [row for row in curve["bins"] if row["count"]]
    frequency, mean = calibration_curve(observed, predicted, n_bins=4)
    assert [row["observed"] for row in filled] == pytest.approx(frequency)
    assert [row["mean_predicted"] for row in filled] == pytest.approx(mean)
    # bins [0, .25]: 0.05, 0.1, 0.15 -> mean 0.1, observed 1/3; (.25, .5]: 0.5 -> 0.5 vs 0;
    # (.5, .75]: 0.55 vs 1; (.75, 1]: 0.9, 0.95, 1.0 -> 0.95 vs 1.
    gaps = [(3, abs(1 / 3 - 0.1)), (1, 0.5), (1, 0.45), (3, 0.05)]
    assert curve["ece"] == pytest.approx(sum(n * g for n, g in gaps) / 8)
    assert curve["max_gap"] == pytest.approx(0.5) and [r["count"] for r in curve["bins"]] == [3, 1, 1, 3]


def test_calibration_report_top_label_and_positive_class():
    report = calibration_report(LABELS, PROBS, 1, ["benign", "malignant"])
    top = reliability(PROBS.max(axis=1), PROBS.argmax(axis=1) == LABELS)
    assert report["top_label"] == top
    positive = report["positive_class"]
    assert positive["name"] == "malignant" and positive["brier"] == pytest.approx(brier_score_loss(LABELS, P))
    frequency, _ = calibration_curve(LABELS, P, n_bins=10)
    assert [row["observed"] for row in positive["bins"] if row["count"]] == pytest.approx(frequency)
    assert calibration_report(LABELS, PROBS, None, ["benign", "malignant"])["positive_class"] is None
