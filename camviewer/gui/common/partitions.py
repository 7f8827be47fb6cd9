"""Asking before a CSV partition makes camviewer read files outside its own folder.

The engine refuses such a partition (``OutsidePartitionFolder``) unless it is allowed: a CSV received with a
dataset could name any file on the computer. A panel asks the user once per partition file; a Yes is kept
for the session, and the job that was refused runs again.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QMessageBox, QWidget

from camviewer.core.errors import OutsidePartitionFolder
from camviewer.core.filenames import printable

if TYPE_CHECKING:
    from camviewer.gui.jobs.runner import JobRunner


class PartitionPermissions:
    """The partition files whose outside files the user agreed to have read (asked once per file)."""

    def __init__(self, parent: QWidget) -> None:
        self._parent = parent
        self._allowed: set[str] = set()

    def allowed(self, data: str) -> bool:
        return os.path.abspath(data) in self._allowed

    def ask(self, error: BaseException) -> bool:
        """For an OutsidePartitionFolder: ask, and True (the file is allowed from now on) if the user agrees."""
        if not isinstance(error, OutsidePartitionFolder):
            return False
        shown = "\n".join(map(printable, error.outside[:3])) + (
            f"\n… and {len(error.outside) - 3} more" if len(error.outside) > 3 else ""
        )
        answer = QMessageBox.question(
            self._parent,
            "Read files outside the partition's folder?",
            f"{printable(error.csv_path.name)} names {len(error.outside)} file(s) outside its own folder "
            f"({printable(error.csv_path.parent)}):\n{shown}\n\n"
            "Read them only if you trust this file: a partition file from elsewhere can point at any file "
            "on this computer.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return False
        self._allowed.add(os.path.abspath(error.csv_path))
        return True

    def asking(
        self, data: str, retry: Callable[[str], None], otherwise: Callable[[str, BaseException], None]
    ) -> Callable[[BaseException], None]:
        """An error handler for a job on ``data``: a refusal for files elsewhere asks, then ``retry(data)`` on a Yes;
        any other error, or a No, goes to ``otherwise(data, error)``."""
        return lambda error: retry(data) if self.ask(error) else otherwise(data, error)

    def retry_on(self, runner: JobRunner, restart: Callable[[], None]) -> None:
        """A job of ``runner`` refused for such a file asks the user and, on a Yes, starts again (``restart``)."""
        again: list[bool] = []
        previous = runner.error_handler

        def handle(error: BaseException) -> bool:
            if self.ask(error):
                again.append(True)
                return True
            return previous(error) if previous is not None else False

        def restart_if_allowed() -> None:
            if again:
                again.clear()
                restart()

        runner.error_handler = handle
        runner.finished.connect(restart_if_allowed)
