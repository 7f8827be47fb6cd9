"""Left panel: a folder tree (folders only) over the images of the chosen folder, as thumbnails or a list.

Listing runs in a worker, so a folder of 10,000 images shows its names at once; thumbnails are decoded
only for the items on screen (see :mod:`camviewer.gui.viewer.thumbnail_loader`). "Sub-folders" lists the
images of every sub-folder too; a folder whose images all sit in sub-folders offers to include them
(and says how many there are) instead of showing "0 images". Names wrap under the thumbnail (elided at
the end only past two lines; the full path is in the tooltip), so names that differ at their end
(ChestX-ray14's 00000002_000.png, 00000002_001.png) stay apart. The true label, where class folders or
a partition CSV give one, shows under the name, with a right/wrong mark once the model has predicted.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import QDir, QItemSelectionModel, QModelIndex, QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileSystemModel,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListView,
    QPushButton,
    QSplitter,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from camviewer.gui.jobs.latest import Latest
from camviewer.gui.jobs.registry import WorkerRegistry, describe_error
from camviewer.gui.viewer import folder_tasks
from camviewer.gui.viewer.image_list_model import ImageListModel
from camviewer.gui.viewer.thumbnail_delegate import ThumbnailDelegate
from camviewer.gui.viewer.thumbnail_loader import ThumbnailLoader

LIST_ICON = 28


class FolderBrowser(QWidget):
    imageSelected = Signal(object)  # the path (str): object, as Qt strings would lose bytes that are not UTF-8
    listed = Signal(str, int)  # title, number of images
    emptied = Signal(str)  # a listing with no image: why (the view must not keep the previous image)
    failed = Signal(str, str)  # message, details

    def __init__(
        self, registry: WorkerRegistry, thumbnails: bool = True, recursive: bool = False, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._registry = registry
        self._listings = Latest()  # a newer folder (or list of images) supersedes an older listing
        self.folder: Path | None = None
        self.loader = ThumbnailLoader(registry, parent=self)
        self.images = ImageListModel(self.loader, self)
        self.tree = self._make_tree()
        self.list = self._make_list()
        self._list_delegate = self.list.itemDelegate()
        self._thumbnail_delegate = ThumbnailDelegate(self.loader.size, self.list)
        self.title = QLabel("No folder open", wordWrap=True)
        self.title.setObjectName("browserTitle")
        self.mode_button = QToolButton(checkable=True, checked=thumbnails, autoRaise=True)
        self.mode_button.setText("Thumbnails")
        self.mode_button.setToolTip("Show thumbnails or a plain list of names")
        self.mode_button.toggled.connect(self.set_thumbnails)
        self.recursive_button = QToolButton(checkable=True, checked=recursive, autoRaise=True)
        self.recursive_button.setText("Sub-folders")
        self.recursive_button.setToolTip("Also list the images in every sub-folder of the open folder (recursive)")
        self.recursive_button.toggled.connect(self._recursive_toggled)
        self.offer = QLabel(wordWrap=True, visible=False)
        self.offer.setObjectName("subfolderOffer")
        self.offer.setStyleSheet("background: #fff3bf; color: #5c3c00; padding: 4px; border-radius: 3px")
        self.include_button = QPushButton("Include sub-folders", visible=False)
        self.include_button.setToolTip("List the images of every sub-folder too (the Sub-folders switch)")
        self.include_button.clicked.connect(lambda: self.recursive_button.setChecked(True))
        self._layout()
        self.set_thumbnails(thumbnails)

    def _make_tree(self) -> QTreeView:
        self.folders = QFileSystemModel(self)
        self.folders.setFilter(QDir.Filter.AllDirs | QDir.Filter.NoDotAndDotDot | QDir.Filter.Drives)
        self.folders.setRootPath("")
        self.folders.directoryLoaded.connect(self._directory_loaded)  # the tree fills in asynchronously
        self._reveal_timer = QTimer(self, singleShot=True, interval=50)
        self._reveal_timer.timeout.connect(self._reveal_in_tree)
        tree = QTreeView()
        tree.setModel(self.folders)
        for column in range(1, self.folders.columnCount()):
            tree.hideColumn(column)
        tree.setHeaderHidden(True)
        tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)  # names scroll, never cut
        tree.header().setStretchLastSection(False)
        tree.setToolTip("Click a folder to list its images")
        tree.clicked.connect(lambda index: self.open_folder(self.folders.filePath(index)))
        return tree

    def _make_list(self) -> QListView:
        view = QListView()
        view.setModel(self.images)
        view.setUniformItemSizes(True)  # the view then asks one item for its size, not 10,000
        view.setLayoutMode(QListView.LayoutMode.Batched)
        view.setBatchSize(500)
        view.setMovement(QListView.Movement.Static)
        view.setResizeMode(QListView.ResizeMode.Adjust)
        view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        view.setTextElideMode(Qt.TextElideMode.ElideRight)  # the list: one line, elided at its end (tooltip: all)
        view.selectionModel().currentChanged.connect(self._current_changed)
        return view

    def _layout(self) -> None:
        header = QHBoxLayout()  # under the title: the panel stays narrow
        header.addWidget(self.recursive_button)
        header.addWidget(self.mode_button)
        header.addStretch(1)
        offer = QVBoxLayout()
        offer.addWidget(self.offer)
        offer.addWidget(self.include_button, alignment=Qt.AlignmentFlag.AlignLeft)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.tree)
        splitter.addWidget(self.list)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([180, 520])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addLayout(header)
        layout.addLayout(offer)
        layout.addWidget(splitter, 1)

    # ---------------------------------------------------------------------------------- public
    def set_thumbnails(self, on: bool) -> None:
        self.mode_button.setChecked(on)
        size = self.loader.size if on else LIST_ICON
        self.list.setViewMode(QListView.ViewMode.IconMode if on else QListView.ViewMode.ListMode)
        self.list.setIconSize(QSize(size, size))
        self.list.setItemDelegate(self._thumbnail_delegate if on else self._list_delegate)
        self.list.setGridSize(self._thumbnail_delegate.cell_size(self.list.fontMetrics()) if on else QSize())
        self.list.setWordWrap(False)
        self.list.setFlow(QListView.Flow.LeftToRight if on else QListView.Flow.TopToBottom)
        self.list.setWrapping(on)
        self.list.setSpacing(0 if on else 1)

    def stop(self) -> None:
        """Closing: no more thumbnails, no more scrolling."""
        self.loader.stop()
        self.folder = None  # nothing to reveal any more
        self._reveal_timer.stop()

    def thumbnails(self) -> bool:
        return self.mode_button.isChecked()

    def recursive(self) -> bool:
        return self.recursive_button.isChecked()

    def open_folder(self, folder: str | Path) -> None:
        """List a folder's images in a worker; the first one is selected when the list arrives."""
        folder = Path(folder)
        ticket = self._listings.next()
        self.folder = folder
        self.title.setText(f"Listing {html.escape(folder.name or str(folder))}…")
        self._show_offer(None, 0)
        self._reveal_in_tree()
        self._registry.start(
            f"Listing {folder}",
            folder_tasks.list_folder,
            str(folder),
            self.recursive(),
            background=True,
            returned=self._listings.if_current(ticket, lambda listing: self._folder_listed(folder, listing)),
            errored=self._listings.if_current(ticket, lambda error: self._listing_failed(folder, error)),
        )

    def show_paths(
        self, paths: list[str | Path], title: str, counted: bool = True, labels: dict[str, str] | None = None
    ) -> None:
        """Show given images (dropped files, command-line files, a confusion-matrix cell) instead of a folder.

        ``counted=False``: the title already says how many (e.g. "true parasitized → predicted uninfected (3)").
        ``labels``: their true labels, where known.
        """
        self._listings.next()  # a folder still being listed must not replace these
        self.folder = None
        self._show_offer(None, 0)
        self._listed(title, paths, counted, labels)

    def paths(self) -> list[str]:
        return self.images.paths()

    def current_path(self) -> str | None:
        index = self.list.currentIndex()
        return self.images.path(index.row()) if index.isValid() else None

    def select(self, row: int) -> None:
        if 0 <= row < self.images.rowCount():
            index = self.images.index(row)
            self.list.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            if row:  # scrolling lays out every item first: not needed for the first one
                self.list.scrollTo(index)

    def step(self, delta: int) -> None:
        """Next (+1) or previous (-1) image, stopping at the ends."""
        count = self.images.rowCount()
        if count:
            current = self.list.currentIndex().row()
            self.select(min(max(current + delta, 0), count - 1) if current >= 0 else 0)

    # --------------------------------------------------------------------------------- private
    def set_prediction(self, path: str, predicted: str) -> None:
        self.images.set_prediction(path, predicted)

    def _recursive_toggled(self, on: bool) -> None:
        if self.folder is not None:
            self.open_folder(self.folder)

    def _folder_listed(self, folder: Path, listing: folder_tasks.Listing) -> None:
        self._show_offer(folder, listing.below)
        self._listed(folder.name or str(folder), listing.paths, labels=listing.labels)

    def _show_offer(self, folder: Path | None, below: int) -> None:
        shown = folder is not None and below > 0
        if shown:
            many = f"{below:,}+" if below >= 10_000 else f"{below:,}"
            self.offer.setText(
                f"No images directly in <b>{html.escape(folder.name or str(folder))}</b>; {many} in its sub-folders."
            )
        self.offer.setVisible(shown)
        self.include_button.setVisible(shown)

    def _listed(self, title: str, paths: list, counted: bool = True, labels: dict[str, str] | None = None) -> None:
        self.images.set_paths(paths, labels)
        count = f" — {len(paths):,} image{'s' if len(paths) != 1 else ''}" if counted else ""
        where = " and sub-folders" if self.folder is not None and self.recursive() else ""
        self.title.setText(f"<b>{html.escape(title)}</b>{where}{count}")
        self.title.setToolTip(str(self.folder) if self.folder else title)
        self.listed.emit(title, len(paths))
        if paths:
            self.select(0)
        else:
            self.emptied.emit(f"No images in {title}" + (" (sub-folders included)" if where else ""))

    def _listing_failed(self, folder: Path, error: BaseException) -> None:
        self.title.setText(f"Cannot list {folder.name or folder}")
        self.failed.emit(*describe_error(f"Listing {folder}", error))

    def _directory_loaded(self, path: str) -> None:
        if self.folder is not None and self.folder.is_relative_to(path):  # rows above ours moved: scroll again
            self._reveal_timer.start()  # once the view has laid out the new rows

    def _reveal_in_tree(self) -> None:
        if self.folder is None:
            return
        index = self.folders.index(str(self.folder))
        if index.isValid():
            parent = index.parent()
            while parent.isValid():
                self.tree.expand(parent)
                parent = parent.parent()
            self.tree.setCurrentIndex(index)
            self.tree.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
            self.tree.horizontalScrollBar().setValue(0)  # names start at the left edge

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.imageSelected.emit(self.images.path(current.row()))
