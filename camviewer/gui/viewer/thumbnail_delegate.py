"""How a thumbnail is drawn: the picture, its file name on up to two lines, its true label with a right/wrong mark.

Names wrap anywhere (file names have no spaces) rather than being elided, so names that differ only at
their end (ChestX-ray14's 00000002_000.png and 00000002_001.png) stay apart; only a name longer than two
lines is elided, at its end, and the tooltip holds the full path. The label line is green with a tick
when the model predicted it, red with a cross when it did not.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from camviewer.gui.viewer.image_list_model import LABEL_ROLE, NAME_ROLE, VERDICT_ROLE

NAME_LINES = 2
BREAK_AFTER = "_-. "  # where a file name reads well when cut
RIGHT_COLOUR, WRONG_COLOUR, LABEL_COLOUR = QColor("#2b8a3e"), QColor("#c92a2a"), QColor("#555555")


def name_lines(metrics: QFontMetrics, name: str, width: int, lines: int = NAME_LINES) -> list[str]:
    """``name`` cut into lines that fit ``width`` (after a "_", "-", "." or space where one fits, else anywhere);
    the last line elided at its end if still too long."""
    out, rest = [], name
    while rest and len(out) < lines - 1:
        fit = len(rest)
        while fit > 1 and metrics.horizontalAdvance(rest[:fit]) > width:
            fit -= 1
        if fit < len(rest):
            breaks = [index + 1 for index, char in enumerate(rest[:fit]) if char in BREAK_AFTER and index > 0]
            fit = breaks[-1] if breaks else fit
        out.append(rest[:fit])
        rest = rest[fit:]
    if rest:
        out.append(metrics.elidedText(rest, Qt.TextElideMode.ElideRight, width))
    return out


class ThumbnailDelegate(QStyledItemDelegate):
    def __init__(self, icon_size: int, parent=None) -> None:
        super().__init__(parent)
        self.icon_size = icon_size

    def cell_size(self, metrics: QFontMetrics) -> QSize:
        """The picture, two lines of name and one of label, with a margin."""
        return QSize(self.icon_size + 14, self.icon_size + 10 + (NAME_LINES + 1) * metrics.lineSpacing())

    def sizeHint(self, option: QStyleOptionViewItem, index) -> QSize:
        return self.cell_size(option.fontMetrics)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index) -> None:
        self.initStyleOption(option, index)
        style = option.widget.style() if option.widget else None
        painter.save()
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(option.rect, option.palette.highlight())
        rect = option.rect.adjusted(2, 2, -2, -2)
        icon_rect = QRect(rect.x() + (rect.width() - self.icon_size) // 2, rect.y(), self.icon_size, self.icon_size)
        option.icon.paint(painter, icon_rect, Qt.AlignmentFlag.AlignCenter)
        metrics, line = option.fontMetrics, option.fontMetrics.lineSpacing()
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        text_colour = option.palette.highlightedText().color() if selected else option.palette.text().color()
        foreground = index.data(Qt.ItemDataRole.ForegroundRole)
        y = icon_rect.bottom() + 4
        painter.setPen(text_colour if selected or foreground is None else foreground)
        for text in name_lines(metrics, index.data(NAME_ROLE) or "", rect.width()):
            painter.drawText(QRect(rect.x(), y, rect.width(), line), Qt.AlignmentFlag.AlignHCenter, text)
            y += line
        label = index.data(LABEL_ROLE)
        if label:
            verdict = index.data(VERDICT_ROLE)
            mark = "" if verdict is None else " ✓" if verdict else " ✗"
            colour = LABEL_COLOUR if verdict is None else RIGHT_COLOUR if verdict else WRONG_COLOUR
            painter.setPen(text_colour if selected else colour)
            text = metrics.elidedText(label + mark, Qt.TextElideMode.ElideMiddle, rect.width())
            painter.drawText(QRect(rect.x(), y, rect.width(), line), Qt.AlignmentFlag.AlignHCenter, text)
        if option.state & QStyle.StateFlag.State_HasFocus and style is not None:
            painter.setPen(option.palette.highlight().color())
            painter.drawRect(option.rect.adjusted(0, 0, -1, -1))
        painter.restore()
