"""Metrics against values worked out by hand (counts in the comments), and the positive-class trap."""

import json

import numpy as np
import pytest
from sklearn.metrics import precision_recall_fscore_support, recall_score, roc_auc_score

from camviewer.core.errors import MetricsError
from camviewer.core.evaluation.intervals import wilson
from camviewer.core.evaluation.metrics import ClassificationReport, evaluate_predictions, multilabel_report, roc_points

# Ten biopsies, positive class "malignant" (label 1). Prediction = argmax = "malignant" when p > 0.5.
#   malignant (4): p = 0.95 TP, 0.80 TP, 0.65 TP, 0.40 FN
#   benign    (6): p = 0.55 FP, 0.60 FP, 0.40 TN, 0.30 TN, 0.20 TN, 0.10 TN
# TP=3 FN=1 FP=2 TN=4
BINARY_NAMES = ["benign", "malignant"]
BINARY_LABELS = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
P_MALIGNANT = np.array([0.95, 0.80, 0.65, 0.40, 0.55, 0.60, 0.40, 0.30, 0.20, 0.10])
BINARY_PROBS = np.column_stack([1 - P_MALIGNANT, P_MALIGNANT])


def pairwise_auc(is_positive, score):
    """Independent ROC-AUC: share of (positive, negative) pairs ranked right, ties count one half."""
    pos = [s for s, p in zip(score, is_positive) if p]
    neg = [s for s, p in zip(score, is_positive) if not p]
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in pos for b in neg)
    return wins / (len(pos) * len(neg))


def assert_plain_json(value):
    """Only Python built-ins (no numpy scalars) and no NaN/inf anywhere."""
    if isinstance(value, dict):
        assert all(isinstance(k, str) for k in value)
        for v in value.values():
            assert_plain_json(v)
    elif isinstance(value, list):
        for v in value:
            assert_plain_json(v)
    else:
        assert value is None or type(value) in (int, float, str, bool), type(value)
    json.dumps(value, allow_nan=False)


@pytest.fixture
def binary():
    return evaluate_predictions(BINARY_LABELS, BINARY_PROBS, BINARY_NAMES, positive_class="malignant")


def test_binary_metrics_match_hand_counts(binary):
    assert binary.positive_class == "malignant"
    assert binary.n == 10
    assert binary.confusion_matrix == [[4, 2], [1, 3]]  # rows true benign/malignant
    assert binary.accuracy == pytest.approx(7 / 10)
    assert binary.sensitivity == pytest.approx(3 / 4)  # TP / (TP + FN)
    assert binary.specificity == pytest.approx(4 / 6)  # TN / (TN + FP)
    assert binary.balanced_accuracy == pytest.approx((3 / 4 + 4 / 6) / 2)
    malignant = binary.per_class["malignant"]
    assert (malignant["tp"], malignant["fp"], malignant["fn"], malignant["tn"]) == (3, 2, 1, 4)
    assert malignant["precision"] == pytest.approx(3 / 5)
    assert malignant["recall"] == pytest.approx(3 / 4)
    assert malignant["f1"] == pytest.approx(2 * 3 / (2 * 3 + 2 + 1))
    assert malignant["support"] == 4
    benign = binary.per_class["benign"]
    assert benign["precision"] == pytest.approx(4 / 5)
    assert benign["f1"] == pytest.approx(2 * 4 / (2 * 4 + 1 + 2))
    assert benign["support"] == 6


def test_binary_kappa_by_hand(binary):
    # p_o = 7/10. Truth: 4 malignant, 6 benign; predictions: 5 and 5.
    # p_e = 0.4 * 0.5 + 0.6 * 0.5 = 0.5, kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4
    assert binary.cohen_kappa == pytest.approx(0.4)
    assert binary.cohen_kappa_note is None


def test_binary_auc_by_concordant_pairs(binary):
    # 4 x 6 = 24 pairs. 0.95, 0.80 and 0.65 beat all 6 benign scores (max 0.60): 18.
    # 0.40 beats 0.30, 0.20, 0.10 and ties 0.40: 3.5. AUC = 21.5 / 24.
    assert binary.roc_auc == pytest.approx(21.5 / 24)
    assert binary.roc_auc == pytest.approx(pairwise_auc(np.array(BINARY_LABELS) == 1, P_MALIGNANT))
    assert binary.roc_auc_note is None


def test_report_is_plain_json_and_round_trips(binary):
    data = binary.to_dict()
    assert_plain_json(data)
    assert ClassificationReport.from_dict(json.loads(json.dumps(data))) == binary


