"""The refinement wizard end to end on a tiny shortcut dataset, and leaving it while a step runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from gui_helpers import WAIT_MS, save_synth_checkpoint, synth_cells, wait_for_result
from PySide6.QtWidgets import QWizard

from camviewer.gui.common.result_table import number

pytest_plugins = ["gui_helpers"]  # the GUI fixtures; kept out of conftest.py so core tests load no Qt
pytestmark = pytest.mark.usefixtures("no_dangling_work")  # every GUI test: no threads or workers left behind


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> tuple[Path, Path]:
    """A training set whose positives carry a corner tag (the shortcut), and held-out images to measure on."""
    root = tmp_path_factory.mktemp("refine")
    return (
        synth_cells(root / "train", n=32, size=32, seed=0, shortcut=1.0),
        synth_cells(root / "held-out", n=12, size=32, seed=1, shortcut=1.0),
    )


@pytest.fixture
def wizard(make_window, qtbot, datasets, tmp_path):
    window = make_window()
    checkpoint = save_synth_checkpoint(tmp_path / "model" / "before.safetensors")
    with qtbot.waitSignal(window.session.modelChanged, timeout=WAIT_MS):
        window.start([str(datasets[1] / "parasitized")], str(checkpoint))
    wait_for_result(qtbot, window)
    window.workbench.actions.refine.trigger()
    wizard = window.workbench.wizard
    assert wizard is not None and wizard.isVisible() and wizard.state.checkpoint == str(checkpoint)
    return window, wizard


def measure_and_build(qtbot, wizard, datasets, mode: str) -> None:
    train, held_out = datasets
    page = wizard.measure_page
    page.data.set_path(str(held_out))
    assert page.masks.text() == str(held_out / "masks") and page.roi.text() == str(held_out / "roi")
    assert page.positive.currentData() == "parasitized"  # from the model card, shown to the user
    assert not page.isComplete()
    page.controls.run_button.click()
    qtbot.waitUntil(page.isComplete, timeout=WAIT_MS)
    wizard.next()
    page = wizard.build_page
    assert wizard.currentPage() is page
    page.data.set_path(str(train))
    page.set_mode(mode)
    assert page.roi.text() == str(train / "roi") and Path(page.out.text()).parent == train.parent
    page.controls.run_button.click()
    qtbot.waitUntil(page.isComplete, timeout=WAIT_MS)
    wizard.next()


def test_the_wizard_runs_end_to_end_and_compares_real_measurements(wizard, qtbot, datasets):
    from camviewer.core.evaluation.run import evaluate
    from camviewer.core.jobs import run_to_end
    from camviewer.core.trust.comparison import compare

    window, wizard = wizard
    state = wizard.state
    measure_and_build(qtbot, wizard, datasets, "roi-mask")
    assert (Path(state.built) / "refine.json").is_file() and state.built_mode == "roi-mask"

    page = wizard.finetune_page
    assert wizard.currentPage() is page and not page.isComplete()
    page.epochs.setValue(2)
    page.lr.setValue(0.01)
    page.batch_size.setValue(6)
    page.controls.run_button.click()
    qtbot.waitUntil(page.isComplete, timeout=WAIT_MS)
    assert page.curves.counts()[1] == 2 and Path(state.finetuned).name == "best.safetensors"
    wizard.next()

    page = wizard.after_page  # measures on entering: the same images with the new model
    qtbot.waitUntil(page.isComplete, timeout=WAIT_MS)
    assert state.after.checkpoint == state.finetuned
    wizard.next()

    page = wizard.compare_page
    assert wizard.currentPage() is page
    table = page.table
    rows = {table.text(row, 0): (table.text(row, 1), table.text(row, 2)) for row in range(table.rowCount())}
    assert rows["Accuracy"] == (number(state.before.metrics["accuracy"]), number(state.after.metrics["accuracy"]))
    assert rows["Sensitivity — positive class: parasitized"][1] == number(state.after.metrics["sensitivity"])
    assert rows["Specificity — positive class: parasitized"][0] == number(state.before.metrics["specificity"])
    assert rows["Pointing game (gradcam)"] == (
        number(state.before.localization["pointing_game"]),
        number(state.after.localization["pointing_game"]),
    )
    assert rows["Energy inside the lesion"][1] == number(state.after.localization["energy_in_region"], percent=True)
    # the numbers come from real runs: the fine-tuned checkpoint, evaluated here independently
    independent = run_to_end(evaluate(state.finetuned, datasets[1], positive_class="parasitized"))
    assert state.after.metrics["accuracy"] == pytest.approx(independent.report.accuracy)
    assert state.after.metrics["n"] == 12
    keys = [key for key, _ in state.before.previews]
    assert keys == [key for key, _ in state.after.previews] and 1 <= len(keys) <= 4
    assert page.preview_count() == 2 * len(keys)  # before | after, the same images

    verdict = compare(state.before, state.after)  # the page's verdict is the engine's
    assert page.load_box.isEnabled() == (verdict.outcome != "worse")
    if page.load_box.isEnabled():
        page.load_box.setChecked(True)  # the user's choice, also when there is no clear gain
        with qtbot.waitSignal(window.session.modelChanged, timeout=WAIT_MS):
            wizard.button(QWizard.WizardButton.FinishButton).click()
        assert window.session.model.source == state.finetuned
    else:  # a worse model is not loaded, whatever the box said before
        wizard.button(QWizard.WizardButton.FinishButton).click()
        assert window.session.model.source != state.finetuned
    assert "Refinement wizard finished. On disk" in window.log.messages()
    assert state.built in window.log.messages() and state.run_dir in window.log.messages()
    assert window.settings.refine_dataset == str(datasets[1])


def test_back_and_cancel_during_a_long_step_stop_it_and_say_what_is_left(wizard, qtbot, datasets):
    window, wizard = wizard
    state = wizard.state
    measure_and_build(qtbot, wizard, datasets, "crop")
    page = wizard.finetune_page
    page.epochs.setValue(500)
    page.lr.setValue(0.01)
    page.batch_size.setValue(6)

    page.controls.run_button.click()  # Back while it trains: cancelled, reported, best checkpoint kept
    qtbot.waitUntil(lambda: page.curves.counts()[1] >= 1, timeout=WAIT_MS)
    wizard.back()
    assert wizard.currentPage() is wizard.build_page
    qtbot.waitUntil(lambda: not page.running(), timeout=WAIT_MS)
    assert "Fine-tuning cancelled" in window.log.messages() and "(you went back)" in window.log.messages()
    first_run = state.run_dir
    assert state.stop_reason == "cancelled" and Path(state.finetuned).is_file()

    wizard.next()  # a new run folder is proposed: the cancelled run's folder is never reused
    assert Path(page.run_dir.text()) != Path(first_run)
    page.controls.run_button.click()
    qtbot.waitUntil(lambda: page.running() and page.curves.counts()[1] >= 1, timeout=WAIT_MS)
    wizard.button(QWizard.WizardButton.CancelButton).click()
    assert wizard.isVisible() and page.running()  # it waits for the step to stop, then closes
    qtbot.waitUntil(lambda: window.workbench.wizard is None, timeout=WAIT_MS)  # closed and released
    messages = window.log.messages()
    assert "Refinement wizard cancelled. On disk" in messages
    assert f"enhanced training set (crop): {state.built}" in messages
    assert first_run in messages or state.run_dir in messages
    assert window.session.model.source != state.finetuned  # cancelled: nothing loaded into the viewer


@pytest.mark.parametrize(
    ("after", "outcome", "offered"),
    [
        ((0.95, 0.70), "Better", True),
        ((0.96, 0.00), "Worse: keep the current model", False),
        ((0.96, 0.41), "No clear change", None),
    ],
)
def test_the_comparison_says_plainly_whether_it_is_better_and_never_offers_a_worse_model(
    qtbot, after, outcome, offered
):
    from camviewer.gui.refine.compare_page import ComparePage
    from camviewer.gui.refine.state import RefineState
    from camviewer.gui.refine.tasks import Measurement

    def measured(accuracy, pointing):
        return Measurement("m", {"accuracy": accuracy}, {"pointing_game": pointing, "energy_in_region": 0.3}, "gradcam")

    state = RefineState("before.safetensors", ["a", "b"], None, ("gradcam",), run_dir="run")
    state.before, state.after, state.finetuned = measured(0.95, 0.40), measured(*after), "run/best.safetensors"
    page = ComparePage(state)
    qtbot.addWidget(page)
    page.initializePage()
    assert outcome in page.verdict.text()
    box = page.load_box
    if offered is None:  # no gain: offered, not proposed
        assert box.isEnabled() and not box.isChecked()
    else:
        assert box.isEnabled() == offered and box.isChecked() == offered
