"""Browsing: images in sub-folders are offered, an empty folder clears the view, names stay apart, true labels and
right/wrong marks, file dialogs start where the user is, runs named by their folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from gui_helpers import WAIT_MS, wait_for_result, write_images
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QFileDialog

from camviewer.gui.common.files import checkpoint_name
from camviewer.gui.viewer.thumbnail_delegate import ThumbnailDelegate, name_lines
from camviewer.gui.viewer.thumbnail_loader import THUMBNAIL_SIZE

pytest_plugins = ["gui_helpers"]  # the GUI fixtures; kept out of conftest.py so core tests load no Qt
pytestmark = pytest.mark.usefixtures("no_dangling_work")  # every GUI test: no threads or workers left behind


def test_images_only_in_sub_folders_are_offered_then_listed_with_their_labels(ready_window, qtbot, tmp_path):
    window = ready_window
    data = tmp_path / "chest"
    normal = write_images(data / "normal", 2, prefix="n")
    lesion = write_images(data / "lesion", 3, prefix="l")
    window.open_folder(data)
    qtbot.waitUntil(lambda: window.browser.offer.isVisible(), timeout=WAIT_MS)
    assert "5 in its sub-folders" in window.browser.offer.text() and window.browser.paths() == []
    # nothing of the previous image stays on screen
    view = window.image_view
    assert view.pixels is None and view.heat.image is None and view.message.isVisible()
    assert "No images in chest" in view.message.toPlainText() and window.windowTitle() == "camviewer"
    assert window.model_panel.probability_texts() == dict.fromkeys(window.model_panel.probability_texts(), "–")
    window.browser.include_button.click()
    qtbot.waitUntil(lambda: len(window.browser.paths()) == 5, timeout=WAIT_MS)
    assert window.actions.recursive.isChecked() and not window.browser.offer.isVisible()
    images = window.browser.images
    assert {images.label(str(p)) for p in lesion} == {"lesion"} and {images.label(str(p)) for p in normal} == {"normal"}
    first = window.browser.paths()[0]
    wait_for_result(qtbot, window, first)
    predicted = window.session.result.predicted
    assert images.verdict(first) is (predicted == images.label(first))
    text = images.data(images.index(0))
    assert text.endswith("✓" if predicted == images.label(first) else "✗")
    assert f"predicted: <b>{predicted}</b>" in images.data(images.index(0), 3)  # ToolTipRole


def test_a_plain_folder_gets_no_labels(ready_window, images):
    listing_labels = ready_window.browser.images
    assert all(listing_labels.label(str(path)) is None for path in images)  # "images/" is no class folder


def test_names_that_differ_at_their_end_stay_apart():
    metrics = QFontMetrics(QFont())
    tile = ThumbnailDelegate(THUMBNAIL_SIZE).cell_size(metrics).width() - 4  # the text's width in a tile
    narrow = metrics.horizontalAdvance("00000002_") + 1  # a name needs two lines here
    for name in ("00000002_000.png", "00000002_001.png"):
        for width in (tile, narrow):
            lines = name_lines(metrics, name, width)
            assert "".join(lines) == name and len(lines) <= 2  # whole: wrapped if need be, never elided
    long = name_lines(metrics, "a_very_long_file_name_from_a_scanner_export_000123.png", narrow)
    assert len(long) == 2 and long[-1].endswith("…")  # only past two lines, elided at the end


def test_a_run_is_named_by_its_folder(tmp_path):
    run = tmp_path / "cells-tinyvgg-20240101"
    run.mkdir()
    (run / "best.safetensors").write_bytes(b"")
    assert checkpoint_name(run / "best.safetensors") == "best.safetensors"  # no run files: just a file
    (run / "config.json").write_text("{}")
    assert checkpoint_name(run / "best.safetensors") == "cells-tinyvgg-20240101/best"
    assert checkpoint_name(None) == "demo model"


def test_file_dialogs_start_where_the_user_is(ready_window, monkeypatch, images, checkpoint):
    window = ready_window
    asked = []
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda parent, title, start: asked.append(start) or "")
    monkeypatch.setattr(
        QFileDialog, "getOpenFileName", lambda parent, title, start, *filters: asked.append(start) or ("", "")
    )
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda parent, title, start: asked.append(start) or ([], ""))
    window.actions.open_folder.trigger()
    window.actions.open_images.trigger()
    window.actions.open_model.trigger()
    window.actions.open_comparison.trigger()
    folder, model_folder = str(images[0].parent), str(Path(checkpoint).parent)
    assert asked == [folder, folder, model_folder, model_folder]
