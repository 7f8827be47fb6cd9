"""The Evaluation dock: metrics with the positive class named, a clickable confusion matrix, the report files."""

from __future__ import annotations

from pathlib import Path

import pytest
from gui_helpers import SYNTH_CLASSES, WAIT_MS, save_synth_checkpoint, synth_cells, wait_for_result
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox, QWidget

pytest_plugins = ["gui_helpers"]  # the GUI fixtures; kept out of conftest.py so core tests load no Qt
pytestmark = pytest.mark.usefixtures("no_dangling_work")  # every GUI test: no threads or workers left behind


@pytest.fixture(scope="module")
def cells(tmp_path_factory) -> Path:
    return synth_cells(tmp_path_factory.mktemp("evaluate") / "cells", n=24, size=32)


def evaluate(qtbot, panel, data, positive: str) -> None:
    """Evaluate ``data`` from the panel, as a user does, with ``positive`` as the positive class."""
    panel.data.setText(str(data))
    panel.positive.setCurrentIndex(panel.positive.findData(positive))
    with qtbot.waitSignal(panel.runner.finished, timeout=WAIT_MS):
        panel.controls.run_button.click()


@pytest.fixture
def evaluating_window(make_window, qtbot, tmp_path):
    """A window with an untrained tiny model whose card names no positive class, and the Evaluation dock up."""
    window = make_window()
    checkpoint = save_synth_checkpoint(tmp_path / "model" / "tiny.safetensors", positive_class=None)
    with qtbot.waitSignal(window.session.modelChanged, timeout=WAIT_MS):
        window.open_model(checkpoint)
    window.workbench.show_dock("evaluation")
    return window


def test_panels_are_built_when_first_shown_and_get_the_viewers_model(make_window, qtbot, tmp_path):
    window = make_window()  # the window paints without them: each costs pyqtgraph plots and forms
    assert [window.findChild(QWidget, name) for name in ("trainingPanel", "evaluationPanel", "trustPanel")] == [
        None
    ] * 3
    checkpoint = save_synth_checkpoint(tmp_path / "tiny.safetensors", positive_class="uninfected")
    with qtbot.waitSignal(window.session.modelChanged, timeout=WAIT_MS):
        window.open_model(checkpoint)
    window.workbench.docks["evaluation"].raise_()  # as a click on its tab does
    panel = window.findChild(QWidget, "evaluationPanel")
    assert panel is window.workbench.evaluation and panel.isVisible()
    assert panel.model is window.session.model and panel.positive_class() == "uninfected"  # loaded before it existed
    assert window.findChild(QWidget, "trainingPanel") is None


def test_evaluation_needs_a_positive_class_and_names_it(evaluating_window, qtbot, cells):
    window = evaluating_window
    panel = window.workbench.evaluation
    panel.data.setText(str(cells))
    assert panel.positive.isEnabled() and panel.positive_class() is None  # the card names none: the user picks
    panel.controls.run_button.click()
    assert "Choose the positive class" in panel.controls.status.text() and not panel.runner.running()
    panel.positive.setCurrentIndex(panel.positive.findData("parasitized"))
    with qtbot.waitSignal(panel.runner.finished, timeout=WAIT_MS):
        panel.controls.run_button.click()
    result = panel.result
    assert result is not None and result.report.positive_class == "parasitized"
    assert panel.confusion.total() == 24 == len(result.paths)
    assert sum(int(panel.confusion.cell_text(t, p).split()[0]) for t in SYNTH_CLASSES for p in SYNTH_CLASSES) == 24
    metrics = dict(zip(panel.metrics.column_texts(0), panel.metrics.column_texts(1)))
    assert metrics["Sensitivity — positive class: parasitized"] == f"{result.report.sensitivity:.3f}"
    assert metrics["Specificity — positive class: parasitized"] == f"{result.report.specificity:.3f}"
    assert metrics["Accuracy"] == f"{result.report.accuracy:.3f}" and metrics["Images"] == "24"
    assert "parasitized positive" in panel.roc.plot.getPlotItem().titleLabel.text
    assert list(panel.roc.curves) == ["parasitized"]
    assert list(panel.roc.curves["parasitized"].getData()[0]) == result.roc["parasitized"]["fpr"]
    assert "positive class: parasitized" in window.log.messages()
    assert window.settings.eval_dataset == str(cells)


def test_a_failed_evaluation_says_so_and_stops_the_busy_bar(evaluating_window, qtbot, tmp_path):
    panel = evaluating_window.workbench.evaluation
    empty = tmp_path / "no-images" / "parasitized"
    empty.mkdir(parents=True)
    panel.data.setText(str(empty.parent))
    panel.positive.setCurrentIndex(panel.positive.findData("parasitized"))
    with qtbot.waitSignal(panel.runner.finished, timeout=WAIT_MS):
        panel.controls.run_button.click()
        assert panel.controls.progress.maximum() == 0  # busy while it runs
    bar = panel.controls.progress
    assert bar.maximum() == 1 and bar.value() == 0 and bar.format() == "failed"
    assert "b00020" in panel.controls.status.styleSheet() and panel.controls.run_button.isEnabled()


