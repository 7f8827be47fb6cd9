"""The window under bad files (issue 11): names that are not UTF-8, a FIFO in a folder, an earlier export, a CSV
partition that names files elsewhere."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from gui_helpers import WAIT_MS, fill_training_form, save_synth_checkpoint, synth_cells, wait_for_result, write_images
from hostile_files import NON_UTF8_NAME, fifo, non_utf8_image
from PySide6.QtCore import Qt, QThreadPool
from PySide6.QtWidgets import QMessageBox

from camviewer.core import csvfiles

pytest_plugins = ["gui_helpers"]  # the GUI fixtures; kept out of conftest.py so core tests load no Qt
pytestmark = pytest.mark.usefixtures("no_dangling_work")  # every GUI test: no threads or workers left behind


def predictions(out: Path) -> list[dict]:
    with open(out / "predictions.csv", newline="", encoding="utf-8", errors="surrogateescape") as handle:
        return csvfiles.dict_rows(handle)


def test_a_file_name_that_is_not_utf8_is_shown_explained_and_exported(make_window, qtbot, tmp_path, checkpoint):
    folder = tmp_path / "images"
    write_images(folder, 2)
    odd = non_utf8_image(folder)
    window = make_window()
    with qtbot.waitSignal(window.session.modelChanged, timeout=WAIT_MS):
        window.start([str(folder)], str(checkpoint))
    qtbot.waitUntil(lambda: str(odd) in window.browser.paths(), timeout=WAIT_MS)
    row = window.browser.images.row_of(odd)
    window.browser.select(row)
    wait_for_result(qtbot, window, odd)  # the same bytes reached the reader: no "no such file"
    assert window.session.result.source == str(odd) and window.session.unreadable is None
    index = window.browser.images.index(row)
    assert window.browser.images.data(index, Qt.ItemDataRole.DisplayRole) == "caf\\xe9-\\xff.png"
    qtbot.waitUntil(lambda: window.browser.loader.pixmap(str(odd)) is not None, timeout=WAIT_MS)  # its thumbnail

    window.actions.export_folder.trigger()
    dialog = window.export_dialog
    out = tmp_path / "export"
    dialog.out_dir.setText(str(out))
    with qtbot.waitSignal(dialog.done, timeout=WAIT_MS) as done:
        dialog.start_button.click()
    assert done.args[0]["explained"] == 3 and not done.args[0]["failed"]
    rows = predictions(out)
    assert str(odd) in {row["path"] for row in rows}
    assert (out / "predictions.csv").read_bytes().count(NON_UTF8_NAME) == 1
    dialog.close()


def test_a_fifo_in_a_folder_neither_blocks_nor_keeps_the_window_open(make_window, qtbot, tmp_path, checkpoint):
    folder = tmp_path / "images"
    write_images(folder, 2)
    pipe = fifo(folder, "x.png")  # sorts after img00, img01: listed, painted, asked for a thumbnail
    window = make_window()
    with qtbot.waitSignal(window.session.modelChanged, timeout=WAIT_MS):
        window.start([str(folder)], str(checkpoint))
    qtbot.waitUntil(lambda: str(pipe) in window.browser.paths(), timeout=WAIT_MS)
    window.browser.select(window.browser.images.row_of(pipe))
    qtbot.waitUntil(lambda: window.session.unreadable == str(pipe), timeout=WAIT_MS)
    assert "FIFO" in window.log.entries[-1][1]
    window.browser.loader.request(str(pipe))
    qtbot.waitUntil(lambda: window.browser.loader.failure(str(pipe)) is not None, timeout=WAIT_MS)
    assert "FIFO" in window.browser.loader.failure(str(pipe))
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible() and len(window.registry) == 0, timeout=WAIT_MS)
    assert QThreadPool.globalInstance().waitForDone(WAIT_MS)


def answer_with(monkeypatch, text: str | None, asked: list) -> None:
    """Make the Continue/Replace question answer by clicking the button labelled ``text`` (None: Cancel)."""

    def click(box: QMessageBox) -> int:
        asked.append(box.text())
        wanted = next(
            b for b in box.buttons() if (b.text() == text if text else box.buttonRole(b).name == "RejectRole")
        )
        wanted.click()
        return 0

    monkeypatch.setattr(QMessageBox, "exec", click)


def test_an_earlier_export_is_continued_or_replaced_only_when_the_user_says(
    ready_window, qtbot, images, home, monkeypatch
):
    window = ready_window
    out = home / "export"
    window.actions.export_folder.trigger()
    dialog = window.export_dialog
    dialog.out_dir.setText(str(out))
    with qtbot.waitSignal(dialog.done, timeout=WAIT_MS):
        dialog.start_button.click()
    first = (out / "predictions.csv").read_bytes()
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "maps").iterdir()}

    asked: list[str] = []
    answer_with(monkeypatch, None, asked)  # Cancel: nothing starts, nothing changes
    dialog.start_button.click()
    assert asked and "already holds an export" in asked[0] and not dialog.running()
    assert (out / "predictions.csv").read_bytes() == first

    answer_with(monkeypatch, "Continue it", asked)
    with qtbot.waitSignal(dialog.done, timeout=WAIT_MS) as done:
        dialog.start_button.click()
    assert done.args[0]["already_done"] == len(images) and done.args[0]["explained"] == 0
    assert "already done" in dialog.status.text()
    assert {p.name: p.stat().st_mtime_ns for p in (out / "maps").iterdir()} == stamps

    answer_with(monkeypatch, "Replace it", asked)
    with qtbot.waitSignal(dialog.done, timeout=WAIT_MS) as done:
        dialog.start_button.click()
    assert done.args[0]["explained"] == len(images) and len(predictions(out)) == len(images)
    assert any(p.stat().st_mtime_ns != stamps[p.name] for p in (out / "maps").iterdir())  # written again
    dialog.close()


@pytest.fixture(scope="module")
def cells(tmp_path_factory) -> Path:
    return synth_cells(tmp_path_factory.mktemp("partition") / "cells", n=24, size=32)


def outside_partition(cells: Path, folder: Path) -> Path:
    """A CSV in ``folder`` that names the cells by relative paths leading out of it (../cells/...)."""
    rows = [
        f"{os.path.relpath(p, folder)},{p.parent.name}"
        for p in sorted(cells.glob("*/*.png"))
        if p.parent.name in ("parasitized", "uninfected")
    ]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "partition.csv").write_text("path,label\n" + "\n".join(rows) + "\n")
    return folder / "partition.csv"


def test_training_on_a_partition_naming_files_elsewhere_asks_first(make_window, qtbot, cells, tmp_path, monkeypatch):
    partition = outside_partition(cells, tmp_path / "lists")
    window = make_window()
    panel = window.workbench.training
    window.workbench.show_dock("training")
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[1]) or QMessageBox.StandardButton.No)
    panel.data.set_path(partition)
    qtbot.waitUntil(lambda: "outside its folder" in panel.preview.summary.text(), timeout=WAIT_MS)
    assert asked == ["Read files outside the partition's folder?"]
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[1]) or QMessageBox.StandardButton.Yes)
    panel.scan(str(partition))  # asked again (it was refused), now agreed: the preview shows the classes
    qtbot.waitUntil(lambda: panel.preview.table.isVisible(), timeout=WAIT_MS)
    assert len(asked) == 2
    run_dir = tmp_path / "run"
    fill_training_form(panel, partition, run_dir, epochs=1)
    panel.data.set_path(partition, announce=False)
    with qtbot.waitSignal(window.session.modelChanged, timeout=WAIT_MS):
        panel.controls.run_button.click()
    qtbot.waitUntil(lambda: not panel.running(), timeout=WAIT_MS)
    assert (run_dir / "best.safetensors").exists() and len(asked) == 2  # not asked again for the same file


def test_evaluating_a_partition_naming_files_elsewhere_asks_then_runs(make_window, qtbot, cells, tmp_path, monkeypatch):
    partition = outside_partition(cells, tmp_path / "lists")
    window = make_window()
    checkpoint = save_synth_checkpoint(tmp_path / "model" / "tiny.safetensors")
    with qtbot.waitSignal(window.session.modelChanged, timeout=WAIT_MS):
        window.open_model(checkpoint)
    window.workbench.show_dock("evaluation")
    panel = window.workbench.evaluation
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Yes)
    panel.data.setText(str(partition))
    with qtbot.waitSignal(panel.runner.returned, timeout=WAIT_MS):  # refused, asked, run again: then returned
        panel.controls.run_button.click()
    qtbot.waitUntil(lambda: not panel.runner.running(), timeout=WAIT_MS)
    assert len(asked) == 1 and "partition.csv names 24 file(s) outside its own folder" in asked[0]
    assert panel.result is not None and len(panel.result.paths) == 24


def test_the_refinement_wizard_asks_before_building_from_such_a_partition(
    make_window, qtbot, cells, tmp_path, monkeypatch
):
    partition = outside_partition(cells, tmp_path / "lists")
    window = make_window()
    with qtbot.waitSignal(window.session.modelChanged, timeout=WAIT_MS):
        window.open_model(save_synth_checkpoint(tmp_path / "model" / "tiny.safetensors"))
    window.workbench.actions.refine.trigger()
    page = window.workbench.wizard.build_page
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Yes)
    page.data.set_path(str(partition))
    page.set_mode("crop")
    page.out.setText(str(tmp_path / "enhanced"))
    with qtbot.waitSignal(page.runner.returned, timeout=WAIT_MS):  # refused, asked, built
        page.controls.run_button.click()
    qtbot.waitUntil(lambda: not page.runner.running(), timeout=WAIT_MS)
    assert len(asked) == 1 and "partition.csv names 24 file(s) outside its own folder" in asked[0]
    assert len(list((tmp_path / "enhanced").rglob("*.png"))) == 24 and (tmp_path / "enhanced" / "refine.json").is_file()
    window.workbench.wizard.reject()
