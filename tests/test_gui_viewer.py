"""The viewer: heatmap layers, CAM options, compare mode, keyboard, responsiveness rules."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from gui_helpers import CLASSES, WAIT_MS, EngineSpy, wait_for_result
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

pytest_plugins = ["gui_helpers"]  # the GUI fixtures; kept out of conftest.py so core tests load no Qt
pytestmark = pytest.mark.usefixtures("no_dangling_work")  # every GUI test: no threads or workers left behind


def test_first_image_is_explained_in_a_worker(ready_window, images):
    window = ready_window
    result = window.session.result
    assert Path(result.source) == images[0]
    assert window.image_view.base.image.shape == (64, 64, 3)
    heat = window.image_view.heat.image
    assert heat.shape == (64, 64) and heat.min() >= 0.0 and heat.max() <= 1.0
    bars = window.model_panel.probability_texts()
    assert set(bars) == set(CLASSES) and all(text != "–" for text in bars.values())
    assert "gradcam" in window.status.summary.full_text()


def test_opacity_changes_the_heat_layer_only(ready_window, qtbot, monkeypatch):
    window = ready_window
    spy = EngineSpy(monkeypatch)
    heat_before = window.image_view.heat.image
    window.cam_panel.opacity.setValue(20)
    assert window.image_view.heat.opacity() == 0.2
    QTest.keyClick(window, Qt.Key.Key_Plus)
    assert abs(window.image_view.heat.opacity() - 0.3) < 1e-9
    QTest.keyClick(window, Qt.Key.Key_Minus)
    QTest.keyClick(window, Qt.Key.Key_Minus)
    assert abs(window.image_view.heat.opacity() - 0.1) < 1e-9
    QApplication.processEvents()  # let any (wrongly) queued work start, so the check below could see it
    assert spy.calls == 0 and not window.session.busy
    assert window.image_view.heat.image is heat_before  # same array: nothing was recomputed or reloaded
    assert window.settings.opacity == 0.1


def test_method_class_and_layer_changes_recompute_off_the_gui_thread(ready_window, qtbot, monkeypatch):
    window = ready_window
    spy = EngineSpy(monkeypatch)
    window.cam_panel.set_method("gradcam++")
    wait_for_result(qtbot, window)
    assert "gradcam++" in window.session.result.maps
    other = next(name for name in CLASSES if name != window.session.result.predicted)
    window.cam_panel.set_target(other)
    qtbot.waitUntil(lambda: other in window.session.result.maps.get("gradcam++", {}), timeout=WAIT_MS)
    layer_index = window.cam_panel.layer.findData("conv_block_1")
    window.cam_panel.layer.setCurrentIndex(layer_index)
    qtbot.waitUntil(lambda: window.session.result.layer == "conv_block_1", timeout=WAIT_MS)
    assert spy.calls == 3
    assert threading.get_ident() not in spy.threads
    assert spy.requests[1] == (("gradcam++",), other)
    np.testing.assert_array_equal(window.image_view.heat.image, window.session.result.maps["gradcam++"][other])


def test_compare_methods_and_classes_come_from_one_pass(ready_window, qtbot, monkeypatch):
    window = ready_window
    spy = EngineSpy(monkeypatch)
    window.cam_panel.set_compare("methods")
    wait_for_result(qtbot, window)
    methods = window.cam_panel.compute.engine_methods()
    assert window.central.currentWidget() is window.compare_view
    assert window.compare_view.titles() == list(methods)
    assert spy.calls == 1 and spy.requests[0][0] == methods
    window.cam_panel.set_compare("classes")
    qtbot.waitUntil(lambda: len(window.compare_view.cells) == len(CLASSES), timeout=WAIT_MS)
    wait_for_result(qtbot, window)
    assert spy.calls == 2 and spy.requests[1] == (("gradcam",), "all")
    assert [title.split()[0] for title in window.compare_view.titles()] == CLASSES
    # back to the single view: the maps are already there, so the engine is not called again
    window.cam_panel.set_compare("off")
    assert window.central.currentWidget() is window.image_view
    QApplication.processEvents()
    assert spy.calls == 2


def test_keys_flip_through_the_folder(ready_window, qtbot, images):
    window = ready_window
    window.image_view.setFocus()
    QTest.keyClick(window, Qt.Key.Key_Right)
    wait_for_result(qtbot, window, images[1])
    QTest.keyClick(window, Qt.Key.Key_PageDown)
    wait_for_result(qtbot, window, images[2])
    QTest.keyClick(window, Qt.Key.Key_PageUp)
    wait_for_result(qtbot, window, images[1])
    QTest.keyClick(window, Qt.Key.Key_Left)
    wait_for_result(qtbot, window, images[0])
    QTest.keyClick(window, Qt.Key.Key_Left)  # stays on the first image
    assert window.browser.current_path() == str(images[0])


def test_flipping_fast_never_queues_stale_work(ready_window, qtbot, monkeypatch, images):
    window = ready_window
    spy = EngineSpy(monkeypatch)
    for _ in range(3):
        for row in range(len(images)):
            window.browser.select(row)
    wait_for_result(qtbot, window, images[-1])
    # at most the request running when flipping began, plus the last one
    assert spy.calls <= 2
    assert window.browser.current_path() == str(images[-1])


def test_outline_and_cursor_readout(ready_window, qtbot):
    window = ready_window
    window.cam_panel.outline.setCurrentIndex(window.cam_panel.outline.findData("contour"))
    assert not window.image_view.outline.path().isEmpty()
    window.cam_panel.outline.setCurrentIndex(window.cam_panel.outline.findData("box"))
    assert not window.image_view.outline.path().isEmpty()
    view = window.image_view
    scene_point = view.view.mapViewToScene(QPointF(10.5, 20.5))
    with qtbot.waitSignal(view.hovered, timeout=WAIT_MS) as hovered:
        view.scene().sigMouseMoved.emit(scene_point)
    text = hovered.args[0]
    assert text.startswith("x 10, y 20") and "map" in text
    expected = float(window.session.result.maps["gradcam"][window.session.result.predicted][20, 10])
    assert f"map {expected:.3f}" in text
    assert np.isclose(float(text.split("map ")[1].split()[0]), expected, atol=1e-3)
    # the image's own 8-bit samples, and the map's raw value (before its min-max) next to it
    from PIL import Image

    red, green, blue = np.asarray(Image.open(window.session.result.source))[20, 10]
    assert f"({red}, {green}, {blue})" in text
    result = window.session.result
    low, high = result.ranges["gradcam"][result.predicted]
    raw = float(text.split("raw ")[1].rstrip(")"))
    assert np.isclose(raw, low + expected * (high - low), rtol=1e-3)


def test_menus_show_the_method_on_screen_ticked(ready_window, qtbot):
    window = ready_window
    window.cam_panel.set_method("layercam")
    wait_for_result(qtbot, window)
    menu = {action.text(): action for action in window.cam_panel.compare_methods.menu().actions()}
    assert menu["layercam"].isChecked() and not menu["layercam"].isEnabled()  # always compared: ticked, fixed
    trust = window.workbench.trust  # built now: the method on screen is among the ticked ones
    assert "layercam" in trust.checked_methods()
