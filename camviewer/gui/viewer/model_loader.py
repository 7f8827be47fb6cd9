"""Opening a checkpoint: read what it says about itself, ask only what it does not say, load it in a worker.

    describe (worker) --card--> load (worker) --> ``loaded``
        |-- bare state_dict, described before --> load with what the user entered then
        |-- bare state_dict --> CheckpointDialog (pre-filled) --accepted--> load (and save as a camviewer checkpoint)
        '-- pickled objects --> "Trust this file?" --yes--> describe again with trust_pickle=True

The dialog's "from data" statistics run in a worker over the images the browser lists.

A newer request supersedes an older one: answers carry a ticket and stale ones are dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from camviewer.core.errors import UnsafeCheckpointError
from camviewer.core.jobs import CancelToken
from camviewer.gui.common.settings import Settings
from camviewer.gui.jobs.latest import Latest
from camviewer.gui.jobs.registry import WorkerRegistry, describe_error
from camviewer.gui.viewer import tasks
from camviewer.gui.viewer.checkpoint_dialog import CheckpointDialog


class ModelLoader(QObject):
    loaded = Signal(object)  # tasks.ModelReady
    failed = Signal(str, str)  # message, details
    status = Signal(str)  # progress messages for the status bar
    dialogOpened = Signal(object)  # the CheckpointDialog, once shown (tests answer it)
    saved = Signal(str)  # a bare state_dict was saved as this camviewer checkpoint

    def __init__(
        self,
        registry: WorkerRegistry,
        dialog_parent: QWidget,
        settings: Settings | None = None,
        current_images: Callable[[], list[str]] = list,
    ) -> None:
        super().__init__(dialog_parent)
        self._registry = registry
        self._parent = dialog_parent
        self._settings = settings
        self._current_images = current_images
        self._requests = Latest()
        self._statistics: CancelToken | None = None
        self.dialog: CheckpointDialog | None = None

    def load_demo(self) -> None:
        ticket = self._next_request()
        self.status.emit("Loading the demo model…")
        self._registry.start(
            "Loading the demo model",
            tasks.load_demo,
            background=True,
            returned=self._requests.if_current(ticket, self.loaded.emit),
            errored=self._requests.if_current(ticket, lambda error: self._fail("Loading the demo model", error)),
        )

    def open(self, path: str | Path, trust_pickle: bool = False, ask: bool = False) -> None:
        """Open a checkpoint; a bare state_dict opens with what the user entered last time, unless ``ask``."""
        ticket = self._next_request()
        path = str(path)
        self.status.emit(f"Reading {Path(path).name}…")
        self._registry.start(
            f"Reading {Path(path).name}",
            tasks.describe_checkpoint,
            path,
            trust_pickle,
            background=True,
            returned=self._requests.if_current(
                ticket, lambda info: self._described(ticket, path, trust_pickle, info, ask)
            ),
            errored=self._requests.if_current(ticket, lambda error: self._describe_failed(path, error)),
        )

    def _next_request(self) -> int:
        ticket = self._requests.next()
        if self.dialog is not None:  # a newer request makes an open question moot
            self.dialog.reject()
        return ticket

    def _described(self, ticket: int, path: str, trust_pickle: bool, info: tasks.CheckpointInfo, ask: bool) -> None:
        summary = info.summary
        if summary.card is not None:
            self._load(ticket, path, trust_pickle, None)
            return
        previous = self._remembered(path)
        if previous is not None and not ask:
            self._load(ticket, path, trust_pickle, previous)
            return
        dialog = CheckpointDialog(
            path, summary.inferred, summary.problem, summary.num_tensors, info.architectures, self._parent, previous
        )
        dialog.accepted.connect(lambda: self._accepted(ticket, path, trust_pickle, dialog))
        dialog.recipe.statisticsRequested.connect(lambda: self._compute_statistics(dialog))
        dialog.finished.connect(self._forget_dialog)
        self.dialog = dialog
        dialog.open()
        self.dialogOpened.emit(dialog)

    def _remembered(self, path: str) -> tasks.LoadOptions | None:
        """What the user told the dialog about this file last time (None if nothing, or stored by an older version)."""
        stored = self._settings.options_for_model(path) if self._settings is not None else None
        try:
            return tasks.LoadOptions(**stored) if stored else None
        except TypeError:
            return None

    def _accepted(self, ticket: int, path: str, trust_pickle: bool, dialog: CheckpointDialog) -> None:
        options = dialog.options()
        if self._settings is not None:
            self._settings.remember_model_options(path, asdict(options))
        self._load(ticket, path, trust_pickle, options, dialog.saved_path())

    def _forget_dialog(self) -> None:
        if self._statistics is not None:
            self._statistics.cancel()
        if self.dialog is not None:
            self.dialog.deleteLater()
            self.dialog = None

    def _compute_statistics(self, dialog: CheckpointDialog) -> None:
        """The "from data" preset: mean and std of the browser's images after the entered preprocessing."""
        paths = self._current_images()
        form = dialog.recipe
        if not paths:
            form.statistics_failed("no folder is open; open the training images first (Ctrl+O)")
            return
        if self._statistics is not None:
            self._statistics.cancel()
        self._statistics = token = CancelToken()
        values = form.values()

        def current() -> bool:
            return self.dialog is dialog and not token.cancelled

        self._registry.start(
            "Computing mean and std",
            tasks.folder_statistics,
            paths,
            values["recipe"],
            form.channels,
            bool(values["grayscale"]),
            token,
            cancel=token,
            background=True,
            yielded=lambda event: current() and form.note.setText(f"Computing… {event.message}"),
            returned=lambda stats: current() and form.set_statistics(*stats),
            errored=lambda error: current() and form.statistics_failed(str(error)),
        )

    def _describe_failed(self, path: str, error: BaseException) -> None:
        if isinstance(error, UnsafeCheckpointError) and self._user_trusts(path, str(error)):
            self.open(path, trust_pickle=True)
            return
        self._fail(f"Reading {Path(path).name}", error)

    def _user_trusts(self, path: str, reason: str) -> bool:
        answer = QMessageBox.question(
            self._parent,
            "Trust this file?",
            f"{reason}\n\nLoad {Path(path).name} anyway? Only do this for files from a source you trust.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _load(
        self, ticket: int, path: str, trust_pickle: bool, options: tasks.LoadOptions | None, save_as: str | None = None
    ) -> None:
        if not self._requests.is_current(ticket):  # the dialog was answered after a newer request
            return
        self.status.emit(f"Loading {Path(path).name}…")
        self._registry.start(
            f"Loading {Path(path).name}",
            tasks.load_checkpoint,
            path,
            trust_pickle,
            options,
            save_as,
            background=True,
            returned=self._requests.if_current(ticket, lambda ready: self._deliver(ready, save_as)),
            errored=self._requests.if_current(ticket, lambda error: self._fail(f"Loading {Path(path).name}", error)),
        )

    def _deliver(self, ready: tasks.ModelReady, saved: str | None) -> None:
        self.loaded.emit(ready)
        if saved:
            self.saved.emit(saved)
            self.status.emit(f"Saved as {Path(saved).name}: it opens without questions from now on")

    def _fail(self, label: str, error: BaseException) -> None:
        message, details = describe_error(label, error)
        self.failed.emit(message, details)
