"""The viewer offers every CAM method, says what each costs, and shows the slow and pixel-level ones too."""

from __future__ import annotations

import pytest
from gui_helpers import wait_for_result
from PySide6.QtCore import Qt

from camviewer.core.cam.names import METHOD_INFO

pytest_plugins = ["gui_helpers"]  # the GUI fixtures; kept out of conftest.py so core tests load no Qt
pytestmark = pytest.mark.usefixtures("no_dangling_work")  # every GUI test: no threads or workers left behind


def test_every_method_is_offered_with_its_cost(ready_window):
    combo = ready_window.cam_panel.method
    offered = {combo.itemData(i): combo.itemData(i, Qt.ItemDataRole.ToolTipRole) for i in range(combo.count())}
    for name in ("ablationcam", "eigengradcam", "gradcam-elementwise", "finercam", "shapleycam", "occlusion"):
        assert METHOD_INFO[name].cost in offered[name]
    assert "seconds per image" in offered["ablationcam"] and "seconds per image" not in offered["finercam"]
    assert "input's pixels" in offered["integrated-gradients"]


@pytest.mark.parametrize("method", ["ablationcam", "occlusion"])
def test_a_slow_or_pixel_method_is_shown_like_any_other(ready_window, qtbot, method):
    window = ready_window
    window.cam_panel.set_method(method)
    wait_for_result(qtbot, window)
    result = window.session.result
    assert method in result.maps
    heat = window.image_view.heat.image
    assert heat.shape == (64, 64) and heat.min() >= 0.0 and heat.max() <= 1.0
    assert (heat == result.maps[method][result.predicted]).all()
