"""The list of images in the browser: names at once, thumbnails as they are painted, failures marked, and the
true label (where the data gives one) with a right/wrong mark once the loaded model has predicted."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QApplication, QStyle

from camviewer.core.filenames import printable
from camviewer.gui.viewer.thumbnail_loader import ThumbnailLoader

PATH_ROLE = Qt.ItemDataRole.UserRole + 1
NAME_ROLE, LABEL_ROLE, VERDICT_ROLE = (Qt.ItemDataRole.UserRole + n for n in (2, 3, 4))  # for the thumbnail delegate
AnyIndex = QModelIndex | QPersistentModelIndex
RIGHT, WRONG = "✓", "✗"
WRONG_COLOUR, FAILED_COLOUR = QColor("#c92a2a"), QColor("#b00020")


class ImageListModel(QAbstractListModel):
    def __init__(self, loader: ThumbnailLoader, parent=None) -> None:
        super().__init__(parent)
        self._loader = loader
        self._paths: list[str] = []
        self._rows: dict[str, int] = {}
        self._labels: dict[str, str] = {}  # path -> true label
        self._predicted: dict[str, str] = {}  # path -> the loaded model's prediction
        self._placeholder = QPixmap(loader.icon_size())
        self._placeholder.fill(QColor("#e4e4e4"))
        self._broken: QIcon | None = None
        loader.ready.connect(self._thumbnail_ready)

    def set_paths(self, paths: list[str | Path], labels: dict[str, str] | None = None) -> None:
        self.beginResetModel()
        self._paths = [str(path) for path in paths]
        self._rows = {path: row for row, path in enumerate(self._paths)}
        self._labels = {str(path): label for path, label in (labels or {}).items()}
        self._predicted = {}
        self._loader.forget_requests()
        self.endResetModel()

    def set_prediction(self, path: str, predicted: str) -> None:
        row = self._rows.get(str(path))
        if row is not None and self._predicted.get(str(path)) != predicted:
            self._predicted[str(path)] = predicted
            self.dataChanged.emit(self.index(row), self.index(row))

    def forget_predictions(self) -> None:
        """Another model: its predictions are not known yet."""
        self._predicted = {}
        if self._paths:
            self.dataChanged.emit(self.index(0), self.index(len(self._paths) - 1))

    def paths(self) -> list[str]:
        return list(self._paths)

    def path(self, row: int) -> str:
        return self._paths[row]

    def label(self, path: str) -> str | None:
        return self._labels.get(str(path))

    def verdict(self, path: str) -> bool | None:
        """True when the model predicted the true label, False when not, None when either is unknown."""
        label, predicted = self._labels.get(str(path)), self._predicted.get(str(path))
        return None if label is None or predicted is None else predicted in label.split("|")

    def row_of(self, path: str | Path) -> int:
        return self._rows.get(str(path), -1)

    def rowCount(self, parent: AnyIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self._paths)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._paths):
            return None
        path = self._paths[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(path)
        if role == Qt.ItemDataRole.DecorationRole:
            return self._decoration(path)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(path)
        if role == Qt.ItemDataRole.ForegroundRole:
            if self._loader.failure(path):
                return FAILED_COLOUR
            if self.verdict(path) is False:
                return WRONG_COLOUR
        if role == PATH_ROLE:
            return path
        if role == NAME_ROLE:
            return printable(Path(path).name)  # a name that is not UTF-8 shows its bytes as \xNN
        if role == LABEL_ROLE:
            return self._labels.get(path)
        if role == VERDICT_ROLE:
            return self.verdict(path)
        return None

    def _text(self, path: str) -> str:
        name, label = printable(Path(path).name), self._labels.get(path)
        if label is None:
            return name
        verdict = self.verdict(path)
        mark = "" if verdict is None else f" {RIGHT if verdict else WRONG}"
        return f"{name}  ·  {label}{mark}"

    def _tooltip(self, path: str) -> str:
        lines = [html.escape(printable(path))]
        label, predicted = self._labels.get(path), self._predicted.get(path)
        if label is not None:
            lines.append(f"true label: <b>{html.escape(label)}</b>")
        if predicted is not None:
            verdict = self.verdict(path)
            suffix = "" if verdict is None else f" {RIGHT} right" if verdict else f" {WRONG} wrong"
            lines.append(f"predicted: <b>{html.escape(predicted)}</b>{suffix}")
        failure = self._loader.failure(path)
        if failure:
            lines.append(f"Cannot read this file: {html.escape(failure)}")
        return "<br>".join(lines)

    def _decoration(self, path: str) -> QPixmap | QIcon:
        pixmap = self._loader.pixmap(path)
        if pixmap is not None:
            return pixmap
        if self._loader.failure(path):
            if self._broken is None:
                self._broken = QApplication.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
            return self._broken
        self._loader.request(path)  # asked only for items being painted: lazy by construction
        return self._placeholder

    def _thumbnail_ready(self, path: str) -> None:
        row = self._rows.get(path)
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(
                index,
                index,
                [Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.ForegroundRole],
            )
