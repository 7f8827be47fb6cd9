"""The Evaluation dock's label mapping table: exact, case/punctuation, explicit, grouped, unmatched; remembered."""

from __future__ import annotations

from pathlib import Path

import pytest
from gui_helpers import WAIT_MS, write_images
from PySide6.QtWidgets import QComboBox, QStyleOptionViewItem, QWidget

from camviewer.gui.evaluation.mapping_table import UNMATCHED, LabelMappingTable

pytest_plugins = ["gui_helpers"]
pytestmark = pytest.mark.usefixtures("no_dangling_work")

CLASSES = ["Bacterial Pneumonia", "Normal", "Viral Pneumonia"]
GROUP = "Bacterial Pneumonia | Viral Pneumonia"


def rows(table: LabelMappingTable) -> list[list[str]]:
    grid = table.table
    return [[grid.item(r, c).text() for c in range(3)] for r in range(grid.rowCount())]


def edit(qtbot, table: LabelMappingTable, label: str, text: str) -> None:
    """Type ``text`` into the model-class cell of ``label``, as a user does after a double click."""
    with qtbot.waitSignal(table.mappingChanged, timeout=WAIT_MS):
        table.table.item(table.labels.index(label), 1).setText(text)


@pytest.fixture
def table(qtbot) -> LabelMappingTable:
    widget = LabelMappingTable()
    qtbot.addWidget(widget)
    return widget


def test_exact_names(table):
    table.set_labels(["lesion", "normal"], ["lesion", "normal"])
    assert rows(table) == [["lesion", "lesion", "same name"], ["normal", "normal", "same name"]]
    assert table.problem is None and table.mapping.is_identity and table.label_map() == ""
    assert table.evaluated_classes() == ["lesion", "normal"] and "Every label is a model class" in table.note.text()


def test_case_and_punctuation(table):
    table.set_labels(["NORMAL", "viral_pneumonia"], CLASSES)
    assert rows(table) == [
        ["NORMAL", "Normal", "case/punctuation"],
        ["viral_pneumonia", "Viral Pneumonia", "case/punctuation"],
    ]
    assert "Bacterial Pneumonia" in table.note.text()  # a model class no label stands for


def test_unmatched_labels_are_flagged_and_named(table):
    table.set_labels(["NORMAL", "PNEUMONIA"], CLASSES)
    assert rows(table)[1] == ["PNEUMONIA", "", "no match"]
    assert table.table.item(1, 0).background().color() == UNMATCHED
    assert table.problem == "No model class for 'PNEUMONIA': choose one." and "PNEUMONIA" in table.note.text()


def test_explicit_entry_and_back_to_automatic(qtbot, table):
    table.set_labels(["NORMAL", "PNEUMONIA"], CLASSES)
    edit(qtbot, table, "PNEUMONIA", "viral pneumonia")  # matched like a label: case aside
    assert rows(table)[1] == ["PNEUMONIA", "Viral Pneumonia", "your entry"]
    assert table.problem is None and table.label_map() == "PNEUMONIA=Viral Pneumonia"
    with qtbot.waitSignal(table.mappingChanged, timeout=WAIT_MS):
        table.reset_button.click()
    assert rows(table)[1][2] == "no match" and table.label_map() == "" and not table.reset_button.isEnabled()


def test_grouped_entry_is_scored_as_one_class(qtbot, table):
    table.set_labels(["NORMAL", "PNEUMONIA"], CLASSES)
    edit(qtbot, table, "PNEUMONIA", GROUP)
    assert rows(table)[1] == ["PNEUMONIA", GROUP, "your entry (group)"]
    assert table.evaluated_classes() == ["PNEUMONIA", "Normal"]
    assert "one class each (probabilities summed): PNEUMONIA" in table.note.text()
    edit(qtbot, table, "PNEUMONIA", "")  # an empty cell: automatic again
    assert table.label_map() == "" and table.problem


def test_an_unknown_class_is_refused_with_the_reason(qtbot, table):
    table.set_labels(["NORMAL", "PNEUMONIA"], CLASSES)
    edit(qtbot, table, "PNEUMONIA", "Pneumonia")
    assert table.mapping is None and "'Pneumonia' is not among the model's classes" in table.problem
    assert rows(table)[1][1] == "Pneumonia" and table.table.item(1, 1).background().color() == UNMATCHED


