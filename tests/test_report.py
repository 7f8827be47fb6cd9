"""Report files: contents that round-trip, PNGs that are real pictures, atomic writes, no pyplot."""

import ast
import csv
import errno
import itertools
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import camviewer.core.evaluation.report as report_module
from camviewer.core.errors import MetricsError, WriteFailed
from camviewer.core.evaluation.metrics import ClassificationReport, evaluate_predictions, roc_points
from camviewer.core.evaluation.report import (
    _write_atomically,
    plot_confusion_matrix,
    plot_roc,
    plot_training_curves,
    write_evaluation_report,
)

NAMES = ["benign", "malignant"]
LABELS = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
P_MALIGNANT = np.array([0.95, 0.80, 0.65, 0.40, 0.55, 0.60, 0.40, 0.30, 0.20, 0.10])
PROBS = np.column_stack([1 - P_MALIGNANT, P_MALIGNANT])

HISTORY = """epoch,train_loss,val_loss,train_acc,val_acc,lr,seconds
1,0.69,0.70,0.52,0.50,0.001,10.5
2,0.52,0.58,0.74,0.70,0.001,10.1
3,0.41,0.49,0.81,0.78,0.0005,10.3
4,0.33,0.51,0.86,0.77,0.0005,10.2
"""


PREDICTIONS = [
    {"path": "a.png", "true": "malignant", "predicted": "malignant", "p_malignant": 0.95},
    {"path": "b.png", "true": "benign", "predicted": "malignant", "p_malignant": 0.55, "note": "ruler"},
]


@pytest.fixture(scope="module")
def report():
    return evaluate_predictions(LABELS, PROBS, NAMES, positive_class="malignant")


@pytest.fixture(scope="module")
def roc():
    return roc_points(LABELS, PROBS, NAMES, positive_class="malignant")


@pytest.fixture(scope="module")
def full_report(tmp_path_factory, report, roc):
    """One complete binary report, written once for the tests that only read it (figures are slow)."""
    folder = tmp_path_factory.mktemp("report")
    history = folder / "history.csv"
    history.write_text(HISTORY)
    out = folder / "new" / "out"
    return out, write_evaluation_report(out, report, roc, predictions=PREDICTIONS, history_csv=history)


def read_png(path, min_side=300, max_side=2000):
    """Open a PNG with Pillow, check it is one of a sensible size, return it as grey levels."""
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert min_side <= min(image.size) and max(image.size) <= max_side, image.size
        return np.asarray(image.convert("L"), dtype=np.float64)


def test_write_evaluation_report_writes_every_file(full_report):
    out, written = full_report
    assert set(written) == {
        "metrics.json",
        "roc.csv",
        "predictions.csv",
        "confusion_matrix.png",
        "roc.png",
        "calibration.png",
        "training_curves.png",
    }
    assert all(path.parent == out and path.is_file() for path in written.values())
    assert sorted(p.name for p in out.iterdir()) == sorted(written)  # no temporary files left behind