def test_seed_003_numbers_with_the_positive_class_stated():
    # Seed 003 reported on 16 tumour ("yes") and 10 normal ("no") test images: sensitivity 90.00 %,
    # specificity 93.75 %, accuracy 92.31 %, kappa 0.8375. 15/16 yes and 9/10 no right fits all of it,
    # except that 90 % is 9/10: the seed measured the "no" class. Kappa: p_o = 24/26,
    # p_e = (16/26)^2 + (10/26)^2 = 356/676, kappa = (624 - 356) / (676 - 356) = 268/320 = 0.8375.
    labels = [1] * 16 + [0] * 10
    p_yes = np.array([0.9] * 15 + [0.3] + [0.2] * 9 + [0.7])
    report = evaluate_predictions(labels, np.column_stack([1 - p_yes, p_yes]), ["no", "yes"], "yes")
    assert report.accuracy == pytest.approx(24 / 26)
    assert report.cohen_kappa == pytest.approx(0.8375)
    assert report.sensitivity == pytest.approx(15 / 16)
    assert report.specificity == pytest.approx(9 / 10)


# ----------------------------------------------------------------------------- positive-class trap


def test_switching_the_positive_class_swaps_sensitivity_and_specificity(binary):
    other = evaluate_predictions(BINARY_LABELS, BINARY_PROBS, BINARY_NAMES, positive_class="benign")
    assert other.positive_class == "benign"
    assert other.sensitivity == binary.specificity == pytest.approx(4 / 6)
    assert other.specificity == binary.sensitivity == pytest.approx(3 / 4)
    # Rows sum to 1, so the benign column ranks the images in exactly the reverse order.
    assert other.roc_auc == pytest.approx(binary.roc_auc)
    assert other.accuracy == binary.accuracy and other.cohen_kappa == binary.cohen_kappa


def test_class_order_does_not_change_who_is_positive(binary):
    reordered = evaluate_predictions(
        [1 - y for y in BINARY_LABELS], BINARY_PROBS[:, ::-1], ["malignant", "benign"], positive_class="malignant"
    )
    assert reordered.positive_class == "malignant"
    assert reordered.sensitivity == pytest.approx(binary.sensitivity)
    assert reordered.specificity == pytest.approx(binary.specificity)
    assert reordered.roc_auc == pytest.approx(binary.roc_auc)
    assert reordered.per_class == binary.per_class
    assert reordered.confusion_matrix == [[3, 1], [2, 4]]  # same counts, malignant first


@pytest.mark.parametrize("positive", [None, "tumour", "Malignant"])
def test_binary_without_a_valid_positive_class_refuses_to_guess(positive):
    with pytest.raises(MetricsError) as error:
        evaluate_predictions(BINARY_LABELS, BINARY_PROBS, BINARY_NAMES, positive_class=positive)
    assert "'benign'" in str(error.value) and "'malignant'" in str(error.value)
    with pytest.raises(MetricsError):
        roc_points(BINARY_LABELS, BINARY_PROBS, BINARY_NAMES, positive_class=positive)


def test_any_class_of_three_can_be_positive_one_vs_rest():
    labels = np.array(THREE_LABELS)
    for k, name in enumerate(THREE_NAMES):
        report = evaluate_predictions(THREE_LABELS, THREE_PROBS, THREE_NAMES, positive_class=name)
        truth, called = labels == k, THREE_PROBS.argmax(axis=1) == k
        assert report.positive_class == name
        assert report.sensitivity == pytest.approx(recall_score(truth, called))
        assert report.specificity == pytest.approx(recall_score(~truth, ~called))
        assert report.roc_auc == pytest.approx(roc_auc_score(truth, THREE_PROBS[:, k]))
        assert report.operating_point["rule"] == "argmax" and report.operating_point["tp"] == np.sum(truth & called)
        # The headline figures keep the accuracy and kappa of all three classes.
        assert report.accuracy == pytest.approx(4 / 7) and report.cohen_kappa == pytest.approx(11 / 32)
    with pytest.raises(MetricsError, match="not one of the class names"):
        evaluate_predictions(THREE_LABELS, THREE_PROBS, THREE_NAMES, positive_class="ovale")


def test_an_operating_rule_other_than_argmax_needs_a_positive_class():
    with pytest.raises(MetricsError, match="needs a positive class"):
        evaluate_predictions(THREE_LABELS, THREE_PROBS, THREE_NAMES, operating="youden")
    report = evaluate_predictions(THREE_LABELS, THREE_PROBS, THREE_NAMES, "uninfected", operating="threshold:0.5")
    assert report.operating_point["threshold"] == 0.5  # 0.50, 0.80, 0.60 -> TP 2 (0.80, 0.60), FP 1 (0.50)
    assert (report.operating_point["tp"], report.operating_point["fp"]) == (2, 1)


