"""The CAM methods a trust report scores: ticks in a section that folds away, titled with the ticked ones."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QGridLayout, QWidget
from superqt import QCollapsible

COLUMNS = 2  # every method name whole (gradcam-elementwise, integrated-gradients) in a 1280 px window
NAMED = 4  # methods named in the title: a longer title would widen the dock


class MethodList(QCollapsible):
    """Ticks for the engine's CAM methods. Open until a report starts, then folded (``collapse``): open, twenty
    methods took the height the results need (3 of 12 score rows showed at 1280x800); the arrow reopens it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("CAM methods", parent)
        self.setCollapsedIcon("▸")  # the usual tree arrows (superqt's default for folded is ▲)
        self.setExpandedIcon("▾")
        ticks = QWidget()
        self.grid = QGridLayout(ticks)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.addWidget(ticks)
        self.expand(animate=False)
        self.checks: dict[str, QCheckBox] = {}

    def set_methods(self, methods: tuple[str, ...], checked: tuple[str, ...]) -> None:
        """One tick per method; those ticked before and ``checked`` stay ticked."""
        previous = set(self.checked()) | set(checked)
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        self.checks = {}
        for index, name in enumerate(methods):
            box = QCheckBox(name, checked=name in previous)
            box.toggled.connect(self._retitle)
            self.grid.addWidget(box, index // COLUMNS, index % COLUMNS)
            self.checks[name] = box
        self._retitle()

    def set_checked(self, methods: list[str]) -> None:
        for name, box in self.checks.items():
            box.setChecked(name in methods)

    def checked(self) -> list[str]:
        return [name for name, box in self.checks.items() if box.isChecked()]

    def _retitle(self) -> None:
        ticked = self.checked()
        names = ", ".join(ticked[:NAMED]) + (f" and {len(ticked) - NAMED} more" if len(ticked) > NAMED else "")
        self.setText(f"CAM methods: {names or 'none ticked'}")