def test_the_cell_editor_offers_the_models_classes(table):
    table.set_labels(["NORMAL"], CLASSES)
    index = table.table.model().index(0, 1)
    delegate = table.table.itemDelegateForColumn(1)
    editor = delegate.createEditor(table.table.viewport(), QStyleOptionViewItem(), index)
    assert isinstance(editor, QComboBox) and [editor.itemText(i) for i in range(editor.count())] == CLASSES
    delegate.setEditorData(editor, index)
    assert editor.currentText() == "Normal"
    editor.setEditText("Viral Pneumonia")
    delegate.setModelData(editor, table.table.model(), index)
    assert table.mapping.classes_of("NORMAL") == ("Viral Pneumonia",)
    editor.deleteLater()


# ----------------------------------------------------------------------------- in the dock


@pytest.fixture
def study(tmp_path) -> tuple[Path, Path]:
    """A NORMAL/PNEUMONIA folder and a random-init 3-class checkpoint (no positive class in its card)."""
    import torch

    from camviewer.core.model.card import ModelCard
    from camviewer.core.model.loading import new_model

    torch.manual_seed(0)
    card = ModelCard("tinyvgg_gap", CLASSES, input_size=(32, 32), arch_options={"widths": [4, 8]})
    checkpoint = new_model(card, device="cpu").save(tmp_path / "three.safetensors")
    data = tmp_path / "xrays"
    write_images(data / "NORMAL", 5, size=32, prefix="n")
    write_images(data / "PNEUMONIA", 7, size=32, prefix="p")
    return data, checkpoint


def open_dock(make_window, qtbot, checkpoint: Path):
    window = make_window()
    with qtbot.waitSignal(window.session.modelChanged, timeout=WAIT_MS):
        window.open_model(checkpoint)
    window.workbench.show_dock("evaluation")
    return window, window.findChild(QWidget, "evaluationPanel")


def test_dock_evaluates_a_grouped_mapping_and_remembers_it(make_window, qtbot, study):
    data, checkpoint = study
    window, panel = open_dock(make_window, qtbot, checkpoint)
    table = panel.setup.mapping
    panel.data.set_path(data)
    qtbot.waitUntil(lambda: table.labels == ["NORMAL", "PNEUMONIA"], timeout=WAIT_MS)
    panel.start()
    assert (
        "Label mapping: No model class for 'PNEUMONIA'" in panel.controls.status.text() and not panel.runner.running()
    )

    edit(qtbot, table, "PNEUMONIA", GROUP)
    positive = panel.setup.positive
    assert [positive.itemText(i) for i in range(positive.count())] == ["choose…", "PNEUMONIA", "Normal"]
    assert not panel.setup.operating.isEnabled()  # no positive class yet
    panel.start()
    assert "Choose the positive class" in panel.controls.status.text()
    positive.setCurrentIndex(positive.findData("PNEUMONIA"))
    panel.setup.operating.set_rule("sensitivity:0.8")
    with qtbot.waitSignal(panel.runner.finished, timeout=WAIT_MS):
        panel.start()
    report = panel.result.report
    assert panel.result.class_names == ["PNEUMONIA", "Normal"] and report.positive_class == "PNEUMONIA"
    assert report.operating_point["rule"] == "sensitivity:0.8" and report.operating_point["sensitivity"] >= 0.8

    summary = dict(zip(panel.metrics.column_texts(0), panel.metrics.column_texts(2)))
    ci = report.intervals["sensitivity"]
    assert summary["Sensitivity — positive class: PNEUMONIA"] == f"{ci['low']:.3f} – {ci['high']:.3f}"
    assert any(name.startswith("At sensitivity:0.8 (threshold") for name in summary)
    per_class = panel.tables.per_class
    assert per_class.column_texts(0) == ["PNEUMONIA (positive)", "Normal"] and per_class.column_texts(1) == ["7", "5"]
    auc = report.per_class["Normal"]
    interval = auc["intervals"]["sensitivity"]
    assert per_class.item(1, 2).text() == f"{auc['sensitivity']:.3f} ({interval['low']:.2f}–{interval['high']:.2f})"
    assert per_class.item(1, 2).toolTip() == f"Wilson, n = {auc['intervals']['sensitivity']['n']}"

    key = str(checkpoint)
    assert window.settings.label_map(key, str(data)) == "PNEUMONIA=Bacterial Pneumonia|Viral Pneumonia"
    assert window.settings.eval_operating_point == "sensitivity:0.8"
    panel.data.set_path(data.parent)  # another dataset, then back: the entries come back with it
    qtbot.waitUntil(lambda: table.labels != ["NORMAL", "PNEUMONIA"], timeout=WAIT_MS)
    panel.data.set_path(data)
    qtbot.waitUntil(lambda: table.labels == ["NORMAL", "PNEUMONIA"], timeout=WAIT_MS)
    assert rows(table)[1] == ["PNEUMONIA", GROUP, "your entry (group)"] and table.problem is None
