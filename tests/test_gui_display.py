"""Medical viewing, display only: window/level by right-drag and presets, invert, the readout in the file's units
(HU of a CT written with pydicom), a readout that is never stale, the map's fixed scale and colour bar, zoom."""

from __future__ import annotations

import numpy as np
import pytest
from gui_helpers import WAIT_MS, EngineSpy, wait_for_result
from image_files import dicom_dataset, write_dicom
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

pytest_plugins = ["gui_helpers"]  # the GUI fixtures; kept out of conftest.py so core tests load no Qt
pytestmark = pytest.mark.usefixtures("no_dangling_work")  # every GUI test: no threads or workers left behind


def hover(qtbot, view, x: float, y: float) -> str:
    with qtbot.waitSignal(view.hovered, timeout=WAIT_MS) as hovered:
        view.scene().sigMouseMoved.emit(view.view.mapViewToScene(QPointF(x, y)))
    return hovered.args[0]


def ct_slices(folder, count: int = 2):
    """64 x 64 CT slices: stored values a ramp (plus 100 per slice), rescale intercept -1024 -> HU."""
    folder.mkdir()
    paths, stored = [], []
    for index in range(count):
        values = (np.arange(64 * 64).reshape(64, 64) % 2000 + 100 * index).astype(np.uint16)
        ds = dicom_dataset(
            values, bits_stored=12, RescaleSlope=1, RescaleIntercept=-1024, WindowCenter=40, WindowWidth=400
        )
        ds.Modality = "CT"
        paths.append(write_dicom(folder / f"slice{index}.dcm", ds))
        stored.append(values)
    return paths, stored


@pytest.fixture
def ct_window(make_window, qtbot, tmp_path, checkpoint):
    paths, stored = ct_slices(tmp_path / "ct")
    window = make_window()
    with qtbot.waitSignal(window.session.modelChanged, timeout=WAIT_MS):
        window.start([str(paths[0].parent)], str(checkpoint))
    wait_for_result(qtbot, window, paths[0])
    return window, paths, stored


def test_ct_readout_is_in_hounsfield_units(ct_window, qtbot):
    window, _paths, stored = ct_window
    text = hover(qtbot, window.image_view, 10.5, 20.5)
    assert text.startswith("x 10, y 20") and f"{int(stored[0][20, 10]) - 1024} HU" in text
    names = [window.display_panel.window.itemText(row) for row in range(window.display_panel.window.count())]
    assert any(name.startswith("Lung") for name in names) and any(name.startswith("Brain") for name in names)


def test_window_level_changes_only_the_display(ct_window, qtbot, monkeypatch):
    window, _paths, stored = ct_window
    view, spy = window.image_view, EngineSpy(monkeypatch)
    pixels = window.session.frame.image.pixels.copy()
    heat = view.heat.image
    assert view.window_level.current() is None  # as decoded: the model's view
    lung = next(w for w in window.display_panel.presets() if w.name == "Lung")
    window.display_panel.choose(window.display_panel.presets().index(lung) + 1)
    assert view.window_level.current() == lung
    assert view.base.levels == pytest.approx([lung.low, lung.high])  # -1350 .. 150 HU
    np.testing.assert_array_equal(view.base.image, stored[0].astype(np.float32) - 1024)  # drawn from the HU
    # a right-drag to the right widens the window, a drag down raises the level
    window.activateWindow()
    QTest.qWaitForWindowActive(window)
    viewport, start = view.viewport(), QPoint(200, 200)
    QTest.mousePress(viewport, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, start)
    for step in range(1, 11):
        QTest.mouseMove(viewport, start + QPoint(20 * step, 10 * step))
    QTest.mouseRelease(viewport, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, start + QPoint(200, 100))
    dragged = view.window_level.current()
    assert dragged.width > lung.width and dragged.center > lung.center
    window.actions.invert.trigger()
    assert view.base.levels == pytest.approx([dragged.high, dragged.low])  # reversed: white is black
    QApplication.processEvents()
    # none of it reached the model: no engine call, the same decoded pixels, the same map
    assert spy.calls == 0 and not window.session.busy
    np.testing.assert_array_equal(window.session.frame.image.pixels, pixels)
    assert view.heat.image is heat
    window.actions.decoded_window.trigger()
    assert view.window_level.current() is None


