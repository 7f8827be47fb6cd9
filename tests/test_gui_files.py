"""Files in and out of the window: drops, unreadable images, thumbnails, exports, closing during an export."""

from __future__ import annotations

import csv
import threading
from pathlib import Path

import numpy as np
import pytest
from gui_helpers import WAIT_MS, wait_for_result, write_images
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QThreadPool, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QIcon
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

pytest_plugins = ["gui_helpers"]  # the GUI fixtures; kept out of conftest.py so core tests load no Qt
pytestmark = pytest.mark.usefixtures("no_dangling_work")  # every GUI test: no threads or workers left behind


def drop(window, paths: list[Path]) -> None:
    """A real drag-enter + drop of local files, as the window receives it from the desktop."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path)) for path in paths])
    point = QPointF(window.width() / 2, window.height() / 2)
    enter = QDragEnterEvent(
        point.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    event = QDropEvent(point, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, event)
    assert event.isAccepted()


def test_dropping_a_folder_opens_it(ready_window, qtbot, tmp_path):
    window = ready_window
    other = write_images(tmp_path / "dropped folder", 3, prefix="cell")
    drop(window, [other[0].parent])
    wait_for_result(qtbot, window, other[0])
    assert window.browser.paths() == [str(p) for p in other]
    assert window.browser.folder == other[0].parent
    assert window.settings.recent_folders[0] == str(other[0].parent)


def test_dropping_files_opens_the_images_and_lists_the_rest(ready_window, qtbot, tmp_path):
    window = ready_window
    extra = write_images(tmp_path / "elsewhere", 2, prefix="xray")
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    drop(window, [extra[1], notes, extra[0]])
    wait_for_result(qtbot, window, extra[1])
    assert window.browser.paths() == [str(extra[1]), str(extra[0])]
    message = window.findChild(QMessageBox, "unsupportedFilesMessage")
    assert message is not None and message.isVisible() and "notes.txt" in message.text()
    assert "notes.txt" in window.log.messages()
    message.close()


def test_an_unreadable_image_is_marked_and_reported(ready_window, qtbot, images):
    window = ready_window
    broken = images[0].parent / "img01b.png"  # sorts between img01 and img02
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    window.open_folder(images[0].parent)
    qtbot.waitUntil(lambda: str(broken) in window.browser.paths(), timeout=WAIT_MS)
    row = window.browser.images.row_of(broken)
    # thumbnails: the failure is found by the thumbnail worker and shown on the item
    qtbot.waitUntil(lambda: window.browser.loader.failure(str(broken)) is not None, timeout=WAIT_MS)
    index = window.browser.images.index(row)
    assert "Cannot read this file" in window.browser.images.data(index, Qt.ItemDataRole.ToolTipRole)
    assert isinstance(window.browser.images.data(index, Qt.ItemDataRole.DecorationRole), QIcon)
    # the viewer: a visible message, and the app goes on
    window.browser.select(row)
    qtbot.waitUntil(lambda: window.session.unreadable == str(broken), timeout=WAIT_MS)
    assert "img01b.png" in window.status.summary.full_text()
    assert "img01b.png" in window.log.entries[-1][1] and window.log.entries[-1][0] == "error"
    assert window.image_view.message.isVisible() and "Cannot show" in window.image_view.message.toPlainText()
    window.browser.step(+1)
    wait_for_result(qtbot, window, images[2])
    assert not window.image_view.message.isVisible()


def test_export_current_view_writes_png_and_npy(ready_window, qtbot, tmp_path, monkeypatch):
    window = ready_window
    target = tmp_path / "exports" / "view.png"
    target.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "PNG image (*.png)"))
    window.cam_panel.opacity.setValue(40)
    window.actions.export_view.trigger()
    qtbot.waitUntil(lambda: target.with_suffix(".npy").exists() and len(window.registry) == 0, timeout=WAIT_MS)
    png = np.asarray(Image.open(target))
    assert png.shape == (64, 64, 3) and png.dtype == np.uint8
    raw = np.load(target.with_suffix(".npy"))
    assert raw.shape == (64, 64) and raw.dtype == np.float32 and raw.min() >= 0.0 and raw.max() <= 1.0
    np.testing.assert_array_equal(raw, window.session.result.maps["gradcam"][window.session.result.predicted])
    assert window.settings.last_export_dir == str(target.parent)
    # a second export to the same name asks first, and writes nothing if the user says no
    stamp = target.stat().st_mtime_ns
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.No)
    window.actions.export_view.trigger()
    assert asked and "view.png" in asked[0] and "view.npy" in asked[0]
    assert len(window.registry) == 0 and target.stat().st_mtime_ns == stamp


def test_export_folder_writes_maps_overlays_and_predictions(ready_window, qtbot, home, images):
    window = ready_window
    window.actions.export_folder.trigger()
    dialog = window.export_dialog
    suggested = Path(dialog.out_dir.text())
    assert suggested.parent == home and suggested != images[0].parent  # never the image folder by default
    out = home / "export"
    dialog.out_dir.setText(str(out))
    with qtbot.waitSignal(dialog.done, timeout=WAIT_MS) as done:
        dialog.start_button.click()
    assert done.args[0]["explained"] == len(images)
    with open(out / "predictions.csv") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:2] == ["path", "predicted"] and len(rows) == len(images) + 1
    maps = sorted((out / "maps").glob("*.npy"))
    overlays = sorted((out / "overlays").glob("*.png"))
    assert len(maps) == len(overlays) == len(images)
    first = np.load(maps[0])
    assert first.shape == (64, 64) and first.min() >= 0.0 and first.max() <= 1.0
    assert np.asarray(Image.open(overlays[0])).shape == (64, 64, 3)
    assert dialog.progress.value() == dialog.progress.maximum()
    dialog.close()


def test_closing_during_an_export_asks_cancels_and_exits_cleanly(make_window, qtbot, tmp_path, checkpoint, monkeypatch):
    from camviewer.core.explain import export

    folder = write_images(tmp_path / "many", 24)[0].parent
    original = export.explain_to_folder
    first_written = threading.Event()

    def slow_export(*args, cancel=None, **kwargs):
        job = original(*args, cancel=cancel, **kwargs)
        yield next(job)
        first_written.set()
        while not cancel.cancelled:  # hold the export open until the window cancels it
            first_written.wait(0.01)
        yield from job  # the engine notices the cancel before its next batch

    monkeypatch.setattr(export, "explain_to_folder", slow_export)
    window = make_window()
    with qtbot.waitSignal(window.session.modelChanged, timeout=WAIT_MS):
        window.start([str(folder)], str(checkpoint))
    qtbot.waitUntil(lambda: len(window.browser.paths()) == 24, timeout=WAIT_MS)
    window.actions.export_folder.trigger()
    window.export_dialog.out_dir.setText(str(tmp_path / "out"))
    window.export_dialog.start_button.click()
    qtbot.waitUntil(first_written.is_set, timeout=WAIT_MS)
    questions = []
    monkeypatch.setattr(
        QMessageBox, "question", lambda *a, **k: questions.append(a[1]) or QMessageBox.StandardButton.Yes
    )
    window.close()
    assert questions == ["Quit camviewer?"]
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=WAIT_MS)
    assert len(window.registry) == 0
    assert QThreadPool.globalInstance().waitForDone(WAIT_MS)
    with open(tmp_path / "out" / "predictions.csv") as handle:
        assert 1 < len(list(csv.reader(handle))) < 25  # header and what was done before the cancel


def test_refusing_to_quit_keeps_the_export_running(make_window, qtbot, tmp_path, checkpoint, monkeypatch):
    window = make_window()
    with qtbot.waitSignal(window.session.modelChanged, timeout=WAIT_MS):
        window.start([str(write_images(tmp_path / "few", 2)[0].parent)], str(checkpoint))
    qtbot.waitUntil(lambda: len(window.browser.paths()) == 2, timeout=WAIT_MS)
    window.actions.export_folder.trigger()
    window.export_dialog.out_dir.setText(str(tmp_path / "out"))
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    with qtbot.waitSignal(window.export_dialog.done, timeout=WAIT_MS):
        window.export_dialog.start_button.click()
        window.close()
        assert window.isVisible()
    assert (tmp_path / "out" / "predictions.csv").exists()