def test_clicking_a_cell_browses_exactly_its_images(evaluating_window, qtbot, cells, tmp_path):
    window = evaluating_window
    panel = window.workbench.evaluation
    evaluate(qtbot, panel, cells, "parasitized")
    (true_class, predicted), paths = max(panel.result.cells().items(), key=lambda cell: len(cell[1]))
    row, column = SYNTH_CLASSES.index(true_class), SYNTH_CLASSES.index(predicted)
    rect = panel.confusion.visualItemRect(panel.confusion.item(row, column))
    QTest.mouseClick(panel.confusion.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    expected = panel.result.cell_paths(true_class, predicted)
    assert window.browser.paths() == expected == paths
    assert f"true {true_class} → predicted {predicted} ({len(expected)})" in window.browser.title.text()
    wait_for_result(qtbot, window, expected[0])  # the first one is shown with its heatmap
    assert window.image_view.heat.image is not None
    window.browser.step(+1)
    wait_for_result(qtbot, window, expected[1])

    other = save_synth_checkpoint(tmp_path / "other.safetensors")  # another model: its cells no longer browse
    with qtbot.waitSignal(window.session.modelChanged, timeout=WAIT_MS):
        window.open_model(other)
    assert not panel.confusion.isEnabled() and "results of tiny.safetensors" in panel.controls.status.text()


def test_export_writes_the_report_and_asks_before_replacing(evaluating_window, qtbot, cells, tmp_path, monkeypatch):
    window = evaluating_window
    panel = window.workbench.evaluation
    evaluate(qtbot, panel, cells, "uninfected")
    assert "Sensitivity — positive class: uninfected" in panel.metrics.column_texts(0)
    out = tmp_path / "report"
    panel.export_report(out)
    qtbot.waitUntil(lambda: "Wrote the evaluation report" in panel.controls.status.text(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: len(window.registry) == 0, timeout=WAIT_MS)  # the writer has returned, then finished
    written = {path.name for path in out.iterdir()}
    assert {"metrics.json", "roc.csv", "predictions.csv", "confusion_matrix.png", "roc.png"} <= written
    assert '"positive_class": "uninfected"' in (out / "metrics.json").read_text()
    before = {path.name: path.stat().st_mtime_ns for path in out.iterdir()}
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *args: asked.append(args[1]) or QMessageBox.StandardButton.No)
    panel.export_report(out)
    assert asked == ["Replace the existing report?"]
    assert len(window.registry) == 0, window.registry.running()  # declined: no writer was started
    assert {path.name: path.stat().st_mtime_ns for path in out.iterdir()} == before


def test_export_report_writes_one_html_with_the_trust_docks_results(
    evaluating_window, qtbot, cells, tmp_path, monkeypatch
):
    import html
    import json

    window = evaluating_window
    panel = window.workbench.evaluation
    assert not panel.report_controls.run_button.isEnabled()  # nothing to report yet
    evaluate(qtbot, panel, cells, "parasitized")
    assert panel.report_controls.run_button.isEnabled()
    trust = window.workbench.trust  # the same model scored by the Trust dock: its table joins the report
    trust.data.set_path(str(cells))
    with qtbot.waitSignal(trust.runner.finished, timeout=2 * WAIT_MS):
        trust.controls.run_button.click()
    out = tmp_path / "report.html"
    with qtbot.waitSignal(panel.report_runner.finished, timeout=2 * WAIT_MS):
        panel.export_html(out)
    assert f"Wrote the report to {out}" in panel.report_controls.status.text()
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and 'src="http' not in text
    for anchor in ("model", "data", "metrics", "curves", "examples", "localization"):
        assert f'<section id="{anchor}">' in text
    report = panel.result.report
    assert f'<td>Accuracy</td><td class="num">{report.accuracy:.3f}</td>' in text
    summary = trust.report["localization"]["summary"]["gradcam"]
    assert f"{summary['pointing_game']:.3f} ({summary['chance_pointing_game']:.3f})" in text
    # each confusion-matrix cell with its count, as the evaluation counted it
    rows = panel.result.predictions
    true_positives = sum(r["true"] == r["predicted"] == "parasitized" for r in rows)
    assert f"True positives: true parasitized, predicted parasitized ({true_positives} image" in html.unescape(text)
    assert json.loads(json.dumps(panel.result.model))["card"]["class_names"] == list(SYNTH_CLASSES)
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *args: asked.append(args[1]) or QMessageBox.StandardButton.No)
    before = out.stat().st_mtime_ns
    panel.export_html(out)
    assert asked == ["Replace the existing report?"] and not panel.report_runner.running()
    assert out.stat().st_mtime_ns == before
