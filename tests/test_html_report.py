"""`camviewer report`: one self-contained HTML file whose numbers are those of the files it reports, and
that a browser (headless Chromium) renders into a page that is not blank."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from camviewer.cli import main

NORMAL, SICK = "normal & co", "sick <b>"  # names that must be escaped
PER_CELL = 2


class Page(HTMLParser):
    """The parts of the report a test looks at: sections, headings, tables (cell texts), images, links."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.sections, self.h3, self.tables, self.images, self.links = [], [], [], [], []
        self._cell = self._heading = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.sections.append(attrs["id"])
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = ""
        elif tag == "h3":
            self._heading = ""
        elif tag == "img":
            self.images.append(attrs)
        if "href" in attrs or "src" in attrs:
            self.links.append(attrs.get("href") or attrs.get("src"))

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[-1][-1].append(self._cell)
            self._cell = None
        elif tag == "h3":
            self.h3.append(self._heading)
            self._heading = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data
        if self._heading is not None:
            self._heading += data

    def table_with(self, first_header: str) -> dict[str, list[str]]:
        """The table whose first header cell is ``first_header``, as {first cell: the other cells}."""
        rows = next(t for t in self.tables if t[0][0] == first_header)
        return {row[0]: row[1:] for row in rows[1:]}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A run folder laid out as `camviewer train` writes it, its test evaluation, localize and faithfulness."""
    from camviewer.core.evaluation.run import evaluate
    from camviewer.core.jobs import run_to_end
    from camviewer.core.model.card import ModelCard
    from camviewer.core.model.loading import new_model

    root = tmp_path_factory.mktemp("report")
    rng = np.random.default_rng(0)
    for prefix, cls in (("n", NORMAL), ("s", SICK)):  # file names unique over the classes: captions name them
        (root / "data" / cls).mkdir(parents=True)
        (root / "masks" / cls).mkdir(parents=True)
        for i in range(6):
            image = rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)
            Image.fromarray(image).save(root / "data" / cls / f"{prefix}{i}.png")
            mask = np.zeros((40, 48), np.uint8)
            if cls == SICK:
                mask[8:20, 10:30] = 255
            Image.fromarray(mask).save(root / "masks" / cls / f"{prefix}{i}.png")
    torch.manual_seed(1)
    card = ModelCard(
        arch="tinyvgg_gap", class_names=[NORMAL, SICK], input_size=(32, 32), arch_options={"widths": [4, 8]}
    )
    run = root / "run"
    checkpoint = new_model(card, "cpu").save(run / "best.safetensors")
    (run / "history.csv").write_text(
        "epoch,train_loss,val_loss,train_acc,val_acc,lr,seconds\n1,0.9,0.8,0.5,0.55,0.001,2\n2,0.7,0.75,0.6,0.6,0.001,2\n"
    )
    (run / "config.json").write_text(json.dumps({"arch": "tinyvgg_gap", "epochs": 2, "seed": 0}))
    run_to_end(evaluate(checkpoint, root / "data", positive_class=SICK, out_dir=run / "test", device="cpu"))
    common = [str(root / "data"), "--model", str(checkpoint), "--method", "gradcam,layercam"]
    assert main(["localize", *common, "--masks", str(root / "masks"), "--out", str(run / "localize")]) == 0
    args = ["--limit", "4", "--steps", "4", "--sanity-images", "2", "--out", str(run / "faithfulness")]
    assert main(["faithfulness", *common, *args]) == 0
    return run


@pytest.fixture(scope="module")
def report(study, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("html") / "report.html"
    assert main(["report", str(study), "--out", str(out), "--examples", str(PER_CELL)]) == 0
    return out


def test_sections_and_numbers_are_those_of_the_files(study, report):
    text = report.read_text(encoding="utf-8")
    page = Page(text)
    assert page.sections == [
        "model",
        "data",
        "metrics",
        "curves",
        "examples",
        "training",
        "localization",
        "faithfulness",
    ]
    metrics = json.loads((study / "test" / "metrics.json").read_text())
    headline = page.table_with("metric")
    for key, name in (
        ("accuracy", "Accuracy"),
        ("balanced_accuracy", "Balanced accuracy"),
        ("sensitivity", "Sensitivity"),
        ("specificity", "Specificity"),
        ("roc_auc", "ROC-AUC"),
        ("cohen_kappa", "Cohen's kappa"),
    ):
        assert headline[name][0] == ("–" if metrics[key] is None else f"{metrics[key]:.3f}")
        interval = metrics["intervals"].get(key)
        if interval:  # every headline figure with its interval, method and n
            assert headline[name][1:] == [
                f"{interval['low']:.3f} – {interval['high']:.3f}",
                f"{interval['method']}, n = {interval['n']}",
            ]
    glance = html.unescape(text.split('<p class="glance">')[1].split("</p>")[0])
    assert glance.startswith(f"Accuracy {metrics['accuracy']:.3f} ({metrics['intervals']['accuracy']['low']:.3f}")
    per_class = page.table_with("class (one vs rest)")
    assert {name: row[0] for name, row in per_class.items()} == {
        name: str(entry["support"]) for name, entry in metrics["per_class"].items()
    }
    card = page.table_with("field")
    assert card["classes"] == [f"{NORMAL}, {SICK}"] and card["architecture"] == ["tinyvgg_gap"]
    assert "input size (height × width)" in page.table_with("step")
    # names are escaped in the source and read back intact
    assert "sick &lt;b&gt;" in text and "normal &amp; co" in text and "<b>" not in text
    assert f"{metrics['n']} images; positive class: {SICK}" in html.unescape(text)


def test_every_image_is_embedded_and_nothing_is_fetched(report):
    page = Page(report.read_text(encoding="utf-8"))
    assert page.images, "no images"
    for image in page.images:
        assert image["src"].startswith("data:image/png;base64,")
        Image.open(io.BytesIO(base64.b64decode(image["src"].split(",", 1)[1]))).verify()
    assert all(link.startswith(("data:", "#")) for link in page.links)
    assert "http://" not in report.read_text() and "https://" not in report.read_text()


def test_the_gallery_shows_each_cells_most_confident_images(study, report):
    with open(study / "test" / "predictions.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    expected = {
        "True positives": [r for r in rows if r["true"] == SICK and r["predicted"] == SICK],
        "False negatives": [r for r in rows if r["true"] == SICK and r["predicted"] != SICK],
        "False positives": [r for r in rows if r["true"] != SICK and r["predicted"] == SICK],
        "True negatives": [r for r in rows if r["true"] != SICK and r["predicted"] != SICK],
    }
    text = report.read_text(encoding="utf-8")
    page = Page(text)
    for name, members in expected.items():
        heading = next(h for h in page.h3 if h.startswith(name))
        assert heading.endswith(f"({len(members)} image{'s' if len(members) != 1 else ''})")
        chosen = sorted(members, key=lambda r: -float(r["p_" + r["predicted"]]))[:PER_CELL]
        for row in chosen:  # each shown as the image and its map, with its probability
            probability = float(row["p_" + row["predicted"]])
            label = f"{Path(row['path']).name} · p = {probability:.3f}"
            assert any(label in caption for caption in _captions(text)), label
    shown = [image for image in page.images if image["alt"].startswith("map ")]
    assert len(shown) == sum(min(len(m), PER_CELL) for m in expected.values())


def _captions(text: str) -> list[str]:
    return [html.unescape(part.split("</figcaption>")[0]) for part in text.split("<figcaption>")[1:]]


def test_localization_faithfulness_and_training_come_from_their_runs(study, report):
    page = Page(report.read_text(encoding="utf-8"))
    localization = json.loads((study / "localize" / "summary.json").read_text())["summary"]
    table = page.table_with("method")  # the first table headed "method" is the localization table
    for method, entry in localization.items():
        assert table[method][0] == str(entry["with_region"])
        assert table[method][1] == f"{entry['pointing_game']:.3f} ({entry['chance_pointing_game']:.3f})"
    faithfulness = json.loads((study / "faithfulness" / "summary.json").read_text())["summary"]
    rows = next(t for t in page.tables if t[0][:2] == ["method", "deletion AUC ↓"])
    values = {row[0]: row[1:] for row in rows[1:]}
    for method, entry in faithfulness.items():
        assert values[method][0] == f"{entry['deletion_auc']:.3f}"
        assert values[method][-1] in ("passed", "FAILED")
    assert page.table_with("setting")["epochs"] == ["2"]
    assert any(image["alt"] == "Training curves per epoch" for image in page.images)


def test_an_evaluation_folder_alone_and_never_overwriting(study, tmp_path, capsys):
    out = tmp_path / "eval.html"
    # the evaluation folder inside the run finds the run's checkpoint and history one level up
    assert main(["report", str(study / "test"), "--out", str(out), "--examples", "0"]) == 0
    page = Page(out.read_text(encoding="utf-8"))
    assert "model" in page.sections and "training" in page.sections and "localization" not in page.sections
    assert main(["report", str(study / "test"), "--out", str(out)]) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "x.html")]) == 1
    assert "neither an evaluation (metrics.json) nor a model checkpoint" in capsys.readouterr().err


def test_an_evaluation_folder_elsewhere_finds_its_model_through_metrics_json(study, tmp_path):
    elsewhere = tmp_path / "reports" / "cells"
    shutil.copytree(study / "test", elsewhere)
    out = tmp_path / "elsewhere.html"
    assert main(["report", str(elsewhere), "--out", str(out), "--examples", "1"]) == 0
    page = Page(out.read_text(encoding="utf-8"))
    assert page.table_with("field")["checkpoint"] == [str((study / "best.safetensors").resolve())]
    assert any(image["alt"].startswith("map ") for image in page.images)  # the model was loaded for the maps
    assert page.table_with("setting")["epochs"] == ["2"]  # the run's config, found beside the checkpoint


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(chromium() is None, reason="Chromium is not installed (make test installs it on Debian)")
def test_chromium_renders_the_report(report, tmp_path):
    shot = tmp_path / "shot.png"
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={shot}",
        "--window-size=1280,2000",
        report.as_uri(),
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape == (2000, 1280, 3)
    assert pixels.std() > 20  # not a blank page
    colours = np.unique(pixels.reshape(-1, 3) // 16, axis=0)
    assert len(colours) > 50  # text, tables and figures, not a flat error page
    assert (pixels[:200] < 100).all(axis=2).sum() > 500  # dark title text at the top