def test_per_class_rates_and_intervals_against_sklearn_and_wilson():
    report = evaluate_predictions(THREE_LABELS, THREE_PROBS, THREE_NAMES)
    labels, predicted = np.array(THREE_LABELS), THREE_PROBS.argmax(axis=1)
    precision, recall, f1, _ = precision_recall_fscore_support(labels, predicted, labels=[0, 1, 2])
    for k, name in enumerate(THREE_NAMES):
        values = report.per_class[name]
        truth, called = labels == k, predicted == k
        assert values["ppv"] == pytest.approx(precision[k]) and values["sensitivity"] == pytest.approx(recall[k])
        assert values["f1"] == pytest.approx(f1[k])
        assert values["npv"] == pytest.approx(np.sum(~truth & ~called) / np.sum(~called))
        ci = values["intervals"]
        expected = wilson(int(np.sum(truth & called)), int(truth.sum()))
        assert (ci["sensitivity"]["low"], ci["sensitivity"]["high"], ci["sensitivity"]["n"]) == (
            expected.low,
            expected.high,
            int(truth.sum()),
        )
        assert ci["roc_auc"]["method"] == "delong" and ci["f1"]["method"] == "bootstrap"
        assert ci["f1"]["low"] <= values["f1"] <= ci["f1"]["high"]


def test_headline_intervals_state_method_and_n(binary):
    ci = binary.intervals
    assert ci["accuracy"] == {**wilson(7, 10).to_dict()}
    assert ci["sensitivity"]["n"] == 4 and ci["specificity"]["n"] == 6 and ci["sensitivity"]["method"] == "wilson"
    assert ci["roc_auc"]["method"] == "delong" and ci["roc_auc"]["low"] < binary.roc_auc <= ci["roc_auc"]["high"]
    for name in ("cohen_kappa", "balanced_accuracy"):
        assert ci[name]["method"] == "bootstrap" and ci[name]["n"] == 10
        assert ci[name]["low"] <= getattr(binary, name) <= ci[name]["high"]
    assert binary.interval_methods["confidence"] == 0.95 and "2000 resamples" in binary.interval_methods["bootstrap"]
    three = evaluate_predictions(THREE_LABELS, THREE_PROBS, THREE_NAMES)
    assert three.intervals["roc_auc"]["method"] == "bootstrap"  # the macro AUC
    assert three.intervals["roc_auc"]["low"] <= three.roc_auc <= three.intervals["roc_auc"]["high"]


def test_an_exact_tie_goes_to_the_first_class_like_torch_argmax():
    # The one place where class order matters: 0.5 / 0.5 is called class_names[0], as torch.argmax and
    # numpy.argmax do, so the confusion matrix agrees with the per-image predictions the app shows.
    first = evaluate_predictions([1], [[0.5, 0.5]], BINARY_NAMES, "malignant")
    assert first.confusion_matrix == [[0, 0], [1, 0]]


# ----------------------------------------------------------------------------- undefined metrics


def test_auc_from_one_image_is_none_with_a_note():
    report = evaluate_predictions([1], [[0.2, 0.8]], BINARY_NAMES, "malignant")
    assert report.roc_auc is None
    assert "at least 2 images" in report.roc_auc_note
    assert report.accuracy == 1.0 and report.sensitivity == 1.0
    assert report.specificity is None and "benign" in report.specificity_note
    assert roc_points([1], [[0.2, 0.8]], BINARY_NAMES, "malignant") == {}


def test_auc_from_a_single_class_is_none_with_a_note():
    labels = [0] * 12
    p_malignant = np.array([0.1] * 10 + [0.55, 0.60])
    probs = np.column_stack([1 - p_malignant, p_malignant])
    report = evaluate_predictions(labels, probs, BINARY_NAMES, "malignant")
    assert report.roc_auc is None
    assert report.roc_auc_note == "only one class present in the labels (12 images of 'benign')"
    assert report.sensitivity is None and "malignant" in report.sensitivity_note
    assert report.specificity == pytest.approx(10 / 12)  # 0.55 and 0.60 are false positives
    assert roc_points(labels, probs, BINARY_NAMES, "malignant") == {}
    assert_plain_json(report.to_dict())


