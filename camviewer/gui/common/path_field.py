"""A path typed or chosen with a Browse… button (a folder or a file), as every panel asks for datasets and outputs."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLineEdit, QPushButton, QWidget


class PathField(QWidget):
    chosen = Signal(str)  # the user finished editing or picked a path

    def __init__(
        self,
        caption: str,
        kind: str = "folder",
        name_filter: str = "",
        placeholder: str = "",
        tooltip: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.caption, self.kind, self.name_filter = caption, kind, name_filter  # kind: "folder" or "file"
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(placeholder)
        self.edit.setToolTip(tooltip or caption)
        self.edit.setClearButtonEnabled(True)
        self.edit.editingFinished.connect(lambda: self.chosen.emit(self.text()))
        self.browse = QPushButton("Browse…")
        self.browse.setToolTip(f"{caption}…")
        self.browse.clicked.connect(self._browse)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.browse)

    def text(self) -> str:
        return self.edit.text().strip()

    def setText(self, text: str) -> None:
        self.edit.setText(str(text))

    def set_path(self, path: str | Path, announce: bool = True) -> None:
        self.edit.setText(str(path))
        if announce:
            self.chosen.emit(self.text())

    def _browse(self) -> None:
        start = self.text() or str(Path.home())
        if self.kind == "folder":
            chosen = QFileDialog.getExistingDirectory(self, self.caption, start)
        else:
            chosen, _ = QFileDialog.getOpenFileName(
                self, self.caption, str(Path(start).parent) if self.text() else start, self.name_filter
            )
        if chosen:
            self.set_path(chosen)
