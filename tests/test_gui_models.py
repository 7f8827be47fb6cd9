"""Opening models in the window: camviewer checkpoints, bare state_dicts (dialog), bad files, pickles."""

from __future__ import annotations

import pytest
from gui_helpers import CLASSES, WAIT_MS, save_bare_state_dict, tiny_model, wait_for_result
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox

pytest_plugins = ["gui_helpers"]  # the GUI fixtures; kept out of conftest.py so core tests load no Qt
pytestmark = pytest.mark.usefixtures("no_dangling_work")  # every GUI test: no threads or workers left behind


def test_a_camviewer_checkpoint_loads_without_questions(ready_window, checkpoint):
    window = ready_window
    assert window.session.model.card.class_names == CLASSES
    assert checkpoint.name in window.model_panel.name.text()
    assert "tinyvgg_gap" in window.model_panel.summary.text()
    assert window.settings.recent_models[0] == str(checkpoint)
    layers = [window.cam_panel.layer.itemData(i) for i in range(window.cam_panel.layer.count())]
    assert layers[0] is None and "conv_block_2" in layers  # automatic first, then every candidate
    assert "★" in window.cam_panel.layer.itemText(0)


def test_a_bare_state_dict_asks_with_what_was_inferred(ready_window, qtbot, tmp_path, images):
    window = ready_window
    path = save_bare_state_dict(tmp_path / "bare.pt")
    with qtbot.waitSignal(window.loader.dialogOpened, timeout=WAIT_MS) as opened:
        window.open_model(path)
    dialog = opened.args[0]
    assert dialog.arch.currentText() == "tinyvgg_gap"
    assert dialog.num_classes.value() == 2
    dialog.class_names.setText("only-one-name")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert dialog.isVisible() and "1 class names for 2 classes" in dialog.error.text()
    dialog.class_names.setText("healthy, sick")
    dialog.recipe.height.setValue(32)
    dialog.recipe.width.setValue(32)
    with qtbot.waitSignal(window.session.modelChanged, timeout=WAIT_MS):
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    card = window.session.model.card
    assert card.class_names == ["healthy", "sick"] and card.input_size == (32, 32)
    wait_for_result(qtbot, window, images[0])
    assert set(window.session.result.probs) == {"healthy", "sick"}
    assert [window.cam_panel.target.itemData(i) for i in range(3)] == ["pred", "healthy", "sick"]


def test_a_bad_checkpoint_is_reported_and_the_app_keeps_working(ready_window, qtbot, tmp_path, images):
    window = ready_window
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"this is not a checkpoint")
    with qtbot.waitSignal(window.loader.failed, timeout=WAIT_MS):
        window.open_model(bad)
    errors = [message for level, message in window.log.entries if level == "error"]
    assert errors and "broken.pt" in errors[-1]
    assert "broken.pt" in window.status.summary.full_text()
    assert window.session.model.card.class_names == CLASSES  # the previous model is still in use
    window.browser.step(+1)
    wait_for_result(qtbot, window, images[1])


def test_a_pickled_model_is_loaded_only_if_the_user_trusts_it(ready_window, qtbot, tmp_path, monkeypatch):
    import torch

    window = ready_window
    path = tmp_path / "whole-model.pt"
    torch.save(tiny_model().module, path)
    questions = []

    def answer(choice):
        def ask(*args, **kwargs):
            questions.append(args[1])
            return choice

        return ask

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.No))
    with qtbot.waitSignal(window.loader.failed, timeout=WAIT_MS) as failed:
        window.open_model(path)
    assert questions == ["Trust this file?"] and "refused" in window.log.messages()
    message = failed.args[0]  # the engine's facts, then the window's remedy (never the command line's flag)
    assert "pickled Python objects" in message and "only if you trust its source" in message
    assert "--trust-pickle" not in message
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    with qtbot.waitSignal(window.session.modelChanged, timeout=WAIT_MS):
        window.open_model(path)
    assert window.session.model.card.arch == "pickled:TinyVGG"
    wait_for_result(qtbot, window)