def test_the_window_stays_while_browsing_a_series(ct_window, qtbot):
    window, paths, _stored = ct_window
    window.actions.next_window.trigger()  # the file's own window (40 / 400)
    chosen = window.image_view.window_level.current()
    assert chosen is not None and (chosen.center, chosen.width) == (40, 400)
    window.browser.step(+1)
    wait_for_result(qtbot, window, paths[1])
    assert window.image_view.window_level.current() == chosen


def test_the_readout_follows_the_image_and_the_map_under_a_still_cursor(ready_window, qtbot, images):
    window = ready_window
    view = window.image_view
    hover(qtbot, view, 30.5, 12.5)

    def expected(method: str) -> str:
        """The readout at the cursor's place on the image now, from the map on screen now."""
        point = view.view.mapSceneToView(view._cursor)
        result = window.session.result
        value = float(result.maps[method][result.predicted][int(point.y()), int(point.x())])
        assert f"map {value:.3f}" in view.readout_at(point)
        return view.readout_at(point)

    before = window.status.readout.text()
    window.browser.step(+1)
    wait_for_result(qtbot, window, images[1])
    qtbot.waitUntil(lambda: window.status.readout.text() == expected("gradcam"), timeout=WAIT_MS)
    assert window.status.readout.text() != before  # another image's values, without moving the mouse
    window.cam_panel.set_method("layercam")
    wait_for_result(qtbot, window)
    qtbot.waitUntil(lambda: window.status.readout.text() == expected("layercam"), timeout=WAIT_MS)


def test_fixed_map_scale_compares_raw_magnitudes_across_images(ready_window, qtbot, images):
    window = ready_window
    view = window.image_view
    result = window.session.result
    low, high = result.ranges["gradcam"][result.predicted]
    assert view.colorbar.isVisible() and view.colorbar.levels() == pytest.approx((low, high))
    window.actions.fixed_scale.trigger()
    assert window.cam_panel.display.scale == "fixed" and view.fixed_maximum == pytest.approx(high)
    window.browser.step(+1)
    wait_for_result(qtbot, window, images[1])
    other = window.session.result
    low2, high2 = other.ranges["gradcam"][other.predicted]
    # the second map is drawn against the first image's maximum: its raw value r shows at r / high
    level_low, level_high = view.heat.levels
    for map_value in (0.0, 0.5, 1.0):
        raw = low2 + map_value * (high2 - low2)
        shown = (map_value - level_low) / (level_high - level_low)
        assert shown == pytest.approx(raw / high, abs=1e-6)
    assert view.colorbar.levels() == pytest.approx((0.0, high))
    window.actions.fixed_scale.trigger()
    assert view.heat.levels == pytest.approx([0.0, 1.0])


def test_zoom_is_shown_and_one_to_one(ready_window, qtbot):
    window = ready_window
    view = window.image_view
    window.actions.actual_size.trigger()
    QApplication.processEvents()
    assert view.zoom() == pytest.approx(1.0, rel=0.02)
    assert window.status.zoom.text() == "zoom 100%"
    width = view.width()
    window.resize(window.width() - 60, window.height())  # the layout settles after 1:1 was asked for
    qtbot.waitUntil(lambda: view.width() != width)
    qtbot.waitUntil(lambda: window.status.zoom.text() == "zoom 100%")
    assert view.zoom() == pytest.approx(1.0, rel=0.005)
    window.actions.fit.trigger()
    QApplication.processEvents()
    assert view.zoom() > 2  # a 64 px image fitted to a view of several hundred pixels


def test_the_opacity_slider_jumps_to_the_clicked_point(ready_window, qtbot):
    slider = ready_window.cam_panel.opacity
    slider.setValue(50)
    QTest.mouseClick(slider, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(3, slider.height() // 2))
    assert slider.value() <= 5
    QTest.mouseClick(
        slider,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
        QPoint(slider.width() - 3, slider.height() // 2),
    )
    assert slider.value() >= 95
