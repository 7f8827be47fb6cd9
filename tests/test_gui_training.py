"""The Training dock: live curves and progress, the best model loaded at the end, cancel, resume, refusals."""

from __future__ import annotations

import collections
import csv
import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
from gui_helpers import SYNTH_CLASSES, WAIT_MS, fill_training_form, synth_cells
from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QMessageBox

pytest_plugins = ["gui_helpers"]  # the GUI fixtures; kept out of conftest.py so core tests load no Qt
pytestmark = pytest.mark.usefixtures("no_dangling_work")  # every GUI test: no threads or workers left behind

BATCH = 6


@pytest.fixture(scope="module")
def cells(tmp_path_factory) -> Path:
    return synth_cells(tmp_path_factory.mktemp("train") / "cells", n=24, size=32)


def train_batches_per_epoch(run_dir: Path) -> int:
    with open(run_dir / "split.csv", newline="") as handle:
        train = sum(row["split"] == "train" for row in csv.DictReader(handle))
    return math.ceil(train / BATCH)


def test_training_draws_live_curves_and_loads_the_best_model(make_window, qtbot, cells, tmp_path):
    window = make_window()
    panel = window.workbench.training
    window.workbench.show_dock("training")
    assert window.workbench.docks["training"].isVisible()
    panel.data.set_path(cells)  # scanned in a worker: classes and counts before anything is decoded
    qtbot.waitUntil(lambda: panel.preview.table.isVisible(), timeout=WAIT_MS)
    assert panel.preview.counts() == {"images": dict.fromkeys(SYNTH_CLASSES, 12)}
    assert "positive class <b>parasitized</b>" in panel.preview.summary.text()
    assert panel.form.positive_class.currentData() == "parasitized"  # from synth.json, shown for the user to see
    run_dir = tmp_path / "runs" / "first"
    fill_training_form(panel, cells, run_dir, epochs=2)
    progress_values = []
    panel.progress.valueChanged.connect(progress_values.append)

    qtbot.waitUntil(lambda: not panel.preparing(), timeout=WAIT_MS)  # the training code is imported
    with qtbot.waitSignal(window.session.modelChanged, timeout=WAIT_MS):
        panel.controls.run_button.click()
        assert not panel.controls.run_button.isEnabled() and panel.controls.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not panel.running(), timeout=WAIT_MS)

    per_epoch = train_batches_per_epoch(run_dir)
    assert panel.curves.counts() == (2 * per_epoch, 2)
    assert len(panel.curves.batch_loss.getData()[0]) == 2 * per_epoch
    for item in (panel.curves.train_loss, panel.curves.val_loss, panel.curves.train_acc, panel.curves.val_acc):
        assert list(item.getData()[0]) == [1, 2]
    assert progress_values and progress_values[-1] == panel.progress.maximum() == 2 * per_epoch
    assert sorted(progress_values) == progress_values  # it only ever advanced
    # after training the split is known: the preview shows the real train/validation/test counts, the run's own
    counts = panel.preview.counts()
    with open(run_dir / "split.csv", newline="") as handle:
        written = collections.Counter(row["split"] for row in csv.DictReader(handle))
    shown = {split: sum(per_class.values()) for split, per_class in counts.items()}
    assert shown == {"train": written["train"], "validation": written["val"], "test": written["test"]}
    assert written["test"] > 0  # the default holds a test split out
    # the best model is in the viewer, loaded through the same path as File > Open model
    best = run_dir / "best.safetensors"
    assert window.session.model.source == str(best)
    # named by its run folder (every run's checkpoint is best.safetensors), the full path in the tooltip
    assert "first/best" in window.model_panel.name.text() and window.model_panel.name.toolTip() == str(best)
    assert window.model_status.text() == "first/best"
    # its held-out images are shown, with their labels, not the image that happened to be on screen
    with open(run_dir / "split.csv", newline="") as handle:
        rows = {str((run_dir / row["path"]).resolve()): row for row in csv.DictReader(handle)}
    held_out = sorted(path for path, row in rows.items() if row["split"] == "test")  # the test split first
    qtbot.waitUntil(lambda: len(window.browser.paths()) == len(held_out), timeout=WAIT_MS)
    assert sorted(str(Path(path).resolve()) for path in window.browser.paths()) == held_out
    assert "first: test images (held out)" in window.browser.title.text()
    for path in window.browser.paths():
        assert window.browser.images.label(path) == rows[str(Path(path).resolve())]["label"]
    evaluation = window.workbench.evaluation  # offered the images the model never trained on
    assert evaluation.data.text() == str(cells) and evaluation.split.currentData() == "test"
    assert window.settings.recent_models[0] == str(best)
    assert "Training completed after 2 epochs" in window.log.messages()
    assert panel.controls.run_button.isEnabled() and not panel.controls.cancel_button.isEnabled()
    assert Path(panel.run_dir.text()) != run_dir  # a new folder is proposed for the next run
    assert window.settings.train_dataset == str(cells)
    assert json.loads(window.settings.train_options)["epochs"] == 2

    # Resume: one more epoch in the same folder, the earlier epochs still on the curves
    with qtbot.waitSignal(window.session.modelChanged, timeout=WAIT_MS):
        panel.resume(str(run_dir), epochs=3)
    qtbot.waitUntil(lambda: not panel.running(), timeout=WAIT_MS)
    assert panel.curves.counts() == (per_epoch, 3)
    assert list(panel.curves.val_loss.getData()[0]) == [1, 2, 3]
    assert "Resuming" in window.log.messages()


