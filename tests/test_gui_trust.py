"""Ground truth over the image with the shown map's scores, and the Trust dock's table per CAM method."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

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
    assert panel.methods_box.isExpanded()  # the method list is open until a report runs
    panel.set_checked_methods(list(panel.method_checks)[:6])
    assert panel.methods_box.text() == f"CAM methods: {', '.join(list(panel.method_checks)[:4])} and 2 more"
    panel.set_checked_methods(["gradcam", "gradcam++"])
    assert panel.methods_box.text() == "CAM methods: gradcam, gradcam++"
    panel.faithfulness.setChecked(True)
    panel.faith_images.setValue(4)
    with qtbot.waitSignal(panel.runner.finished, timeout=2 * WAIT_MS):
        panel.controls.run_button.click()
    assert panel.report is not None
    # folded away while the results show, its title still naming the methods; reopened by its arrow
    shown = panel.method_checks["gradcam"].visibleRegion
    assert not panel.methods_box.isExpanded() and shown().isEmpty()  # superqt folds the content to no height
    panel.methods_box.toggleButton().click()
    qtbot.waitUntil(lambda: not shown().isEmpty(), timeout=2000)

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
            entry = expected[method]
            assert panel.report["localization"]["summary"][method][key] == pytest.approx(entry[key])
            chance = f" ({number(entry[f'chance_{key}'])})" if entry[key] is not None else ""
            assert panel.value(title, method) == number(entry[key]) + chance  # chance beside every score
        for key, title in (
            ("deletion_auc", "deletion AUC ↓"),
            ("insertion_auc", "insertion AUC ↑"),
            ("average_drop", "average drop ↓"),
        ):
            assert panel.value(title, method) == number(faith[method][key])
        assert panel.value("sanity check", method) in ("passed", "FAILED")
        assert panel.value("images with a region", method) == f"{expected[method]['with_region']} / 16"
    best = panel.report["localization"]["best"]
    if best["method"]:
        assert panel.best.text().startswith(f"Best here: <b>{best['method']}</b>")
    else:
        assert panel.best.text().startswith("No best method")

    column = panel.methods_shown().index("gradcam++") + 1
    panel.table.cellClicked.emit(0, column)  # a click in gradcam++'s column picks it
    assert panel.method_choice.currentText() == "gradcam++"
    panel.use_button.click()
    assert window.cam_panel.compute.method == "gradcam++"
    qtbot.waitUntil(
        lambda: window.session.result is not None and "gradcam++" in window.session.result.maps, timeout=WAIT_MS
    )
    wait_for_result(qtbot, window)


def test_trust_report_reuses_the_loaded_ground_truth_and_says_what_it_refused(make_window, qtbot, cells, checkpoint):
    """Ctrl+G's boxes (labels named otherwise than the classes) are scored as loaded, without asking again."""
    import csv

    boxes = cells.parent / "lesions.csv"  # image,finding,x,y,w,h with a finding name the model does not use
    with open(cells / "boxes.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    boxed = len({row["path"] for row in rows})  # one row per lesion component
    with open(boxes, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "finding", "x", "y", "w", "h"])
        writer.writerows([r["path"], "lesion", r["x"], r["y"], r["w"], r["h"]] for r in rows)
    window = make_window()
    with qtbot.waitSignal(window.session.modelChanged, timeout=WAIT_MS):
        window.start([str(cells / "parasitized")], str(checkpoint))
    wait_for_result(qtbot, window)
    with qtbot.waitSignal(window.workbench.truth.loaded, timeout=WAIT_MS):
        window.workbench.truth.load(boxes=str(boxes), root=str(cells))
    panel = window.workbench.trust  # opened after the ground truth was loaded: it adopts it
    window.workbench.show_dock("trust")
    assert panel.truth_kind.currentData() == "loaded" and not panel.truth.isEnabled()
    assert "label: 'finding'" in panel.truth.text() and panel.data.text() == str(cells)
    with qtbot.waitSignal(panel.runner.finished, timeout=2 * WAIT_MS):
        panel.controls.run_button.click()
    localization = panel.report["localization"]
    # 'lesion' matches no class: those images are refused, never scored on the prediction
    assert {r["reason"] for r in localization["refused"]} == {"the label 'lesion' matches none of the model's classes"}
    assert len(localization["refused"]) == boxed and localization["summary"]["gradcam"]["with_region"] == 0
    assert f"refused {boxed}: the label 'lesion'" in panel.controls.status.text()
    assert panel.best.text() == "No best method: no scored image has a ground-truth region."

    panel.label_map.setText("lesion=parasitized")  # the same loaded ground truth, the label mapped
    with qtbot.waitSignal(panel.runner.finished, timeout=2 * WAIT_MS):
        panel.controls.run_button.click()
    localization = panel.report["localization"]
    scored = [row for row in localization["rows"] if row.has_region]
    assert len(scored) == boxed and {row.class_name for row in scored} == {"parasitized"}
    assert {row.truth_label for row in scored} == {"lesion"} and not localization["refused"]