def test_kappa_undefined_when_everything_is_one_class():
    report = evaluate_predictions([1, 1, 1], [[0.1, 0.9]] * 3, BINARY_NAMES, "malignant")
    assert report.cohen_kappa is None
    assert "'malignant'" in report.cohen_kappa_note
    assert report.accuracy == 1.0
    assert_plain_json(report.to_dict())


# ----------------------------------------------------------------------------- three classes

# Thin-smear crops. Argmax predictions:  0->0, 0->1, 1->1, 1->2, 2->2, 2->0, 2->2
THREE_NAMES = ["falciparum", "vivax", "uninfected"]
THREE_LABELS = [0, 0, 1, 1, 2, 2, 2]
THREE_PROBS = np.array(
    [
        [0.70, 0.20, 0.10],
        [0.30, 0.50, 0.20],
        [0.10, 0.80, 0.10],
        [0.20, 0.30, 0.50],
        [0.10, 0.10, 0.80],
        [0.45, 0.20, 0.35],
        [0.20, 0.20, 0.60],
    ]
)


def test_three_classes_confusion_matrix_and_kappa_by_hand():
    report = evaluate_predictions(THREE_LABELS, THREE_PROBS, THREE_NAMES)
    assert report.positive_class is None and report.sensitivity is None and report.specificity is None
    assert report.confusion_matrix == [[1, 1, 0], [0, 1, 1], [1, 0, 2]]
    assert report.accuracy == pytest.approx(4 / 7)
    # p_o = 4/7; truth and prediction marginals are both (2, 2, 3)/7: p_e = (4 + 4 + 9)/49 = 17/49
    assert report.cohen_kappa == pytest.approx((28 / 49 - 17 / 49) / (1 - 17 / 49))  # 11/32
    uninfected = report.per_class["uninfected"]  # one-vs-rest: TP 2, FN 1, FP 1, TN 3
    assert uninfected["sensitivity"] == pytest.approx(2 / 3)
    assert uninfected["specificity"] == pytest.approx(3 / 4)
    assert uninfected["precision"] == pytest.approx(2 / 3)


def test_three_classes_macro_auc_is_the_mean_of_one_vs_rest_aucs():
    # falciparum: 0.70 beats all 5 others, 0.30 beats 4 of 5 -> 9/10
    # vivax:      0.80 beats all 5, 0.30 beats 4 of 5        -> 9/10
    # uninfected: 0.80 and 0.60 beat all 4, 0.35 beats 3 of 4 -> 11/12
    labels = np.array(THREE_LABELS)
    by_hand = [9 / 10, 9 / 10, 11 / 12]
    for k, expected in enumerate(by_hand):
        assert pairwise_auc(labels == k, THREE_PROBS[:, k]) == pytest.approx(expected)
    report = evaluate_predictions(THREE_LABELS, THREE_PROBS, THREE_NAMES)
    assert report.roc_auc == pytest.approx(np.mean(by_hand))
    assert report.roc_auc == pytest.approx(
        roc_auc_score(labels, THREE_PROBS, multi_class="ovr", average="macro", labels=[0, 1, 2])
    )
    assert report.roc_auc_note is None
    assert [report.per_class[n]["roc_auc"] for n in THREE_NAMES] == pytest.approx(by_hand)
    curves = roc_points(THREE_LABELS, THREE_PROBS, THREE_NAMES)
    assert list(curves) == THREE_NAMES
    assert [curves[n]["auc"] for n in THREE_NAMES] == pytest.approx(by_hand)


def test_macro_auc_does_not_need_rows_that_sum_to_one():
    # sklearn's multi_class="ovr" refuses such scores; each one-vs-rest AUC only needs a ranking.
    scores = THREE_PROBS * np.arange(1, 8)[:, None]
    labels = np.array(THREE_LABELS)
    expected = np.mean([pairwise_auc(labels == k, scores[:, k]) for k in range(3)])
    assert evaluate_predictions(THREE_LABELS, scores, THREE_NAMES).roc_auc == pytest.approx(expected)


