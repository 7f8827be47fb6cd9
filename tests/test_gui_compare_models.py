"""Two models side by side: a second checkpoint in the comparison slot, both maps and predictions for every image;
the refinement wizard's before/after in the same view."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gui_helpers import CLASSES, WAIT_MS, wait_for_result
from PySide6.QtWidgets import QApplication

from camviewer.gui.viewer.compare_view import CompareView, Tile, best_columns

pytest_plugins = ["gui_helpers"]  # the GUI fixtures; kept out of conftest.py so core tests load no Qt
pytestmark = pytest.mark.usefixtures("no_dangling_work")  # every GUI test: no threads or workers left behind


def other_checkpoint(path: Path) -> Path:
    """A second tiny model, different weights (as after fine-tuning)."""
    import torch

    from camviewer.core.model.card import ModelCard
    from camviewer.core.model.loading import new_model

    torch.manual_seed(1)
    card = ModelCard(
        arch="tinyvgg_gap", class_names=list(CLASSES), input_size=(32, 32), arch_options={"widths": [4, 8]}
    )
    return new_model(card, device="cpu").save(path)


def reference(checkpoint: Path, image: Path, method: str = "gradcam"):
    """The map and prediction the engine gives for this model alone (the independent expectation)."""
    from camviewer import explain, load_model

    (result,) = explain(load_model(checkpoint, device="cpu"), [str(image)], methods=(method,), target="pred")
    return result


def test_two_models_show_both_maps_and_predictions_for_every_image(ready_window, qtbot, tmp_path, images, checkpoint):
    window = ready_window
    second = other_checkpoint(tmp_path / "runs" / "finetuned.safetensors")
    assert not window.actions.close_comparison.isEnabled()
    with qtbot.waitSignal(window.comparison.changed, timeout=WAIT_MS):
        window.comparison.open(second)
    assert window.cam_panel.compute.compare == "models" and window.central.currentWidget() is window.compare_view
    view = window.compare_view
    for image in images[:2]:
        if image != images[0]:
            window.browser.step(+1)
        wait_for_result(qtbot, window, image)
        qtbot.waitUntil(
            lambda image=image: (
                window.comparison.result is not None
                and Path(window.comparison.result.source) == image
                and not window.comparison.session.busy
                and view.cells[1].heat.image is not None
            ),
            timeout=WAIT_MS,
        )
        QApplication.processEvents()
        first, other = reference(checkpoint, image), reference(second, image)
        titles = view.titles()
        assert titles[0].startswith("A · tiny.safetensors") and titles[1].startswith("B · finetuned.safetensors")
        assert f"{first.predicted} p {first.probs[first.predicted]:.2f}" in titles[0]
        assert f"{other.predicted} p {other.probs[other.predicted]:.2f}" in titles[1]
        np.testing.assert_allclose(view.cells[0].heat.image, first.maps["gradcam"][first.predicted], atol=1e-5)
        np.testing.assert_allclose(view.cells[1].heat.image, other.maps["gradcam"][other.predicted], atol=1e-5)
        assert not np.allclose(view.cells[0].heat.image, view.cells[1].heat.image)  # two models, two maps
    assert window.actions.close_comparison.isEnabled()
    window.actions.close_comparison.trigger()
    assert window.cam_panel.compute.compare == "off" and window.central.currentWidget() is window.image_view


def test_the_refinement_wizard_uses_the_same_view(qapp):
    from camviewer.gui.refine.compare_page import ComparePage
    from camviewer.gui.refine.state import RefineState
    from camviewer.gui.refine.tasks import Measurement, Preview

    display = np.zeros((40, 40, 3), np.uint8)
    before = Preview(display, np.linspace(0, 1, 1600, dtype=np.float32).reshape(40, 40), [np.array([[5, 5], [5, 9]])])
    after = Preview(display, np.linspace(1, 0, 1600, dtype=np.float32).reshape(40, 40), [np.array([[5, 5], [5, 9]])])
    state = RefineState("model.safetensors", list(CLASSES), None, ("gradcam",))
    metrics = {"accuracy": 0.5, "positive_class": None, "roc_auc": None}
    state.before = Measurement(
        "a", metrics, {"pointing_game": 0.1, "iou": 0.1, "energy_in_region": 0.1}, "gradcam", [("x.png", before)]
    )
    state.after = Measurement(
        "b", metrics, {"pointing_game": 0.9, "iou": 0.5, "energy_in_region": 0.6}, "gradcam", [("x.png", after)]
    )
    page = ComparePage(state)
    page.initializePage()
    assert isinstance(page.view, CompareView)
    assert page.view.titles() == ["before (gradcam)", "after (gradcam)"]
    np.testing.assert_array_equal(page.view.cells[1].heat.image, after.map01)
    assert not page.view.cells[0].outline.path().isEmpty()  # the ground truth is drawn on both
    assert page.preview_count() == 2


@pytest.mark.parametrize(
    "count, width, height, columns", [(3, 1200, 400, 3), (3, 400, 1200, 1), (4, 800, 800, 2), (2, 900, 500, 2)]
)
def test_the_grid_takes_the_column_count_that_shows_tiles_largest(count, width, height, columns):
    assert best_columns(count, width, height, 100, 100) == columns


def test_tiles_without_a_map_show_the_image_alone(qapp):
    view = CompareView()
    view.resize(600, 300)
    view.show_tiles([Tile("A", np.zeros((10, 10, 3), np.uint8), None)])
    assert view.cells[0].heat.image is None and view.titles() == ["A"]
