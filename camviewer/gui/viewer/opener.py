"""Opening things: folders, images and models from dialogs, the command line, drops and the recent menus.

Sorting dropped paths (disk access) runs in a worker; files that are not supported images are listed in a
non-modal message while the rest opens.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from camviewer.gui.common.log_panel import LogPanel
from camviewer.gui.common.settings import Settings
from camviewer.gui.jobs.registry import WorkerRegistry
from camviewer.gui.viewer import folder_tasks
from camviewer.gui.viewer.folder_browser import FolderBrowser
from camviewer.gui.viewer.model_loader import ModelLoader

CHECKPOINT_FILTER = "Checkpoints (*.safetensors *.pt *.pth *.pth.tar *.tar *.bin *.ckpt);;All files (*)"
LISTED_UNSUPPORTED = 20


class Opener(QObject):
    def __init__(
        self,
        window: QWidget,
        settings: Settings,
        registry: WorkerRegistry,
        browser: FolderBrowser,
        loader: ModelLoader,
        log: LogPanel,
    ) -> None:
        super().__init__(window)
        self._window, self.settings, self._registry = window, settings, registry
        self._browser, self._loader, self._log = browser, loader, log
        loader.saved.connect(lambda path: log.info(f"Saved as {path}: it opens without questions from now on"))
        self.current_model = lambda: None  # the viewer's LoadedModel, set by the window

    def folder_start(self) -> str:
        """Where folder and image dialogs start: the open folder, else the last one opened, else home."""
        folder = self._browser.folder
        if folder is None and self._browser.current_path():
            folder = Path(self._browser.current_path()).parent
        if folder is not None and Path(folder).is_dir():
            return str(folder)
        recent = next((f for f in self.settings.recent_folders if Path(f).is_dir()), None)
        return recent or str(Path.home())

    def model_start(self) -> str:
        """Where the model dialog starts: the loaded model's folder, else the last model's, else home."""
        model = self.current_model()
        sources = [model.source] if model is not None and model.source else []
        for source in [*sources, *self.settings.recent_models]:
            if Path(source).parent.is_dir():
                return str(Path(source).parent)
        return str(Path.home())

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self._window, "Open a folder of images", self.folder_start())
        if folder:
            self.open_folder(folder)

    def choose_images(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self._window, "Open images", self.folder_start())
        if files:
            self.open_paths(files)

    def choose_model(self, open_with=None) -> None:
        """Ask for a checkpoint; ``open_with(path)`` opens it (default: as the viewer's model)."""
        title = "Open a model checkpoint" if open_with is None else "Open a comparison model"
        path, _ = QFileDialog.getOpenFileName(self._window, title, self.model_start(), CHECKPOINT_FILTER)
        if path:
            if open_with is None:
                self._loader.open(path, ask=True)  # chosen by hand: confirm what was entered last time
            else:
                open_with(path)

    def open_folder(self, folder: str | Path) -> None:
        self.settings.remember_folder(folder)
        self._browser.open_folder(folder)

    def open_model(self, path: str | Path) -> None:
        self._loader.open(path)

    def open_samples(self) -> None:
        from camviewer.core.paths import resource_path

        try:
            samples = resource_path("samples")
        except FileNotFoundError:
            return
        if samples.is_dir() and any(samples.iterdir()):
            self._browser.open_folder(samples)

    def open_paths(self, paths: list[str | Path]) -> None:
        """Files and folders from the command line or a drop; the sorting (disk access) runs in a worker."""
        self._registry.start(
            "Opening dropped files",
            folder_tasks.gather_images,
            [str(p) for p in paths],
            background=True,
            returned=self._open_gathered,
        )

    def _open_gathered(self, gathered: folder_tasks.Gathered) -> None:
        if gathered.unsupported:
            self._report_unsupported(gathered.unsupported)
        if gathered.folder is not None:
            self.open_folder(gathered.folder)
        elif gathered.images:
            self._browser.show_paths(gathered.images, gathered.title, labels=gathered.labels)

    def _report_unsupported(self, unsupported: list[Path]) -> None:
        names = "\n".join(str(path) for path in unsupported[:LISTED_UNSUPPORTED])
        more = len(unsupported) - LISTED_UNSUPPORTED
        self._log.warning(f"Not opened (not a supported image): {', '.join(map(str, unsupported))}")
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Some files were not opened",
            f"{len(unsupported)} file(s) are not supported images:\n{names}"
            + (f"\n… and {more} more" if more > 0 else ""),
            QMessageBox.StandardButton.Ok,
            self._window,
        )
        box.setObjectName("unsupportedFilesMessage")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.show()  # not modal: the rest opens meanwhile
