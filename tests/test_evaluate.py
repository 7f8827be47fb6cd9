"""Evaluation: report files, metrics checked against predictions.csv by hand, positive class, splits, CLI."""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from test_datasets import COLOURS, class_folders, write_image

from camviewer.cli import main
from camviewer.core.errors import DatasetError, MetricsError
from camviewer.core.evaluation.classes import resolve_positive_class
from camviewer.core.evaluation.run import evaluate
from camviewer.core.jobs import run_to_end
from camviewer.core.model.loading import load_model
from camviewer.core.training.loop import train
from camviewer.core.training.records import TrainConfig

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """(data folder, best checkpoint) of a model that learned colour, on data where colour misleads on 6 of 24."""
    root = tmp_path_factory.mktemp("evaluate")
    data = class_folders(root / "data", {"blue": 12, "red": 12})
    for name, colour in (("blue", COLOURS["red"]), ("red", COLOURS["blue"])):  # 3 of each class look like the other
        for i in range(3):
            write_image(data / name / f"{name}_{i}.png", colour, seed=50 + i)
    torch.set_num_threads(1)
    config = TrainConfig(
        data=str(data),
        out=str(root / "run"),
        arch="tinyvgg_gap",
        arch_options={"widths": [4, 8]},
        input_size=(16, 16),
        epochs=6,
        batch_size=6,
        lr=1e-2,
        val_split=0.25,
        test_split=0.25,
        device="cpu",
        workers=0,
        positive_class="red",
    )
    result = run_to_end(train(config))
    return data, result.best_checkpoint


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_report_files_and_metrics_agree_with_an_independent_count(trained, tmp_path):
    data, checkpoint = trained
    events = []
    run_to_end(evaluate(checkpoint, data, out_dir=tmp_path, device="cpu"), events.append)

    written = {p.name for p in tmp_path.iterdir()}
    assert {
        "metrics.json",
        "roc.csv",
        "predictions.csv",
        "confusion_matrix.png",
        "roc.png",
        "training_curves.png",
    } <= written
    assert events[-1].done == events[-1].total == 24
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    rows = read_rows(tmp_path / "predictions.csv")
    assert len(rows) == 24 and list(rows[0]) == ["path", "true", "predicted", "p_blue", "p_red"]

    truth = np.array([row["true"] == "red" for row in rows])  # positive class: red (from the card)
    p_red = np.array([float(row["p_red"]) for row in rows])
    called = np.array([float(row["p_red"]) > float(row["p_blue"]) for row in rows])
    assert [row["predicted"] == "red" for row in rows] == called.tolist()
    tp, fn = int((truth & called).sum()), int((truth & ~called).sum())
    tn, fp = int((~truth & ~called).sum()), int((~truth & called).sum())
    pairs = [(a > b) + 0.5 * (a == b) for a in p_red[truth] for b in p_red[~truth]]  # Mann-Whitney AUC

    assert metrics["positive_class"] == "red" and metrics["n"] == 24
    assert metrics["accuracy"] == pytest.approx((tp + tn) / 24)
    assert metrics["sensitivity"] == pytest.approx(tp / (tp + fn))
    assert metrics["specificity"] == pytest.approx(tn / (tn + fp))
    assert metrics["roc_auc"] == pytest.approx(np.mean(pairs))
    assert metrics["confusion_matrix"] == [[tn, fp], [fn, tp]]  # class order blue, red
    assert metrics["class_names"] == ["blue", "red"]


def test_confusion_cells_map_to_their_image_paths(trained):
    data, checkpoint = trained
    result = run_to_end(evaluate(checkpoint, data, device="cpu"))
    matrix = result.report.confusion_matrix
    for t, true_name in enumerate(result.class_names):
        for p, predicted_name in enumerate(result.class_names):
            paths = result.cell_paths(true_name, predicted_name)
            assert len(paths) == matrix[t][p] == len(result.cells().get((true_name, predicted_name), []))
            assert all(Path(path).parent.name == true_name for path in paths)
    assert sorted([path for paths in result.cells().values() for path in paths]) == sorted(result.paths)


def test_positive_class_comes_from_the_argument_then_the_card_else_is_an_error(trained):
    data, checkpoint = trained
    model = load_model(checkpoint, device="cpu")
    assert resolve_positive_class(model.card, None) == "red"
    as_red = run_to_end(evaluate(model, data)).report
    as_blue = run_to_end(evaluate(model, data, positive_class="blue")).report
    assert as_blue.positive_class == "blue"
    assert (as_blue.sensitivity, as_blue.specificity) == (as_red.specificity, as_red.sensitivity)

    model.card = replace(model.card, positive_class=None)
    with pytest.raises(MetricsError, match="'blue'|blue, red"):
        run_to_end(evaluate(model, data))
    with pytest.raises(MetricsError, match="not one of the evaluated classes: blue, red"):
        resolve_positive_class(model.card, "green")


