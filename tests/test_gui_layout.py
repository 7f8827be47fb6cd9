"""The layout at 1280 x 800 and 1920 x 1080: nothing elided or cut, the image view keeps half the width in every
mode, the compare grid refits, long class names fit the confusion matrix."""

from __future__ import annotations

import pytest
from gui_helpers import WAIT_MS, wait_for_result, write_images
from PySide6.QtCore import QRect
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QComboBox,
    QHeaderView,
    QLabel,
    QScrollArea,
    QStyle,
    QStyleOptionComboBox,
    QTabBar,
    QWidget,
)

from camviewer.gui.common.elided_label import ElidedLabel

pytest_plugins = ["gui_helpers"]  # the GUI fixtures; kept out of conftest.py so core tests load no Qt
pytestmark = pytest.mark.usefixtures("no_dangling_work")  # every GUI test: no threads or workers left behind

SIZES = [(1280, 800), (1920, 1080)]
LONG_CLASSES = ["Bacterial Pneumonia", "Viral Pneumonia", "No Finding"]  # as a chest X-ray model names them
MODES = ("viewer", "training", "evaluation", "trust", "compare")


def save_three_class_checkpoint(path):
    import torch

    from camviewer.core.model.card import ModelCard
    from camviewer.core.model.loading import new_model

    torch.manual_seed(0)
    card = ModelCard(arch="tinyvgg_gap", class_names=LONG_CLASSES, input_size=(32, 32), arch_options={"widths": [4, 8]})
    return new_model(card, device="cpu").save(path)


def settle(qtbot, window) -> None:
    """Let the layout keeper and every pending layout run (no sleeps: until nothing is queued)."""
    for _ in range(3):
        QApplication.processEvents()
        qtbot.waitUntil(lambda: not window.layout_keeper._apply_soon.isActive(), timeout=WAIT_MS)
    QApplication.processEvents()


def shown(widget: QWidget) -> bool:
    return widget.isVisible() and not widget.visibleRegion().isEmpty()


def elided_texts(window) -> list[str]:
    """Every text on screen that is cut: tab titles, combo texts, labels, buttons, table headers."""
    problems = []
    for bar in window.findChildren(QTabBar):
        for index in range(bar.count()) if shown(bar) else ():
            if bar.tabRect(index).width() < bar.tabSizeHint(index).width():
                problems.append(f"tab {bar.tabText(index)!r}: {bar.tabRect(index).width()} < {bar.tabSizeHint(index)}")
    for combo in (c for c in window.findChildren(QComboBox) if shown(c) and c.currentText()):
        option = QStyleOptionComboBox()
        combo.initStyleOption(option)
        field = combo.style().subControlRect(
            QStyle.ComplexControl.CC_ComboBox, option, QStyle.SubControl.SC_ComboBoxEditField, combo
        )
        icon = option.iconSize.width() + 4 if not option.currentIcon.isNull() else 0
        if combo.fontMetrics().horizontalAdvance(combo.currentText()) + icon > field.width():
            problems.append(f"combo {combo.currentText()!r} in {field.width()} px")
    for widget in window.findChildren(QWidget):
        if not shown(widget) or isinstance(widget, ElidedLabel):
            continue
        texts = isinstance(widget, (QLabel, QAbstractButton)) and widget.text()
        if texts and widget.width() < widget.minimumSizeHint().width():
            problems.append(f"{type(widget).__name__} {widget.text()[:40]!r}: {widget.width()} px")
    for header in (h for h in window.findChildren(QHeaderView) if shown(h) and not h.isHidden()):
        model, metrics = header.model(), header.fontMetrics()
        for section in range(header.count()) if model is not None else ():
            text = str(model.headerData(section, header.orientation()) or "")
            need = max((metrics.horizontalAdvance(line) for line in text.split("\n")), default=0) + 8
            have = header.sectionSize(section) if header.orientation().name == "Horizontal" else header.width()
            if text and need > have:
                problems.append(f"header {text!r}: needs {need}, has {have}")
    return problems


