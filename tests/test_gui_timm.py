"""timm models in the window: the training form offers them, the model dialog fills in timm's preprocessing."""

from __future__ import annotations

import pytest
import timm
import torch
from gui_helpers import WAIT_MS, wait_for_result
from PySide6.QtWidgets import QDialogButtonBox

from camviewer.gui.training.form import TrainingForm

pytest_plugins = ["gui_helpers"]
pytestmark = pytest.mark.usefixtures("no_dangling_work")


def test_the_training_form_offers_timm_models_with_their_options(qtbot):
    form = TrainingForm()
    qtbot.addWidget(form)
    offered = [form.arch.itemText(i) for i in range(form.arch.count())]
    assert {"timm:vit_tiny_patch16_224", "timm:swin_tiny_patch4_window7_224", "timm:convnext_atto"} <= set(offered)
    form.arch.setCurrentText("timm:vit_tiny_patch16_224")
    assert form.pretrained.isEnabled()  # timm's ImageNet weights
    assert form.arch_options.placeholderText() == '{"patch_size": 8, "depth": 6}'
    form.arch_options.setText('{"patch_size": 8, "depth": 2}')
    config = form.config("data", "out")
    assert (config.arch, config.arch_options) == ("timm:vit_tiny_patch16_224", {"patch_size": 8, "depth": 2})


def test_choosing_a_timm_architecture_fills_in_timms_preprocessing(ready_window, qtbot, tmp_path):
    window = ready_window

    def methods():
        return [window.cam_panel.method.itemData(i) for i in range(window.cam_panel.method.count())]

    assert "gradcam" in methods() and "rollout" not in methods()  # a CNN: no attention to roll out
    torch.manual_seed(0)
    path = tmp_path / "vit.pth"
    torch.save(timm.create_model("vit_tiny_patch16_224", num_classes=2).state_dict(), path)
    with qtbot.waitSignal(window.loader.dialogOpened, timeout=WAIT_MS) as opened:
        window.loader.open(path)
    dialog = opened.args[0]
    form = dialog.recipe
    assert form.mode.currentData() == "stretch"  # nothing told from these weights yet
    dialog.arch.setCurrentText("timm:vit_tiny_patch16_224")
    assert form.mode.currentData() == "shorter" and form.short.value() == 248  # 224 / crop_pct 0.9
    assert (form.crop_h.value(), form.crop_w.value()) == (224, 224)
    assert form.interpolation.currentData() == "bicubic" and form.mean.text() == "0.5, 0.5, 0.5"
    with qtbot.waitSignal(window.session.modelChanged, timeout=WAIT_MS):
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    card = window.session.model.card
    assert (card.arch, card.resize, card.crop, card.interpolation) == (
        "timm:vit_tiny_patch16_224",
        248,
        (224, 224),
        "bicubic",
    )
    wait_for_result(qtbot, window)
    assert window.session.result.layer == "blocks.11.norm1"
    assert {"rollout", "gradrollout"} <= set(methods())