def test_best_here_only_above_chance_and_skipped_methods_are_said(make_window, qtbot):
    from camviewer.gui.trust.panel import TrustPanel

    window = make_window()
    panel: TrustPanel = window.workbench.trust
    entry = {
        "images": 4, "maps": 4, "with_region": 4, "pointing_game": 0.0, "chance_pointing_game": 0.05,
        "pointing_game_p": 1.0, "iou": 0.0, "chance_iou": 0.02, "dice": 0.0, "chance_dice": 0.04, "box_iou": None,
        "chance_box_iou": None, "energy_in_region": 0.01, "chance_energy_in_region": 0.05, "energy_in_roi": None,
        "chance_energy_in_roi": None, "beats_chance": False,
    }  # fmt: skip
    report = {
        "images": 5,
        "explained": 4,
        "localization": {
            "summary": {"gradcam": entry},
            "best": {"method": None, "reason": "no method's pointing game beats chance (one-sided p < 0.05)"},
            "target": "gt",
            "plan": SimpleNamespace(matched=4),
            "refused": [{"path": "e.png", "label": None, "reason": "no ground-truth label"}],
            "skipped_methods": {"cam": "method 'cam' needs global average pooling"},
            "failed": [],
            "thresholds": None,
        },
        "faithfulness": None,
    }
    panel._reported(report)  # every method failed: no "Best here: gradcam (pointing game 0.000)"
    assert panel.best.text() == "No best method: no method's pointing game beats chance (one-sided p &lt; 0.05)."
    assert panel.value("pointing game ↑", "gradcam") == "0.000 (0.050)"
    assert panel.value("p vs chance", "gradcam") == "1.000"
    status = panel.controls.status.text()
    assert "Scored 4 of 5 images" in status and "refused 1: no ground-truth label" in status
    assert "skipped cam: method 'cam' needs global average pooling" in status
    report["localization"]["plan"] = SimpleNamespace(matched=0)
    panel._reported(report)
    assert "no image matched the ground truth (paths relative to the images folder)" in panel.controls.status.text()


def test_truth_dialog_previews_a_csvs_columns_and_takes_an_override(make_window, qtbot, tmp_path):
    from camviewer.gui.trust.truth_dialog import TruthDialog

    window = make_window()
    dialog = TruthDialog(str(tmp_path), window)
    qtbot.addWidget(dialog)
    odd = tmp_path / "odd.csv"
    odd.write_text("img_file,a,b,c,d,diagnosis\nq.png,1,2,3,4,Mass\n")
    next(b for b in dialog.kind_group.buttons() if b.property("kind") == "boxes").setChecked(True)
    dialog.source.set_path(str(odd))
    assert "cannot tell which columns hold the image" in dialog.understood.text()
    assert "'img_file', 'a'" in dialog.understood.text()
    dialog.columns.setText("image=img_file,x=a,y=b,w=c,h=d,label=diagnosis")
    dialog.columns.editingFinished.emit()
    assert dialog.understood.text() == (
        "Understood: image: 'img_file' · box x, y, w, h: 'a', 'b', 'c', 'd' (corner, width, height) · label: 'diagnosis'"
    )
    values = dialog.values()
    assert values["boxes"] == str(odd) and values["columns"]["label"] == "diagnosis" and values["masks"] is None
    truth = window.workbench.truth
    with qtbot.waitSignal(truth.loaded, timeout=WAIT_MS) as loaded:
        truth.load(**values)
    assert loaded.args[0].truth.region("q.png").boxes == [(1, 2, 3, 4)]
    next(b for b in dialog.kind_group.buttons() if b.property("kind") == "voc").setChecked(True)
    assert dialog.source.kind == "folder" and not dialog.columns.isEnabled() and dialog.understood.text() == ""
