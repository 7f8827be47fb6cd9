"""Evaluation through a label mapping: a 3-class checkpoint on a NORMAL/PNEUMONIA folder, grouped, in core and CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix, roc_auc_score
from test_datasets import class_folders

from camviewer.cli import main
from camviewer.core.data.labels import LabelMapping, UnmatchedLabels
from camviewer.core.evaluation.intervals import wilson
from camviewer.core.evaluation.run import evaluate
from camviewer.core.images import read_image
from camviewer.core.jobs import run_to_end
from camviewer.core.model.card import ModelCard
from camviewer.core.model.loading import load_model, new_model

pytestmark = pytest.mark.usefixtures("one_thread")

CLASSES = ["Bacterial Pneumonia", "Normal", "Viral Pneumonia"]
GROUPED = "NORMAL=Normal;PNEUMONIA=Bacterial Pneumonia|Viral Pneumonia"


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> tuple[Path, Path]:
    """(NORMAL/ + PNEUMONIA/ folder, a random-init 3-class checkpoint whose card names no positive class)."""
    root = tmp_path_factory.mktemp("study")
    torch.manual_seed(0)
    card = ModelCard("tinyvgg_gap", CLASSES, input_size=(16, 16), arch_options={"widths": [4, 8]})
    checkpoint = new_model(card, device="cpu").save(root / "three.safetensors")
    data = class_folders(root / "data", {"NORMAL": 7, "PNEUMONIA": 9})
    return data, checkpoint


def expected_probabilities(checkpoint: Path, data: Path) -> tuple[list[Path], np.ndarray]:
    """The model's own 3-class probabilities per image, predicted one by one: the independent side."""
    model = load_model(checkpoint, device="cpu")
    paths = sorted(data.rglob("*.png"))
    return paths, np.concatenate([model.predict([read_image(path)]) for path in paths])


def test_labels_that_match_no_class_stop_before_any_image_is_read(study):
    data, checkpoint = study
    with pytest.raises(UnmatchedLabels) as error:
        run_to_end(evaluate(checkpoint, data, device="cpu"))
    assert error.value.labels == ["PNEUMONIA"] and error.value.model_classes == CLASSES  # NORMAL matched Normal


def test_grouped_mapping_scores_pneumonia_vs_normal_summing_both_pneumonia_classes(study, tmp_path):
    data, checkpoint = study
    events = []
    result = run_to_end(
        evaluate(checkpoint, data, positive_class="pneumonia", out_dir=tmp_path, device="cpu", label_map=GROUPED),
        events.append,
    )
    assert isinstance(events[0].payload, LabelMapping) and events[0].done == 0  # before any prediction
    assert result.class_names == ["PNEUMONIA", "Normal"] and result.positive_class == "PNEUMONIA"

    paths, probs = expected_probabilities(checkpoint, data)
    by_path = dict(zip(map(str, paths), probs))
    truth = np.array([Path(path).parent.name == "PNEUMONIA" for path in result.paths])
    p_pneumonia = np.array([by_path[path][0] + by_path[path][2] for path in result.paths])
    np.testing.assert_allclose(result.probabilities[:, 0], p_pneumonia, atol=1e-6)
    called = p_pneumonia > 1 - p_pneumonia
    report = result.report
    assert report.n == 16 and report.confusion_matrix == confusion_matrix(~truth, ~called, labels=[0, 1]).tolist()
    assert report.roc_auc == pytest.approx(roc_auc_score(truth, p_pneumonia))
    tp = int(np.sum(truth & called))
    assert report.sensitivity == pytest.approx(tp / 9)
    interval = wilson(tp, 9)
    assert (report.intervals["sensitivity"]["low"], report.intervals["sensitivity"]["high"]) == (
        interval.low,
        interval.high,
    )

    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["label_mapping"]["groups"][0] == {"name": "PNEUMONIA", "classes": CLASSES[::2]}
    assert metrics["per_class"]["Normal"]["intervals"]["specificity"]["n"] == 9
    assert metrics["calibration"]["positive_class"]["name"] == "PNEUMONIA"
    assert {"calibration.png", "roc.png", "confusion_matrix.png"} <= {p.name for p in tmp_path.iterdir()}
    with open(tmp_path / "predictions.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["path", "label", "model_predicted", "true", "predicted", "p_PNEUMONIA", "p_Normal"]
    for row in rows:
        own = by_path[row["path"]]
        assert row["label"] == Path(row["path"]).parent.name and row["model_predicted"] == CLASSES[int(own.argmax())]
        assert row["true"] == ("PNEUMONIA" if row["label"] == "PNEUMONIA" else "Normal")


def test_without_grouping_every_model_class_is_scored(study):
    data, checkpoint = study
    result = run_to_end(evaluate(checkpoint, data, device="cpu", label_map="PNEUMONIA=Viral Pneumonia"))
    assert result.class_names == CLASSES and result.positive_class is None  # three classes: no positive needed
    assert result.report.per_class["Bacterial Pneumonia"]["support"] == 0  # predicted, never the truth
    assert result.report.confusion_matrix[0] == [0, 0, 0]


def test_cli_prints_the_mapping_first_then_metrics_with_intervals(study, tmp_path, capsys):
    data, checkpoint = study
    args = ["evaluate", str(data), "--model", str(checkpoint), "--device", "cpu", "--out", str(tmp_path / "a")]
    assert main([*args, "--label-map", GROUPED, "--positive-class", "PNEUMONIA", "--operating-point", "youden"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[:3] == [
        "label mapping (data label -> model class):",
        "  NORMAL    -> Normal  (label map)",
        "  PNEUMONIA -> Bacterial Pneumonia + Viral Pneumonia  (label map, one group: probabilities summed)",
    ]
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    sensitivity, ci = metrics["sensitivity"], metrics["intervals"]["sensitivity"]
    assert f"sensitivity {sensitivity:.4f} [{ci['low']:.3f}, {ci['high']:.3f}]" in out
    assert "operating point youden for PNEUMONIA (threshold" in out and metrics["operating_point"]["rule"] == "youden"
    assert any(line.startswith("  PNEUMONIA  n=9") and "AUC" in line for line in lines)
    assert "Wilson" in out and "DeLong" in out and "2000 resamples" in out

    assert main([*args, "--out", str(tmp_path / "b")]) == 1
    err = capsys.readouterr().err
    assert "'PNEUMONIA'" in err and "'Bacterial Pneumonia'" in err and "(map them with --label-map" in err
    assert main([*args, "--label-map", "NORMAL=Healthy", "--out", str(tmp_path / "c")]) == 1
    err = capsys.readouterr().err
    assert "'Healthy' is not among the model's classes" in err and "use the model's own names" in err
    with pytest.raises(SystemExit):
        main([*args, "--label-map", "NORMAL", "--out", str(tmp_path / "d")])
    assert "no '='" in capsys.readouterr().err


def test_cli_reads_a_label_map_file(study, tmp_path, capsys):
    data, checkpoint = study
    mapping = tmp_path / "map.txt"
    mapping.write_text("# NIH-style names\nNORMAL = Normal\nPNEUMONIA = Bacterial Pneumonia | Viral Pneumonia\n")
    args = ["evaluate", str(data), "--model", str(checkpoint), "--device", "cpu", "--out", str(tmp_path / "a")]
    assert main([*args, "--label-map", str(mapping), "--positive-class", "Normal"]) == 0
    assert "positive class: Normal" in capsys.readouterr().out
