"""A slider that jumps to where it is clicked (then drags from there), instead of stepping a page per click."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSlider, QStyle, QStyleOptionSlider


class JumpSlider(QSlider):
    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.setValue(self.value_at(event.position().toPoint()))
        super().mousePressEvent(event)  # on the handle now: the press starts a drag

    def value_at(self, point) -> int:
        """The value under ``point`` (widget coordinates), as the style draws the groove."""
        option = QStyleOptionSlider()
        self.initStyleOption(option)
        style = self.style()
        groove = style.subControlRect(QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderGroove, self)
        handle = style.subControlRect(QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderHandle, self)
        if self.orientation() == Qt.Orientation.Horizontal:
            start, span, position = groove.x() + handle.width() / 2, groove.width() - handle.width(), point.x()
        else:
            start, span, position = groove.y() + handle.height() / 2, groove.height() - handle.height(), point.y()
        return QStyle.sliderValueFromPosition(
            self.minimum(), self.maximum(), round(position - start), max(int(span), 1), option.upsideDown
        )
