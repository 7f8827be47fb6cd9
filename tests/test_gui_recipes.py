"""The model dialog's preprocessing recipe, saving as a camviewer checkpoint, recent models, and how the
viewer shows maps that are empty or cover only part of the image."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
import torch
from gui_helpers import WAIT_MS, save_bare_state_dict, wait_for_result
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QDialogButtonBox

from camviewer.core.images import read_image
from camviewer.core.model.card import ModelCard
from camviewer.core.model.loading import load_model, new_model
from camviewer.core.preprocess import to_unit_tensor
from camviewer.gui.viewer.opener import CHECKPOINT_FILTER

pytest_plugins = ["gui_helpers"]
pytestmark = pytest.mark.usefixtures("no_dangling_work")


def open_dialog(qtbot, window, path, ask=False):
    with qtbot.waitSignal(window.loader.dialogOpened, timeout=WAIT_MS) as opened:
        window.loader.open(path, ask=ask)
    return opened.args[0]


def load(qtbot, window, dialog):
    with qtbot.waitSignal(window.session.modelChanged, timeout=WAIT_MS):
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()


def test_the_dialog_takes_the_whole_recipe_statistics_from_data_and_saves_a_checkpoint(
    ready_window, qtbot, tmp_path, images
):
    window = ready_window
    path = save_bare_state_dict(tmp_path / "bare.pth.tar")
    dialog = open_dialog(qtbot, window, path)
    form = dialog.recipe
    assert form.mode.currentData() == "stretch" and (form.height.value(), form.width.value()) == (224, 224)
    assert form.mean.text() == "0.485, 0.456, 0.406"  # ImageNet until told otherwise
    form.mode.setCurrentIndex(form.mode.findData("shorter"))
    form.short.setValue(40)
    assert form.crop_on.isChecked()  # a shorter-side resize needs its crop
    form.crop_h.setValue(32)
    form.crop_w.setValue(32)
    form.grey.setChecked(True)
    assert "32 × 32" in form.summary.text() and "resize 40 (shorter side)" in form.summary.text()
    form.preset.setCurrentIndex(form.preset.findData("data"))
    qtbot.waitUntil(lambda: "Computed from 4 images" in form.note.text(), timeout=WAIT_MS)
    card = ModelCard("x", ["a"], resize=40, crop=32, grayscale=True)
    units = torch.stack([to_unit_tensor(read_image(p), card) for p in images]).double()
    expected_mean = units.mean(dim=(0, 2, 3)).numpy()
    expected_std = units.permute(1, 0, 2, 3).flatten(1).std(dim=1, unbiased=False).numpy()
    values = form.values()
    assert np.allclose(values["mean"], expected_mean, atol=1e-4)
    assert np.allclose(values["std"], expected_std, atol=1e-4)
    dialog.class_names.setText("healthy, sick")
    dialog.save.setChecked(True)
    saved = tmp_path / "bare.safetensors"
    assert dialog.save_path.text() == str(saved)
    load(qtbot, window, dialog)
    loaded = window.session.model.card
    assert (loaded.resize, loaded.crop, loaded.grayscale, loaded.input_size) == (40, (32, 32), True, (32, 32))
    assert window.settings.recent_models[0] == str(saved)
    reread = load_model(saved, device="cpu").card
    assert (reread.resize, reread.crop, reread.class_names) == (40, (32, 32), ["healthy", "sick"])
    assert np.allclose(reread.mean, values["mean"], atol=1e-4)
    wait_for_result(qtbot, window)
    assert f"Saved as {saved}" in window.log.messages()

    # The original file, reopened (e.g. from File > Recent models): what the user entered, no question.
    with (
        qtbot.assertNotEmitted(window.loader.dialogOpened),
        qtbot.waitSignal(window.session.modelChanged, timeout=WAIT_MS),
    ):
        window.open_model(path)
    assert (window.session.model.card.resize, window.session.model.card.class_names) == (40, ["healthy", "sick"])
    # Chosen again by hand: the dialog asks, filled in with those answers; the proposed name is free.
    again = open_dialog(qtbot, window, path, ask=True)
    assert again.recipe.mode.currentData() == "shorter" and again.recipe.short.value() == 40
    assert again.class_names.text() == "healthy, sick" and again.recipe.grey.isChecked()
    assert again.save_path.text() == str(tmp_path / "bare-2.safetensors")
    again.save.setChecked(True)
    again.save_path.setText(str(saved))
    again.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert again.isVisible() and "already exists" in again.error.text()  # nothing is overwritten
    again.reject()


def test_the_file_filter_shows_pth_tar_and_all_files():
    assert "*.pth.tar" in CHECKPOINT_FILTER and "All files (*)" in CHECKPOINT_FILTER


def test_a_cropped_model_shows_unseen_pixels_as_not_seen(make_window, qtbot, tmp_path, images):
    torch.manual_seed(0)
    card = ModelCard("tinyvgg_gap", ["normal", "lesion"], resize=48, crop=32, arch_options={"widths": [4, 8]})
    checkpoint = new_model(card, "cpu").save(tmp_path / "cropped.safetensors")
    window = make_window()
    with qtbot.waitSignal(window.session.modelChanged, timeout=WAIT_MS):
        window.start([str(images[0].parent)], str(checkpoint))
    wait_for_result(qtbot, window, images[0])
    view = window.image_view
    # 64 x 64 -> 48 x 48 (scale 0.75), centre crop 32 from 8: seen centres y + 0.5 in [8 / 0.75, 40 / 0.75),
    # rows and columns 11..52.
    assert np.isnan(view.map[:11]).all() and np.isfinite(view.map[11:53, 11:53]).all()
    rect = view.unseen[0].path().boundingRect()
    assert (rect.width(), rect.height()) == (64, 64)
    assert view.unseen[0].path().contains(QPointF(3, 3)) and not view.unseen[0].path().contains(QPointF(30, 30))
    view.heat.render()
    alpha = pg.functions.ndarray_from_qimage(view.heat.qimage)[..., 3]
    assert alpha[3, 3] == 0 and alpha[30, 30] == 255  # unseen: no colour at all, not the cold end
    texts = []
    view.hovered.connect(texts.append)
    view._mouse_moved((view.view.mapViewToScene(QPointF(3.5, 3.5)),))
    view._mouse_moved((view.view.mapViewToScene(QPointF(30.5, 30.5)),))
    assert "map: not seen by the model" in texts[0]
    assert f"map {view.map[30, 30]:.3f}" in texts[1]


def test_an_empty_map_says_why_in_the_panel_and_the_status_bar(make_window, qtbot, tmp_path, images):
    torch.manual_seed(0)
    model = new_model(ModelCard("squeezenet1_1", ["a", "b", "dead"], input_size=(64, 64)), "cpu")
    with torch.no_grad():
        model.module.get_submodule("classifier.1").bias[2] = -1e4  # the head's ReLU makes "dead" score 0
    checkpoint = model.save(tmp_path / "squeeze.safetensors")
    window = make_window()
    with qtbot.waitSignal(window.session.modelChanged, timeout=WAIT_MS):
        window.start([str(images[0].parent)], str(checkpoint))
    wait_for_result(qtbot, window, images[0])
    assert not window.cam_panel.notice.isVisible()
    window.cam_panel.target.setCurrentIndex(window.cam_panel.target.findData("dead"))
    qtbot.waitUntil(lambda: window.cam_panel.notice.isVisible(), timeout=WAIT_MS)
    assert "zero gradient" in window.cam_panel.notice.text()
    assert "empty map" in window.status.summary.text()
