"""The window's layout: the image stays the main thing at every size, the work panels get room when they are used.

    +--------+---------------------------+-----------------------+
    | Images |        image view         | Model and CAM |Training|Evaluation|Trust  (tabs)
    | (left) |  (at least half the width)|                       |
    |        +---------------------------+                       |
    |        |  Log (under the view only) |                       |
    +--------+---------------------------+-----------------------+

The side panels run the full height (the log sits under the view only). The right-hand tab in front
decides the widths, re-applied when the tab changes and when the window is resized:

* **Model and CAM** (viewing): the image list ~20% of the width, the right panel ~27%: the view gets
  the rest (52% at 1280 px, 60% at 1920 px).
* **Training, Evaluation, Trust** (working): the image list narrows to one column of thumbnails and the
  right panel takes everything else up to 48% of the width: the view keeps 52%. The panels lay
  themselves out for the width they get (forms in one to three columns, plots side by side or stacked).

Dragging a splitter is allowed up to that budget: the docks' maximum widths keep the view at half the
window or more. The first launch picks a window size from the screen: all of a laptop's screen, 90% of a
larger one, at most 1920 x 1200.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QMainWindow, QStyle

VIEW_SHARE = 0.52  # the image view's share of the width, at least
VIEW_BROWSER, VIEW_PANEL = (0.20, 220, 320), (0.27, 350, 440)  # (share, minimum, maximum) when viewing
WORK_BROWSER = (0.13, 170, 260)  # when a work panel is in front
FIRST_SIZE, LARGEST_FIRST_SIZE, SMALLEST = 0.9, QSize(1920, 1200), QSize(1024, 640)
SMALL_SCREEN_WIDTH = 1440  # a laptop: the window takes the whole screen at first


def clamp(width: float, share: tuple[float, int, int]) -> int:
    fraction, low, high = share
    return int(min(max(width * fraction, low), high))


class LayoutKeeper(QObject):
    def __init__(self, window: QMainWindow, browser: QDockWidget, viewer: QDockWidget, work: list[QDockWidget]) -> None:
        super().__init__(window)
        self.window, self.browser, self.viewer, self.work = window, browser, viewer, work
        window.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        window.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self._apply_soon = QTimer(self, singleShot=True, interval=0)  # once Qt has laid out the change
        self._apply_soon.timeout.connect(self.apply)
        self._front: QDockWidget = viewer  # the tab last brought to the front (Qt says so by visibilityChanged)
        for dock in (viewer, *work):
            dock.visibilityChanged.connect(lambda visible, dock=dock: visible and self._brought_forward(dock))
        for dock in (browser, viewer, *work):
            dock.topLevelChanged.connect(lambda _floating: self._apply_soon.start())
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.window and event.type() == QEvent.Type.Resize:
            self._apply_soon.start()
        return False

    def _brought_forward(self, dock: QDockWidget) -> None:
        self._front = dock
        self._apply_soon.start()

    def front(self) -> QDockWidget | None:
        """The right-hand dock in front (the others are tabs behind it, closed or floating)."""
        docked = [dock for dock in (self.viewer, *self.work) if not dock.isHidden() and not dock.isFloating()]
        if self._front in docked:
            return self._front
        return docked[0] if docked else None

    def working(self) -> bool:
        return self.front() in self.work

    def budget(self) -> int:
        """Width for the side panels and their separators together."""
        return int(self.window.width() * (1 - VIEW_SHARE))

    def apply(self) -> None:
        width, budget = self.window.width(), self.budget()
        separators = 2 * self.window.style().pixelMetric(QStyle.PixelMetric.PM_DockWidgetSeparatorExtent)
        front = self.front()
        browser_shown = self.browser.isVisible() and not self.browser.isFloating()
        browser = clamp(width, WORK_BROWSER if self.working() else VIEW_BROWSER) if browser_shown else 0
        if browser_shown:
            browser = max(browser, self.browser.minimumSizeHint().width())
        if front is None:
            right = 0
        elif self.working():
            right = budget - browser - separators
        else:
            right = min(clamp(width, VIEW_PANEL), budget - browser - separators)
        right_docks = [dock for dock in (self.viewer, *self.work) if not dock.isFloating()]
        for dock in right_docks:
            dock.setMaximumWidth(max(budget - browser - separators, 0) if front else 16777215)
        self.browser.setMaximumWidth(max(budget - right - separators, browser) if browser_shown else 16777215)
        docks, widths = [], []
        if browser_shown:
            docks.append(self.browser)
            widths.append(browser)
        if front is not None:
            docks.append(front)
            widths.append(right)
        if docks:
            self.window.resizeDocks(docks, widths, Qt.Orientation.Horizontal)


def first_size(window: QMainWindow) -> QSize:
    """A first-launch size from the screen the window opens on: all of a laptop screen (1440 px wide or less),
    90% of a larger one, never more than a large monitor's worth."""
    screen = window.screen()
    if screen is None:
        return QSize(1280, 800)
    available = screen.availableGeometry().size()
    share = 1.0 if available.width() <= SMALL_SCREEN_WIDTH else FIRST_SIZE
    size = QSize(int(available.width() * share), int(available.height() * share))
    return size.boundedTo(LARGEST_FIRST_SIZE).expandedTo(SMALLEST).boundedTo(available)
