"""Keyboard: arrows flip images whatever has the focus (text fields aside), letters never fire while typing,
and Help > Keyboard shortcuts lists every action."""

from __future__ import annotations

import pytest
from gui_helpers import wait_for_result
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from camviewer.gui.app.keys import listed_actions, shortcut_table

pytest_plugins = ["gui_helpers"]  # the GUI fixtures; kept out of conftest.py so core tests load no Qt
pytestmark = pytest.mark.usefixtures("no_dangling_work")  # every GUI test: no threads or workers left behind


def active(window) -> None:
    window.activateWindow()
    assert QTest.qWaitForWindowActive(window)


def test_arrow_keys_change_the_image_after_a_combo_choice_or_a_slider(ready_window, qtbot, images):
    window = ready_window
    active(window)
    combo = window.cam_panel.colormap  # a display choice: nothing is recomputed by choosing it
    combo.setFocus()
    combo.setCurrentIndex(2)  # as a mouse choice leaves it: the combo has the focus
    QTest.keyClick(combo, Qt.Key.Key_Right)
    wait_for_result(qtbot, window, images[1])
    assert combo.currentIndex() == 2 and combo.hasFocus()  # the combo kept its choice
    slider = window.cam_panel.opacity
    slider.setFocus()
    value = slider.value()
    QTest.keyClick(slider, Qt.Key.Key_Left)
    wait_for_result(qtbot, window, images[0])
    QTest.keyClick(slider, Qt.Key.Key_PageDown)
    wait_for_result(qtbot, window, images[1])
    assert slider.value() == value


def test_single_letter_shortcuts_do_not_fire_while_typing(ready_window, qtbot, images):
    window = ready_window
    active(window)
    a = window.actions
    window.workbench.show_dock("training")
    field = window.workbench.training.run_dir.edit
    field.setFocus()
    field.clear()
    opacity = window.cam_panel.opacity.value()
    QTest.keyClicks(field, "cgfis1w+-")
    QTest.keyClick(field, Qt.Key.Key_Left)  # moves the cursor, not the image
    assert field.text() == "cgfis1w+-" and field.cursorPosition() == len("cgfis1w+-") - 1
    assert not a.compare.isChecked() and not a.invert.isChecked() and not a.fixed_scale.isChecked()
    assert window.workbench.actions.show_truth.isChecked()  # G did not hide the ground truth
    assert window.cam_panel.opacity.value() == opacity
    assert window.browser.current_path() == str(images[0])
    spin = window.workbench.training.form.epochs
    spin.setFocus()
    spin.selectAll()
    QTest.keyClicks(spin, "7")
    QTest.keyClick(spin, Qt.Key.Key_Right)
    assert spin.value() == 7 and window.browser.current_path() == str(images[0])
    # the same keys do work outside text fields (so the checks above could fail)
    window.image_view.setFocus()
    QTest.keyClick(window.image_view, Qt.Key.Key_I)
    QTest.keyClick(window.image_view, Qt.Key.Key_G)
    assert a.invert.isChecked() and not window.workbench.actions.show_truth.isChecked()


def test_help_lists_every_action_with_its_keys(make_window):
    window = make_window()
    bar = window.menuBar()
    listed = listed_actions(bar)
    actions = [*vars(window.actions).values(), *vars(window.workbench.actions).values()]
    assert set(actions) <= set(listed)
    table = shortcut_table(bar)
    for action in listed:
        assert action.text().replace("&", "") in table
        # a shortcut, or the menu letters that reach it: every action can be reached from the keyboard
        assert action.shortcuts() or action.text().count("&") == 1, action.text()
    assert "Ctrl+Shift+M" in table and "Right-drag" in table