def test_split_test_comes_from_the_runs_split_csv(trained):
    data, checkpoint = trained
    result = run_to_end(evaluate(checkpoint, data, split="test", device="cpu"))
    expected = [row["path"] for row in read_rows(checkpoint.parent / "split.csv") if row["split"] == "test"]
    assert sorted(Path(p).resolve() for p in result.paths) == sorted(
        (checkpoint.parent / p).resolve() for p in expected
    )
    assert result.split_source == str(checkpoint.parent / "split.csv") and len(result.paths) == 6


def test_split_of_the_data_itself_wins_and_a_missing_split_is_an_error(trained, tmp_path):
    data, checkpoint = trained
    images = sorted(data.rglob("*.png"))
    lines = ["path,label,split"] + [
        f"{p},{p.parent.name},{'test' if i % 4 == 0 else 'train'}" for i, p in enumerate(images)
    ]
    (tmp_path / "own.csv").write_text("\n".join(lines) + "\n")
    result = run_to_end(evaluate(checkpoint, tmp_path / "own.csv", split="test", device="cpu", allow_outside=True))
    assert sorted(result.paths) == sorted(str(p) for i, p in enumerate(images) if i % 4 == 0)

    model = load_model(checkpoint, device="cpu")
    model.source, model.card.notes = None, {}
    with pytest.raises(DatasetError, match="no test split of its own"):
        run_to_end(evaluate(model, data, split="test"))
    other = class_folders(tmp_path / "other", {"blue": 2, "red": 2})
    with pytest.raises(DatasetError, match="belongs to another dataset"):
        run_to_end(evaluate(checkpoint, other, split="test", device="cpu"))


def test_unreadable_images_are_skipped_and_listed(trained, tmp_path):
    data, checkpoint = trained
    copy = shutil.copytree(data, tmp_path / "data")
    (copy / "red" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n-cut-")
    result = run_to_end(evaluate(checkpoint, copy, device="cpu"))
    assert [Path(path).name for path, _ in result.skipped] == ["broken.png"]
    assert len(result.paths) == 24


def test_multi_label_evaluation_reports_per_label(trained, tmp_path):
    data, _ = trained
    images = sorted(data.rglob("*.png"))
    rows = ["path,label"] + [f"{p},{'warm|' if p.parent.name == 'red' else ''}{p.parent.name}" for p in images]
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    config = TrainConfig(
        data=str(tmp_path / "labels.csv"),
        out=str(tmp_path / "run"),
        arch="tinyvgg_gap",
        arch_options={"widths": [4, 8]},
        input_size=(16, 16),
        epochs=1,
        device="cpu",
        workers=0,
        allow_outside=True,  # the CSV names the images of another folder
    )
    checkpoint = run_to_end(train(config)).best_checkpoint

    labels = tmp_path / "labels.csv"
    result = run_to_end(evaluate(checkpoint, labels, out_dir=tmp_path / "out", device="cpu", allow_outside=True))

    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert set(metrics["per_label"]) == {"blue", "red", "warm"} and metrics["n"] == 24
    assert {row["true"] for row in read_rows(tmp_path / "out" / "predictions.csv")} == {"blue", "red|warm"}
    with pytest.raises(MetricsError):
        result.cell_paths("red", "blue")


def test_cli_evaluate(trained, tmp_path, capsys):
    data, checkpoint = trained
    code = main(
        [
            "evaluate",
            str(data),
            "--model",
            str(checkpoint),
            "--split",
            "test",
            "--out",
            str(tmp_path / "a"),
            "--device",
            "cpu",
        ]
    )
    output = capsys.readouterr().out
    assert code == 0 and "positive class: red" in output and "sensitivity" in output
    assert (tmp_path / "a" / "metrics.json").is_file()

    bare = tmp_path / "bare.safetensors"
    model = load_model(checkpoint, device="cpu")
    model.card = replace(model.card, positive_class=None)
    model.save(bare)
    assert main(["evaluate", str(data), "--model", str(bare), "--out", str(tmp_path / "b"), "--device", "cpu"]) == 1
    assert "blue, red" in capsys.readouterr().err
    assert (
        main(
            [
                "evaluate",
                str(data),
                "--model",
                str(bare),
                "--positive-class",
                "blue",
                "--out",
                str(tmp_path / "c"),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
