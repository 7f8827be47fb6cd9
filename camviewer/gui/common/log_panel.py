"""A dock that keeps the session's messages: what was opened, computed, exported, and what went wrong."""

from __future__ import annotations

import html
import time

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QDockWidget, QPlainTextEdit, QWidget

COLOURS = {"info": "#444444", "warning": "#a15c00", "error": "#b00020", "detail": "#777777"}
MAX_LINES = 2000


class LogPanel(QDockWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Log", parent)
        self.setObjectName("logDock")
        self.text = QPlainTextEdit(readOnly=True)
        self.text.setMaximumBlockCount(MAX_LINES)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setPlaceholderText("Messages and errors appear here.")
        self.text.setAcceptDrops(False)  # files dropped here go to the window, which opens them
        self.text.viewport().setAcceptDrops(False)
        self.setWidget(self.text)
        self.entries: list[tuple[str, str]] = []  # (level, message), for tests and copy-paste

    def add(self, message: str, level: str = "info") -> None:
        self.entries = [*self.entries[-MAX_LINES + 1 :], (level, message)]
        stamp = time.strftime("%H:%M:%S")
        colour = COLOURS.get(level, COLOURS["info"])
        text = html.escape(message).replace("\n", "<br>")
        self.text.appendHtml(f'<span style="color:{colour}; white-space:pre-wrap">{stamp} {text}</span>')

    def info(self, message: str) -> None:
        self.add(message, "info")

    def warning(self, message: str) -> None:
        self.add(message, "warning")

    def error(self, message: str, details: str = "") -> None:
        self.add(message, "error")
        if details:
            self.add(details.rstrip(), "detail")

    def messages(self) -> str:
        return "\n".join(message for _, message in self.entries)
