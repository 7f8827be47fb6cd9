"""A panel's status line: plain, selectable text that wraps; errors in red and bold."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

ERROR_STYLE = "color: #b00020; font-weight: bold"


class StatusLabel(QLabel):
    def __init__(self, lines: int = 0, parent: QWidget | None = None) -> None:
        """``lines`` > 0 fixes the height: a message growing by a line must not resize the plots below it."""
        super().__init__("", parent, wordWrap=True)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        if lines:
            self.setFixedHeight(lines * self.fontMetrics().lineSpacing() + 4)

    def say(self, text: str, error: bool = False) -> None:
        self.setStyleSheet(ERROR_STYLE if error else "")
        self.setText(text)
