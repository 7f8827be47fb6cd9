"""Load ground truth…: a mask folder, a boxes CSV or a COCO JSON, an optional ROI mask folder, and the images root.

Ground truth is matched to an image by its path relative to the images root (the dataset folder), so
``masks/parasitized/cell_01.png`` belongs to ``parasitized/cell_01.png``. The root is proposed from
the choice (the folder holding ``masks/``, or the CSV/JSON's folder) and can be changed.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from camviewer.gui.common.path_field import PathField

KINDS = {"masks": "Masks folder", "boxes": "Boxes CSV", "coco": "COCO JSON"}
FILTERS = {"boxes": "CSV (*.csv);;All files (*)", "coco": "JSON (*.json);;All files (*)"}
PLACEHOLDERS = {
    "masks": "masks/ mirroring the dataset's folders",
    "boxes": "path,x,y,w,h,label CSV",
    "coco": "COCO annotations",
}


def ask_for_truth(field: PathField, kind: str) -> None:
    """Make a path field browse for one kind of ground truth (a masks folder, a boxes CSV, a COCO JSON)."""
    field.kind = "folder" if kind == "masks" else "file"
    field.name_filter = FILTERS.get(kind, "")
    field.edit.setPlaceholderText(PLACEHOLDERS[kind])


class TruthDialog(QDialog):
    def __init__(self, images_folder: str | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("truthDialog")
        self.setWindowTitle("Load ground truth")
        self.kind_group = QButtonGroup(self)
        kinds = QHBoxLayout()
        for index, (key, text) in enumerate(KINDS.items()):
            button = QRadioButton(text, checked=index == 0)
            button.setProperty("kind", key)
            self.kind_group.addButton(button, index)
            kinds.addWidget(button)
        kinds.addStretch(1)
        self.source = PathField(
            "Choose the ground truth",
            placeholder="masks/ mirroring the images' folders",
            tooltip="Masks: non-zero pixels are the region, same relative path and stem as the "
            "image. Boxes CSV: path,x,y,w,h,label (or ChestX-ray14's BBox_List).",
        )
        self.roi = PathField(
            "Choose the region-of-interest masks",
            placeholder="optional: e.g. roi/ (lungs, cell body)",
            tooltip="For 'energy inside the ROI': the share of the heatmap inside e.g. the lungs",
        )
        self.root = PathField(
            "Choose the images root",
            placeholder="the dataset folder the paths are relative to",
            tooltip="Ground truth is matched by the image's path relative to this folder",
        )
        if images_folder:
            self.root.setText(images_folder)
        self.note = QLabel(wordWrap=True)
        self.note.setStyleSheet("color: #b00020")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        self.kind_group.idToggled.connect(self._kind_changed)
        self.source.chosen.connect(self._source_chosen)
        form = QFormLayout()
        form.addRow("Kind", kinds)
        form.addRow("Ground truth", self.source)
        form.addRow("ROI masks", self.roi)
        form.addRow("Images root", self.root)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.note)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(560)

    def kind(self) -> str:
        return self.kind_group.checkedButton().property("kind")

    def _kind_changed(self, _id: int, checked: bool) -> None:
        if checked:
            ask_for_truth(self.source, self.kind())

    def _source_chosen(self, text: str) -> None:
        """Propose the root and the ROI folder next to the ground truth, as `camviewer synth` lays them out."""
        if not text:
            return
        path = Path(text)
        root = path.parent
        if not self.root.text() or self._proposed_root:
            self.root.setText(str(root))
            self._proposed_root = True
        if not self.roi.text() and (root / "roi").is_dir() and path.name != "roi":
            self.roi.setText(str(root / "roi"))

    _proposed_root = False

    def values(self) -> dict:
        """Keywords for ``TruthOverlay.load``: masks/boxes/coco, roi, root."""
        kind = self.kind()
        return {
            "masks": None,
            "boxes": None,
            "coco": None,
            kind: self.source.text(),
            "roi": self.roi.text() or None,
            "root": self.root.text(),
        }

    def _accept(self) -> None:
        if not self.source.text():
            self.note.setText("Choose the ground truth file or folder.")
            return
        if not self.root.text():
            self.note.setText("Choose the images root: ground truth is matched by paths relative to it.")
            return
        self.accept()
