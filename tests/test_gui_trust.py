"""Ground truth over the image with the shown map's scores, and the Trust dock's table per CAM method."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gui_helpers import WAIT_MS, save_synth_checkpoint, synth_cells, wait_for_result
from PySide6.QtCore import QPointF

from camviewer.gui.common.result_table import number

pytest_plugins = ["gui_helpers"]  # the GUI fixtures; kept out of conftest.py so core tests load no Qt
pytestmark = pytest.mark.usefixtures("no_dangling_work")  # every GUI test: no threads or workers left behind


@pytest.fixture(scope="module")
def cells(tmp_path_factory) -> Path:
    return synth_cells(tmp_path_factory.mktemp("trust") / "cells", n=16, size=48)


@pytest.fixture
def checkpoint(tmp_path) -> Path:
    return save_synth_checkpoint(tmp_path / "model" / "cells.safetensors")


def expected_scores(window, cells: Path, path: str, threshold: float, tolerance: float) -> dict:
    from camviewer.core.trust.groundtruth import MaskFolder, relative_key
    from camviewer.core.trust.scoring import score_map

    key = relative_key(path, cells)
    region = MaskFolder(cells / "masks").region(key)
    roi = MaskFolder(cells / "roi").region(key).mask
    return score_map(window.image_view.map, region, roi, threshold, tolerance)


def test_ground_truth_outline_and_the_shown_maps_scores(make_window, qtbot, cells, checkpoint):
    from scipy import ndimage

    from camviewer.core.trust.groundtruth import MaskFolder

    window = make_window()
    with qtbot.waitSignal(window.session.modelChanged, timeout=WAIT_MS):
        window.start([str(cells / "parasitized")], str(checkpoint))
    qtbot.waitUntil(lambda: len(window.browser.paths()) == 8, timeout=WAIT_MS)
    first = window.browser.paths()[0]
    wait_for_result(qtbot, window, first)
    truth = window.workbench.truth
    truth.load(masks=str(cells / "masks"), roi=str(cells / "roi"), root=str(cells))
    qtbot.waitUntil(lambda: truth.scores is not None, timeout=WAIT_MS)

    # the outline is its own item, visible, and follows the mask
    view = window.image_view
    assert view.truth.isVisible() and not view.truth.path().isEmpty() and not view.roi.path().isEmpty()
    mask = MaskFolder(cells / "masks").region(f"parasitized/{Path(first).name}").mask
    rows, columns = np.nonzero(mask)
    box = view.truth.path().boundingRect()
    assert (box.left(), box.top()) == (columns.min() + 0.5, rows.min() + 0.5)
    assert (box.right(), box.bottom()) == (columns.max() + 0.5, rows.max() + 0.5)
    path = view.truth.path()
    inside = np.argwhere(ndimage.binary_erosion(mask))
    outside = np.argwhere(~ndimage.binary_dilation(mask, iterations=2))
    assert all(path.contains(QPointF(x + 0.5, y + 0.5)) for y, x in inside)
    assert not any(path.contains(QPointF(x + 0.5, y + 0.5)) for y, x in outside)

    # the scores shown are score_map's, for the map on screen
    expected = expected_scores(window, cells, first, 0.2, 0.0)
    assert truth.scores == expected
    texts = window.workbench.truth_panel.texts()
    assert texts["iou"] == number(expected["iou"]) and texts["dice"] == number(expected["dice"])
    assert texts["energy_in_roi"] == number(expected["energy_in_roi"], percent=True)
    assert texts["pointing_hit"] == ("hit ✓" if expected["pointing_hit"] else "miss ✗")

    # other options and another image: scored again, from the map on screen
    window.workbench.truth_panel.threshold.setValue(0.5)
    window.workbench.truth_panel.tolerance.setValue(3)
    qtbot.waitUntil(lambda: truth.scores == expected_scores(window, cells, first, 0.5, 3.0), timeout=WAIT_MS)
    window.browser.step(+1)
    second = window.browser.paths()[1]
    wait_for_result(qtbot, window, second)
    qtbot.waitUntil(lambda: truth.scores is not None and truth.region.path == second, timeout=WAIT_MS)
    assert truth.scores == expected_scores(window, cells, second, 0.5, 3.0)

    # hidden and shown again without recomputing anything
    window.workbench.actions.show_truth.trigger()
    assert not view.truth.isVisible() and not window.workbench.truth_panel.show_box.isChecked()
    window.workbench.actions.show_truth.trigger()
    assert view.truth.isVisible()


def test_trust_report_table_per_method_and_use_this_method(make_window, qtbot, cells, checkpoint):
    from camviewer.core.jobs import run_to_end
    from camviewer.core.model.loading import load_model
    from camviewer.core.trust.dataset import dataset_images, faithfulness_dataset
    from camviewer.core.trust.groundtruth import MaskFolder, load_ground_truth
    from camviewer.core.trust.scoring import localize_dataset

    window = make_window()
    with qtbot.waitSignal(window.session.modelChanged, timeout=WAIT_MS):
        window.start([str(cells / "parasitized")], str(checkpoint))
    wait_for_result(qtbot, window)
    panel = window.workbench.trust
    window.workbench.show_dock("trust")
    panel.data.set_path(str(cells))
    assert panel.truth.text() == str(cells / "masks") and panel.roi.text() == str(cells / "roi")  # synth layout
    panel.set_checked_methods(["gradcam", "gradcam++"])
    panel.faithfulness.setChecked(True)
    panel.faith_images.setValue(4)
    with qtbot.waitSignal(panel.runner.finished, timeout=2 * WAIT_MS):
        panel.controls.run_button.click()
    assert panel.report is not None

    model = load_model(checkpoint, device="cpu")
    entries = dataset_images(cells)
    expected = run_to_end(
        localize_dataset(
            model,
            entries,
            load_ground_truth(masks=cells / "masks"),
            ["gradcam", "gradcam++"],
            0.2,
            0.0,
            MaskFolder(cells / "roi"),
        )
    )["summary"]
    faith = run_to_end(
        faithfulness_dataset(model, [e.path for e in entries[:4]], ["gradcam", "gradcam++"], sanity_images=8)
    )["summary"]
    assert panel.methods_shown() == ["gradcam", "gradcam++"]  # one column per method, one row per score
    for method in ("gradcam", "gradcam++"):
        for key, title in (
            ("pointing_game", "pointing game ↑"),
            ("iou", "IoU ↑"),
            ("dice", "Dice ↑"),
            ("box_iou", "box IoU ↑"),
            ("energy_in_region", "energy in region ↑"),
            ("energy_in_roi", "energy in ROI ↑"),
        ):
            assert panel.report["localization"]["summary"][method][key] == pytest.approx(expected[method][key])
            assert panel.value(title, method) == number(expected[method][key])
        for key, title in (
            ("deletion_auc", "deletion AUC ↓"),
            ("insertion_auc", "insertion AUC ↑"),
            ("average_drop", "average drop ↓"),
        ):
            assert panel.value(title, method) == number(faith[method][key])
        assert panel.value("sanity check", method) in ("passed", "FAILED")
        assert panel.value("images with a region", method) == f"{expected[method]['with_region']} / 16"

    column = panel.methods_shown().index("gradcam++") + 1
    panel.table.cellClicked.emit(0, column)  # a click in gradcam++'s column picks it
    assert panel.method_choice.currentText() == "gradcam++"
    panel.use_button.click()
    assert window.cam_panel.compute.method == "gradcam++"
    qtbot.waitUntil(
        lambda: window.session.result is not None and "gradcam++" in window.session.result.maps, timeout=WAIT_MS
    )
    wait_for_result(qtbot, window)