def test_predictions_csv_keeps_the_key_order(full_report):
    with open(full_report[1]["predictions.csv"], newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["path", "true", "predicted", "p_malignant", "note"]  # first-seen key order
    assert rows[0]["note"] == "" and rows[1]["note"] == "ruler" and float(rows[1]["p_malignant"]) == 0.55


def test_metrics_json_round_trips(full_report, report):
    data = json.loads(full_report[1]["metrics.json"].read_text())
    assert data["positive_class"] == "malignant"
    assert data["sensitivity"] == pytest.approx(3 / 4) and data["specificity"] == pytest.approx(4 / 6)
    assert data["cohen_kappa"] == pytest.approx(0.4)
    assert data["roc_auc"] == pytest.approx(21.5 / 24)
    assert data["roc_curve_auc"] == {"malignant": pytest.approx(21.5 / 24)}
    assert data["confusion_matrix"] == [[4, 2], [1, 3]]
    assert ClassificationReport.from_dict(data) == report


def test_roc_csv_runs_from_origin_to_one_one(full_report):
    with open(full_report[1]["roc.csv"], newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["curve", "fpr", "tpr", "threshold"]
    assert {row["curve"] for row in rows} == {"malignant"}
    points = [(float(row["fpr"]), float(row["tpr"])) for row in rows]
    assert points[0] == (0.0, 0.0) and points[-1] == (1.0, 1.0)
    assert all(a <= c and b <= d for (a, b), (c, d) in itertools.pairwise(points))  # monotone
    assert float(rows[0]["threshold"]) == float("inf")  # sklearn's "call nothing positive" point


def test_pngs_are_real_pictures(full_report):
    written = full_report[1]
    assert read_png(written["confusion_matrix.png"]).std() > 20  # dark cells and text, not a blank canvas
    assert read_png(written["roc.png"]).std() > 10
    curves = read_png(written["training_curves.png"])
    assert curves.shape[1] > curves.shape[0]  # loss, accuracy and learning rate side by side
    assert curves.std() > 10
    calibration = read_png(written["calibration.png"])
    assert calibration.std() > 10 and calibration.shape[1] > 2 * calibration.shape[0] * 0.9  # two diagrams


def test_building_blocks_write_where_they_are_told(tmp_path, report, roc):
    assert plot_confusion_matrix(report, tmp_path / "cm.png") == tmp_path / "cm.png"
    assert read_png(tmp_path / "cm.png").std() > 20


def test_roc_png_without_curves_shows_the_note(tmp_path):
    empty = plot_roc({}, tmp_path / "empty.png", note="only one class present in the labels")
    assert read_png(empty).std() > 10


def test_three_class_report(tmp_path):
    labels = [0, 0, 1, 1, 2, 2, 2]
    probs = np.array(
        [
            [0.7, 0.2, 0.1],
            [0.3, 0.5, 0.2],
            [0.1, 0.8, 0.1],
            [0.2, 0.3, 0.5],
            [0.1, 0.1, 0.8],
            [0.45, 0.2, 0.35],
            [0.2, 0.2, 0.6],
        ]
    )
    names = ["falciparum", "vivax", "uninfected"]
    report = evaluate_predictions(labels, probs, names)
    written = write_evaluation_report(tmp_path, report, roc_points(labels, probs, names))
    with open(written["roc.csv"], newline="") as fh:
        assert {row["curve"] for row in csv.DictReader(fh)} == set(names)
    data = json.loads(written["metrics.json"].read_text())
    assert data["positive_class"] is None
    assert data["roc_auc"] == pytest.approx(np.mean(list(data["roc_curve_auc"].values())))
    assert read_png(written["confusion_matrix.png"]).std() > 20
    calibration = read_png(written["calibration.png"])  # no positive class: the top-label diagram alone
    assert calibration.shape[1] < 1.3 * calibration.shape[0] and data["calibration"]["positive_class"] is None


def test_single_class_report_still_writes_every_file(tmp_path):
    report = evaluate_predictions([1, 1, 1], [[0.2, 0.8], [0.6, 0.4], [0.1, 0.9]], NAMES, "malignant")
    written = write_evaluation_report(tmp_path, report, roc_points([1, 1, 1], [[0.2, 0.8]] * 3, NAMES, "malignant"))
    data = json.loads(written["metrics.json"].read_text())
    assert data["roc_auc"] is None and "only one class" in data["roc_auc_note"]
    assert data["roc_curve_auc"] == {}
    assert written["roc.csv"].read_text().strip() == "curve,fpr,tpr,threshold"
    read_png(written["roc.png"])


def test_training_curves_tolerate_missing_optional_columns(tmp_path):
    history = tmp_path / "history.csv"
    history.write_text("train_loss,val_loss\n0.9,1.0\n0.6,\n0.4,0.7\n")  # no epoch, a blank cell
    read_png(plot_training_curves(history, tmp_path / "curves.png"))


@pytest.mark.parametrize(
    "text, message",
    [
        ("epoch,lr\n1,0.1\n", "none of"),
        ("epoch,train_loss\n", "no epochs"),
        ("epoch,train_loss\n1,abc\n", "non-number"),
    ],
)
def test_unusable_history_raises_metrics_error(tmp_path, text, message):
    history = tmp_path / "history.csv"
    history.write_text(text)
    with pytest.raises(MetricsError, match=message):
        plot_training_curves(history, tmp_path / "curves.png")
    assert not (tmp_path / "curves.png").exists()


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text("old")

    def fail_halfway(fh):
        fh.write("half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(WriteFailed) as failed:  # one typed error that names the file, not an OSError
        _write_atomically(target, fail_halfway)
    assert failed.value.path == target and failed.value.no_space
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_reports_never_touch_pyplot_or_the_matplotlib_backend(tmp_path, report, roc):
    # The GUI runs Qt: writing a report from a worker must not import pyplot or switch the backend.
    tree = ast.parse(Path(report_module.__file__).read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not any("pyplot" in name for name in imported)
    assert not any(isinstance(n, ast.Attribute) and n.attr == "use" for n in ast.walk(tree))
    had_pyplot = "matplotlib.pyplot" in sys.modules  # another test may have imported it already
    plot_roc(roc, tmp_path / "roc.png")
    assert had_pyplot or "matplotlib.pyplot" not in sys.modules