def test_cancel_mid_run_keeps_a_loadable_checkpoint_and_loads_it(make_window, qtbot, cells, tmp_path):
    window = make_window()
    panel = window.workbench.training
    run_dir = tmp_path / "long"
    fill_training_form(panel, cells, run_dir, epochs=500, patience=500)
    panel.controls.run_button.click()
    qtbot.waitUntil(lambda: panel.curves.counts()[1] >= 1, timeout=WAIT_MS)  # one epoch validated
    with qtbot.waitSignal(window.session.modelChanged, timeout=WAIT_MS):
        panel.controls.cancel_button.click()
    qtbot.waitUntil(lambda: not panel.running(), timeout=WAIT_MS)
    best = run_dir / "best.safetensors"
    assert window.session.model.source == str(best)  # loadable: it was loaded
    assert window.session.model.card.class_names == SYNTH_CLASSES
    epochs = panel.curves.counts()[1]
    assert 1 <= epochs < 500
    assert "Training cancelled" in window.log.messages() and "best.safetensors" in panel.status.text()
    assert (run_dir / "last.pt").is_file()  # and resumable


def test_a_folder_holding_a_run_is_refused_with_a_visible_message(make_window, qtbot, cells, tmp_path):
    window = make_window()
    panel = window.workbench.training
    used = tmp_path / "used"
    used.mkdir()
    (used / "config.json").write_text("{}")
    (used / "last.pt").write_bytes(b"an epoch finished")  # without it the run had not begun: trained into again
    fill_training_form(panel, cells, used)
    panel.controls.run_button.click()
    qtbot.waitUntil(lambda: not panel.running() and panel.status.text() != "", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "already holds a training run" in panel.status.text(), timeout=WAIT_MS)
    assert panel.status.isVisible() and "b00020" in panel.status.styleSheet()  # in red, in the panel
    assert "continue that run with Resume…" in panel.status.text()  # the window's remedy, not the CLI's
    assert "--resume" not in panel.status.text() and panel.progress.format() == "not started"
    assert "already holds a training run" in window.status.summary.full_text()
    assert [level for level, message in window.log.entries if "already holds" in message] == ["error"]
    assert (used / "config.json").read_text() == "{}" and (used / "last.pt").read_bytes() == b"an epoch finished"
    assert window.session.model is None


def test_missing_imagenet_weights_continue_from_random_init_only_if_agreed(
    make_window, qtbot, cells, tmp_path, monkeypatch
):
    window = make_window()
    panel = window.workbench.training
    asked = []

    def answer(parent, title, text, *args):
        asked.append((title, text))
        thinking = QEventLoop()  # a modal dialog runs the event loop while the user reads it
        QTimer.singleShot(200, thinking.quit)
        thinking.exec()
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer)
    fill_training_form(panel, cells, tmp_path / "random", epochs=1)
    config = replace(panel.form.config(str(cells), str(tmp_path / "random")), pretrained=True)
    with qtbot.waitSignal(window.session.modelChanged, timeout=WAIT_MS):
        panel.runner.train(config)  # TinyVGG has no ImageNet weights: the engine says so
    qtbot.waitUntil(lambda: not panel.running(), timeout=WAIT_MS)
    assert [title for title, _ in asked] == ["ImageNet weights unavailable"]
    assert "no ImageNet weights for tinyvgg_gap" in asked[0][1]
    assert window.session.model.card.notes["training"]["pretrained"] == "unavailable: random initialisation"
    assert "continuing from random initialisation" in window.log.messages()


def test_training_progress_counts_batches_over_the_planned_epochs(qtbot):
    from camviewer.core.training.records import BatchUpdate, EpochRecord, TrainResult
    from camviewer.gui.training.progress_bar import TrainingProgressBar

    clock = iter([100.0, 110.0])  # the first chunk starts the clock; 10 s later 10 more batches are done
    bar = TrainingProgressBar(clock=lambda: next(clock))
    qtbot.addWidget(bar)
    bar.begin(3)
    assert bar.maximum() == 0 and bar.format() == "preparing the data…"
    bar.show_batches([BatchUpdate(1, batch, 10, 0.7, 50.0) for batch in (1, 2)])
    assert bar.format() == "epoch 1/3 · batch 2/10"  # no pace yet: no guess
    bar.show_batches(
        [BatchUpdate(epoch, batch, 10, 0.6, 50.0) for epoch, batch in [(1, b) for b in range(3, 11)] + [(2, 1), (2, 2)]]
    )
    # 12 of 30 batches; 10 batches in the 10 s since the first chunk -> 18 left at 1 batch/s
    assert (bar.value(), bar.maximum()) == (12, 30)
    assert bar.format() == "epoch 2/3 · batch 2/10 · 18 s left at most"

    # how the run ended: a cancelled run's bar stays where it stopped, a finished one is full
    epoch = EpochRecord(1, 0.6, 0.5, 0.7, 0.8, 1e-3, 10.0, is_best=True)
    best = Path("run/best.safetensors")
    bar.show_result(TrainResult(Path("run"), best, 1, 0.5, "cancelled", [epoch]))
    assert (bar.value(), bar.maximum(), bar.format()) == (12, 30, "cancelled · 1 epoch")
    bar.show_result(TrainResult(Path("run"), best, 1, 0.5, "early-stopping", [epoch, epoch]))
    assert (bar.value(), bar.maximum(), bar.format()) == (30, 30, "stopped early · 2 epochs")
    bar.begin(3)  # cancelled while the data was decoded: nothing saved, and the bar stops spinning
    bar.show_result(TrainResult(Path("run"), None, None, None, "cancelled", []))
    bar.settle()
    assert (bar.value(), bar.maximum(), bar.format()) == (0, 1, "cancelled")
