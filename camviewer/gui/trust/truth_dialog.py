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
    QLineEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from camviewer.gui.common.path_field import PathField

KINDS = {"masks": "Masks folder", "boxes": "Boxes CSV", "coco": "COCO JSON", "voc": "Pascal VOC folder"}
FOLDER_KINDS = ("masks", "voc")
FILTERS = {"boxes": "CSV (*.csv *.tsv *.txt);;All files (*)", "coco": "JSON (*.json);;All files (*)"}
PLACEHOLDERS = {
    "masks": "masks/ mirroring the dataset's folders",
    "boxes": "a CSV with image, box (x,y,w,h or corners) and label columns",
    "coco": "COCO annotations",
    "voc": "a folder of Pascal VOC .xml files, one per image",
}
COLUMNS_TIP = (
    "Which columns hold what, when their names are not recognised: roles image, x, y, w, h (or x1, y1, x2, "
    "y2) and label, e.g. image=Image Index,x=Bbox [x,y=y,w=w,h=h],label=Finding Label. A column by its "
    "header or its number from 1; label= ignores labels. Empty: found from the header."
)


def ask_for_truth(field: PathField, kind: str) -> None:
    """Make a path field browse for one kind of ground truth (masks or VOC folder, boxes CSV, COCO JSON)."""
    field.kind = "folder" if kind in FOLDER_KINDS else "file"
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
            tooltip="Masks: non-zero pixels are the region, same relative path and stem as the image. "
            "Boxes CSV: columns found by their names (path/image/filename/Image Index; x,y,w,h or "
            "x1,y1,x2,y2/xmin..ymax; label/finding/Finding Label), ChestX-ray14's BBox_List as it is.",
        )
        self.columns = QLineEdit(placeholderText="found from the header")
        self.columns.setToolTip(COLUMNS_TIP)
        self.understood = QLabel(wordWrap=True)
        self.understood.setStyleSheet("color: #555")
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
        self.source.edit.editingFinished.connect(self._preview)
        self.columns.editingFinished.connect(self._preview)
        form = QFormLayout()
        form.addRow("Kind", kinds)
        form.addRow("Ground truth", self.source)
        form.addRow("Columns", self.columns)
        form.addRow("", self.understood)
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
            self.columns.setEnabled(self.kind() == "boxes")
            self._preview()

    def _preview(self) -> None:
        """What a boxes CSV's header is understood as, or why it is not (its first line only: instant)."""
        from camviewer.gui.trust.tasks import describe_columns

        path = self.source.text()
        if self.kind() != "boxes" or not path or not Path(path).is_file():
            self.understood.setText("")
            return
        text, understood = describe_columns(path, self.columns.text())
        self.understood.setText(text)
        self.understood.setStyleSheet("color: #555" if understood else "color: #b00020")

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
        self._preview()

    _proposed_root = False

    def values(self) -> dict:
        """Keywords for ``TruthOverlay.load``: masks/boxes/coco/voc, columns, roi, root."""
        from camviewer.gui.trust.tasks import parse_columns

        kind = self.kind()
        return {
            **dict.fromkeys(KINDS),
            kind: self.source.text(),
            "columns": parse_columns(self.columns.text()) if kind == "boxes" else None,
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
        from camviewer.gui.trust.tasks import parse_columns

        try:
            parse_columns(self.columns.text())
        except ValueError as error:
            self.note.setText(f"Columns: {error}, e.g. image=Image Index,label=Finding Label.")
            return
        self.accept()
