"""Opening a checkpoint: read what it says about itself, ask only what it does not say, load it in a worker.

    describe (worker) --card--> load (worker) --> ``loaded``
        |-- bare state_dict --> CheckpointDialog (pre-filled) --accepted--> load
        '-- pickled objects --> "Trust this file?" --yes--> describe again with trust_pickle=True

A newer request supersedes an older one: answers carry a ticket and stale ones are dropped.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from camviewer.core.errors import UnsafeCheckpointError
from camviewer.gui.jobs.latest import Latest
from camviewer.gui.jobs.registry import WorkerRegistry, describe_error
from camviewer.gui.viewer import tasks
from camviewer.gui.viewer.checkpoint_dialog import CheckpointDialog


class ModelLoader(QObject):
    loaded = Signal(object)  # tasks.ModelReady
    failed = Signal(str, str)  # message, details
    status = Signal(str)  # progress messages for the status bar
    dialogOpened = Signal(object)  # the CheckpointDialog, once shown (tests answer it)

    def __init__(self, registry: WorkerRegistry, dialog_parent: QWidget) -> None:
        super().__init__(dialog_parent)
        self._registry = registry
        self._parent = dialog_parent
        self._requests = Latest()
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

    def open(self, path: str | Path, trust_pickle: bool = False) -> None:
        ticket = self._next_request()
        path = str(path)
        self.status.emit(f"Reading {Path(path).name}…")
        self._registry.start(
            f"Reading {Path(path).name}",
            tasks.describe_checkpoint,
            path,
            trust_pickle,
            background=True,
            returned=self._requests.if_current(ticket, lambda info: self._described(ticket, path, trust_pickle, info)),
            errored=self._requests.if_current(ticket, lambda error: self._describe_failed(path, error)),
        )

    def _next_request(self) -> int:
        ticket = self._requests.next()
        if self.dialog is not None:  # a newer request makes an open question moot
            self.dialog.reject()
        return ticket

    def _described(self, ticket: int, path: str, trust_pickle: bool, info: tasks.CheckpointInfo) -> None:
        summary = info.summary
        if summary.card is not None:
            self._load(ticket, path, trust_pickle, None)
            return
        dialog = CheckpointDialog(
            path, summary.inferred, summary.problem, summary.num_tensors, info.architectures, self._parent
        )
        dialog.accepted.connect(lambda: self._load(ticket, path, trust_pickle, dialog.options()))
        dialog.finished.connect(self._forget_dialog)
        self.dialog = dialog
        dialog.open()
        self.dialogOpened.emit(dialog)

    def _forget_dialog(self) -> None:
        if self.dialog is not None:
            self.dialog.deleteLater()
            self.dialog = None

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

    def _load(self, ticket: int, path: str, trust_pickle: bool, options: tasks.LoadOptions | None) -> None:
        if not self._requests.is_current(ticket):  # the dialog was answered after a newer request
            return
        self.status.emit(f"Loading {Path(path).name}…")
        self._registry.start(
            f"Loading {Path(path).name}",
            tasks.load_checkpoint,
            path,
            trust_pickle,
            options,
            background=True,
            returned=self._requests.if_current(ticket, self.loaded.emit),
            errored=self._requests.if_current(ticket, lambda error: self._fail(f"Loading {Path(path).name}", error)),
        )

    def _fail(self, label: str, error: BaseException) -> None:
        message, details = describe_error(label, error)
        self.failed.emit(message, details)
