"""The Training dock on a machine with several GPUs: how many to use is offered; a run on more than one is a
real torchrun run in a subprocess (here two CPU processes with gloo, as this machine has no GPU) whose events
draw the same curves, and Cancel stops every process with the best checkpoint kept and loaded."""

from __future__ import annotations

import csv

import pytest
from gui_helpers import fill_training_form, synth_cells

from camviewer.gui.training import tasks

pytest_plugins = ["gui_helpers"]
pytestmark = pytest.mark.usefixtures("no_dangling_work")

TORCHRUN_MS = 300_000  # starting the processes imports torch in each: slow on a busy 2-core machine


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    return synth_cells(tmp_path_factory.mktemp("gpus") / "cells", n=24, size=32)


def test_one_gpu_changes_nothing(make_window, qtbot, monkeypatch, cells):
    counted = []
    monkeypatch.setattr(tasks, "visible_gpus", lambda: counted.append(1) or 1)
    window = make_window()
    panel = window.workbench.training
    window.workbench.show_dock("training")
    panel.data.set_path(cells)  # the GPUs are counted while the training code is prepared, after the preview
    qtbot.waitUntil(lambda: bool(counted) and panel._stack_imported, timeout=20_000)
    qtbot.waitUntil(lambda: "Preparing the training code" not in window.registry.running(), timeout=20_000)
    assert not panel.form.gpus.isVisible() and panel.form.processes() == 1


def test_a_run_on_two_gpus_draws_its_curves_from_the_processes_and_cancels_them(
    make_window, qtbot, monkeypatch, tmp_path, cells
):
    monkeypatch.setattr(tasks, "visible_gpus", lambda: 2)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # per process, as torchrun sets it when it is unset
    window = make_window()
    panel = window.workbench.training
    window.workbench.show_dock("training")
    panel.data.set_path(cells)
    qtbot.waitUntil(lambda: panel.form.gpus.isVisible(), timeout=20_000)
    assert panel.form.gpus.maximum() == 2
    run_dir = tmp_path / "run"
    fill_training_form(panel, cells, run_dir, epochs=500, patience=500)
    panel.form.device.setCurrentText("auto")  # no CUDA here: each process takes the CPU (gloo)
    panel.form.gpus.setValue(2)
    assert panel.form.processes() == 2

    panel.controls.run_button.click()
    qtbot.waitUntil(lambda: panel.curves.counts()[1] >= 2, timeout=TORCHRUN_MS)  # epochs, from the events
    assert panel.curves.counts()[0] > 0  # and the batches
    assert "on 2 GPUs" in window.log.messages()
    with qtbot.waitSignal(window.session.modelChanged, timeout=TORCHRUN_MS):
        panel.controls.cancel_button.click()
    qtbot.waitUntil(lambda: not panel.running(), timeout=TORCHRUN_MS)
    assert "Training cancelled" in window.log.messages()
    assert window.session.model.source == str(run_dir / "best.safetensors")
    with open(run_dir / "history.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) >= 2 and {row["processes"] for row in rows} == {"2"}
    assert (run_dir / "last.pt").is_file()  # resumable