def test_macro_auc_uses_only_the_classes_present_and_says_so():
    keep = [0, 1, 4, 5, 6]  # no vivax in the labels
    labels, probs = np.array(THREE_LABELS)[keep], THREE_PROBS[keep]
    report = evaluate_predictions(labels, probs, THREE_NAMES)
    expected = np.mean([pairwise_auc(labels == 0, probs[:, 0]), pairwise_auc(labels == 2, probs[:, 2])])
    assert report.roc_auc == pytest.approx(expected)
    assert "2 classes present" in report.roc_auc_note and "'vivax'" in report.roc_auc_note
    assert report.per_class["vivax"]["roc_auc"] is None and report.per_class["vivax"]["recall"] is None
    assert set(roc_points(labels, probs, THREE_NAMES)) == {"falciparum", "uninfected"}
    assert_plain_json(report.to_dict())


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "labels, probs, names, message",
    [
        ([0, 1], [[0.5, 0.5, 0.0]] * 2, BINARY_NAMES, "3 columns but there are 2 class names"),
        ([0, 2], [[0.5, 0.5]] * 2, BINARY_NAMES, r"found \[2\]"),
        ([0, -1], [[0.5, 0.5]] * 2, BINARY_NAMES, r"found \[-1\]"),
        ([0, 1, 1], [[0.5, 0.5]] * 2, BINARY_NAMES, "3 labels but 2 rows"),
        ([0, 1], [[np.nan, 0.5], [0.5, 0.5]], BINARY_NAMES, "NaN"),
        ([0.5, 1], [[0.5, 0.5]] * 2, BINARY_NAMES, "integer class indices"),
        ([], np.zeros((0, 2)), BINARY_NAMES, "no images"),
        ([0, 0], [[1.0], [1.0]], ["only"], "at least 2 classes"),
        ([0, 1], [[0.5, 0.5]] * 2, ["a", "a"], "unique"),
    ],
)
def test_bad_inputs_raise_clear_metrics_errors(labels, probs, names, message):
    with pytest.raises(MetricsError, match=message):
        evaluate_predictions(labels, np.asarray(probs), names, positive_class=names[-1])


# ----------------------------------------------------------------------------- multi-label

# Chest X-rays, threshold 0.5. Columns: effusion, nodule, mass.
ML_NAMES = ["effusion", "nodule", "mass"]
ML_TRUTH = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 0], [0, 1, 0]])
ML_PROBS = np.array([[0.9, 0.2, 0.1], [0.4, 0.7, 0.3], [0.3, 0.75, 0.2], [0.2, 0.8, 0.6]])


def test_multilabel_report_by_hand():
    report = multilabel_report(ML_TRUTH, ML_PROBS, ML_NAMES)
    assert_plain_json(report)
    effusion, nodule, mass = (report["per_label"][n] for n in ML_NAMES)
    # effusion: predicted [1,0,0,0] vs truth [1,1,0,0]: TP 1, FN 1, FP 0, TN 2.
    # AUC: positives 0.9, 0.4 beat negatives 0.3, 0.2: 4/4.
    assert (effusion["sensitivity"], effusion["specificity"], effusion["auc"]) == (0.5, 1.0, 1.0)
    assert effusion["support"] == 2
    # nodule: predicted [0,1,1,1] vs truth [0,1,0,1]: TP 2, FP 1, TN 1.
    # AUC: 0.8 beats 0.2 and 0.75; 0.7 beats 0.2 only: 3/4.
    assert (nodule["sensitivity"], nodule["specificity"], nodule["auc"]) == (1.0, 0.5, 0.75)
    assert effusion["intervals"]["sensitivity"] == wilson(1, 2).to_dict()
    assert nodule["intervals"]["specificity"] == wilson(1, 2).to_dict() and nodule["ppv"] == 2 / 3
    assert nodule["intervals"]["auc"]["method"] == "delong"
    # mass: no positive image: AUC and sensitivity undefined; 0.6 is a false positive of 4 negatives.
    assert mass["auc"] is None and "all 4 images are negative" in mass["auc_note"]
    assert mass["sensitivity"] is None and mass["specificity"] == 0.75 and mass["support"] == 0
    assert report["macro_auc"] == pytest.approx((1.0 + 0.75) / 2)
    assert report["macro_auc_note"] == "mean over the labels with a defined AUC: 'effusion', 'nodule'"


def test_multilabel_threshold_changes_the_calls_not_the_auc():
    report = multilabel_report(ML_TRUTH, ML_PROBS, ML_NAMES, threshold=0.3)
    effusion = report["per_label"]["effusion"]  # predicted [1,1,1,0]: TP 2, FP 1, TN 1
    assert (effusion["sensitivity"], effusion["specificity"], effusion["auc"]) == (1.0, 0.5, 1.0)


def test_multilabel_validation():
    with pytest.raises(MetricsError, match="0 or 1"):
        multilabel_report(ML_TRUTH * 2, ML_PROBS, ML_NAMES)
    with pytest.raises(MetricsError, match="shape"):
        multilabel_report(ML_TRUTH[:, :2], ML_PROBS, ML_NAMES)