def cut_panels(window) -> list[str]:
    """Panels whose content is wider than the room they are given (their right part would be cut)."""
    problems = []
    for scroll in window.findChildren(QScrollArea):
        inside = scroll.widget()
        if shown(scroll) and inside is not None and inside.minimumSizeHint().width() > scroll.viewport().width() + 1:
            problems.append(f"{inside.objectName() or inside}: too wide for its panel")
    for dock in (window.browser_dock, window.model_dock, *window.workbench.docks.values()):
        if shown(dock) and dock.widget() is not None and dock.widget().minimumSizeHint().width() > dock.width():
            problems.append(f"{dock.objectName()}: content {dock.widget().minimumSizeHint().width()} > {dock.width()}")
    return problems


def show_mode(window, mode: str) -> None:
    cam = window.cam_panel
    cam.set_compare("classes" if mode == "compare" else "off")
    if mode in ("viewer", "compare"):
        window.actions.viewer_panel.trigger()
    else:
        window.workbench.show_dock(mode)


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_every_mode_fits_and_the_view_keeps_half_the_width(make_window, qtbot, tmp_path, size):
    images = write_images(tmp_path / "images", 3, size=96)
    checkpoint = save_three_class_checkpoint(tmp_path / "xray.safetensors")
    window = make_window()
    window.resize(*size)
    with qtbot.waitSignal(window.session.modelChanged, timeout=WAIT_MS):
        window.start([str(images[0].parent)], str(checkpoint))
    wait_for_result(qtbot, window, images[0])
    evaluation = window.workbench.evaluation  # a three-class confusion matrix with long names
    evaluation.confusion.set_matrix(LONG_CLASSES, [[8, 1, 1], [2, 7, 1], [0, 1, 9]])
    methods = ["gradcam", "gradcam++", "layercam", "eigencam", "xgradcam"]  # a trust table, one column each
    window.workbench.trust.table.set_rows(
        ["score", *methods], [["pointing game ↑", *["0.900"] * 5]], stretch_values=True
    )
    for mode in MODES:
        show_mode(window, mode)
        if mode == "compare":
            qtbot.waitUntil(lambda: len(window.compare_view.cells) == 3, timeout=WAIT_MS)
            wait_for_result(qtbot, window)
        settle(qtbot, window)
        assert (window.width(), window.height()) == size
        assert window.central.width() >= 0.5 * window.width(), f"{mode}: view {window.central.width()} px"
        assert elided_texts(window) == [], mode
        assert cut_panels(window) == [], mode
        assert not window.model_status.is_elided()
    # the three classes side by side: every tile inside the view, none left tiny
    view = window.compare_view
    inside = QRect(0, 0, view.width(), view.height())
    for cell in view.cells:
        box = cell.view.mapRectToScene(cell.view.boundingRect()).toRect()
        assert inside.contains(box), (box, inside)
        assert min(box.width(), box.height()) >= 0.25 * min(view.width(), view.height() / 2)


def test_the_compare_grid_refits_on_every_resize(ready_window, qtbot):
    window = ready_window
    window.cam_panel.set_compare("methods")
    wait_for_result(qtbot, window)
    view = window.compare_view
    qtbot.waitUntil(lambda: len(view.cells) > 1, timeout=WAIT_MS)

    def tiles_fill_their_cells() -> bool:
        QApplication.processEvents()
        for cell in view.cells:
            shown_range = cell.view.viewRect()  # what the tile shows, in image pixels (64 x 64 image)
            if not (shown_range.width() <= 64 * 1.1 or shown_range.height() <= 64 * 1.1):
                return False  # the image fills neither the tile's width nor its height: left small
        return True

    for size in ((1280, 800), (1920, 1080), (1100, 700)):
        window.resize(*size)
        qtbot.waitUntil(tiles_fill_their_cells, timeout=WAIT_MS)
        columns = view.columns
        assert 1 <= columns <= len(view.cells)


def test_first_launch_size_comes_from_the_screen(make_window):
    from camviewer.gui.app.layout import first_size

    window = make_window()
    available = window.screen().availableGeometry().size()
    size = first_size(window)
    assert size.width() <= available.width() and size.height() <= available.height()
    assert size.width() >= min(1024, available.width()) and size.height() >= min(640, available.height())
    if available.width() <= 1440:  # a laptop screen (the offscreen one is 800 x 600): all of it
        assert size == available
