"""The list of images in the browser: names at once, thumbnails as they are painted, failures marked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QApplication, QStyle

from camviewer.gui.viewer.thumbnail_loader import ThumbnailLoader

PATH_ROLE = Qt.ItemDataRole.UserRole + 1
AnyIndex = QModelIndex | QPersistentModelIndex


class ImageListModel(QAbstractListModel):
    def __init__(self, loader: ThumbnailLoader, parent=None) -> None:
        super().__init__(parent)
        self._loader = loader
        self._paths: list[str] = []
        self._rows: dict[str, int] = {}
        self._placeholder = QPixmap(loader.icon_size())
        self._placeholder.fill(QColor("#e4e4e4"))
        self._broken: QIcon | None = None
        loader.ready.connect(self._thumbnail_ready)

    def set_paths(self, paths: list[str | Path]) -> None:
        self.beginResetModel()
        self._paths = [str(path) for path in paths]
        self._rows = {path: row for row, path in enumerate(self._paths)}
        self._loader.forget_requests()
        self.endResetModel()

    def paths(self) -> list[str]:
        return list(self._paths)

    def path(self, row: int) -> str:
        return self._paths[row]

    def row_of(self, path: str | Path) -> int:
        return self._rows.get(str(path), -1)

    def rowCount(self, parent: AnyIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self._paths)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._paths):
            return None
        path = self._paths[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return Path(path).name
        if role == Qt.ItemDataRole.DecorationRole:
            return self._decoration(path)
        if role == Qt.ItemDataRole.ToolTipRole:
            failure = self._loader.failure(path)
            return f"{path}\nCannot read this file: {failure}" if failure else path
        if role == Qt.ItemDataRole.ForegroundRole and self._loader.failure(path):
            return QColor("#b00020")
        if role == PATH_ROLE:
            return path
        return None

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
