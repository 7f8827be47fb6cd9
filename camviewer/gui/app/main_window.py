"""The main window: it composes the panels and wires their signals. It computes nothing itself.

FolderBrowser (left)  ->  ViewerSession  ->  ViewerController: ImageView / CompareView (centre)
ModelLoader           ->  ViewerSession  ->  ModelPanel, CamPanel, DisplayPanel (right)
ComparisonSlot (a second model)          ->  CompareView ("Two models side by side")
Workbench             ->  Training, Evaluation, Trust docks (right, tabbed), ground truth, refinement
LayoutKeeper          ->  dock widths: the image view keeps at least half the window
every worker error    ->  LogPanel (under the view) and the status bar
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from camviewer.gui.app.keys import shortcut_table
from camviewer.gui.app.layout import LayoutKeeper, first_size
from camviewer.gui.app.menus import build_actions, build_menus, fill_on_show, show_about
from camviewer.gui.app.status import StatusArea
from camviewer.gui.app.workbench import Workbench
from camviewer.gui.common.files import drop_paths
from camviewer.gui.common.log_panel import LogPanel
from camviewer.gui.common.settings import Settings
from camviewer.gui.jobs.registry import WorkerRegistry
from camviewer.gui.viewer.cam_panel import CamPanel
from camviewer.gui.viewer.comparison import ComparisonSlot
from camviewer.gui.viewer.controller import ViewerController
from camviewer.gui.viewer.display_panel import DisplayPanel
from camviewer.gui.viewer.export_dialog import ExportDialog
from camviewer.gui.viewer.exporter import Exporter
from camviewer.gui.viewer.folder_browser import FolderBrowser
from camviewer.gui.viewer.model_loader import ModelLoader
from camviewer.gui.viewer.model_panel import ModelPanel
from camviewer.gui.viewer.opener import Opener
from camviewer.gui.viewer.session import ViewerSession
from camviewer.gui.viewer.state import COMPARE_MODES, MAP_SCALES, ComputeOptions, DisplayOptions


class MainWindow(QMainWindow):
    def __init__(self, settings: Settings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("camviewer")
        self.setObjectName("mainWindow")
        self.settings = settings or Settings()
        self.registry = WorkerRegistry(self)
        self.session = ViewerSession(self.registry, self)
        self.browser = FolderBrowser(self.registry, self.settings.thumbnails, self.settings.recursive)
        self.loader = ModelLoader(self.registry, self, self.settings, self.browser.paths)
        self.comparison = ComparisonSlot(self.registry, self, self.settings, self.browser.paths)
        self.actions = build_actions(self)
        self.model_panel = ModelPanel(self.actions.open_model)
        self.cam_panel = CamPanel(self._saved_compute(), self._saved_display())
        self.display_panel = DisplayPanel()
        self.log = LogPanel(self)
        self.viewer = ViewerController(
            self.session,
            self.comparison,
            self.settings,
            self.log,
            self.model_panel,
            self.cam_panel,
            self.display_panel,
            self,
        )
        self.image_view, self.compare_view, self.central = (
            self.viewer.image_view,
            self.viewer.compare_view,
            self.viewer.central,
        )
        self.setCentralWidget(self.central)
        self.opener = Opener(self, self.settings, self.registry, self.browser, self.loader, self.log)
        self.opener.current_model = lambda: self.session.model
        self.open_folder, self.open_model, self.open_paths = (
            self.opener.open_folder,
            self.opener.open_model,
            self.opener.open_paths,
        )
        self.workbench = Workbench(self)
        self._docks()
        self.menus = build_menus(
            self, self.actions, [self.browser_dock, self.model_dock, *self.workbench.docks.values(), self.log]
        )
        self.status = StatusArea(self)
        self.workbench.add_menus()
        self._wire()
        self.exporter = Exporter(self.registry, self.settings, self.log, self)
        self.exporter.message.connect(self.status.say)
        self.export_dialog: ExportDialog | None = None
        self._closing = False
        self.setAcceptDrops(True)
        self.resize(first_size(self))  # a first launch; later ones restore the last geometry
        self.restoreGeometry(self.settings.geometry)
        self.restoreState(self.settings.window_state)
        self.viewer.apply_display(self.cam_panel.display)
        self.image_view.set_opacity(self.cam_panel.display.opacity)
        self._show_compare(self.cam_panel.compute.compare != "off")

    # ------------------------------------------------------------------------------------ layout
    def _docks(self) -> None:
        self.browser_dock = self._dock("Images", "browserDock", self.browser, Qt.DockWidgetArea.LeftDockWidgetArea)
        right = QWidget()
        column = QVBoxLayout(right)
        column.setContentsMargins(0, 0, 0, 0)
        for title, panel in (
            ("Model", self.model_panel),
            ("Class activation map", self.cam_panel),
            ("Image display", self.display_panel),
            ("Ground truth", self.workbench.truth_panel),
        ):
            column.addWidget(_section(title))
            column.addWidget(panel)
        column.addStretch(1)
        scroll = QScrollArea(widgetResizable=True)
        scroll.setWidget(right)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.model_dock = self._dock("Model and CAM", "modelDock", scroll, Qt.DockWidgetArea.RightDockWidgetArea)
        self.workbench.add_docks(self.model_dock)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.log)
        self.resizeDocks([self.log], [80], Qt.Orientation.Vertical)
        self.layout_keeper = LayoutKeeper(self, self.browser_dock, self.model_dock, list(self.workbench.docks.values()))

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _wire(self) -> None:
        a, v, status = self.actions, self.image_view, self.status
        a.open_folder.triggered.connect(self.opener.choose_folder)
        a.open_images.triggered.connect(self.opener.choose_images)
        a.open_model.triggered.connect(self.opener.choose_model)
        a.open_comparison.triggered.connect(lambda: self.opener.choose_model(self.comparison.open))
        a.close_comparison.triggered.connect(self.comparison.close)
        a.export_view.triggered.connect(self.export_view)
        a.export_folder.triggered.connect(self.export_folder)
        a.quit.triggered.connect(self.close)
        a.next_image.triggered.connect(lambda: self.browser.step(+1))
        a.previous_image.triggered.connect(lambda: self.browser.step(-1))
        a.fit.triggered.connect(lambda: (v.fit(), self.compare_view.fit(), self.viewer.volume_view.fit()))
        a.actual_size.triggered.connect(v.actual_size)
        a.next_window.triggered.connect(self._next_window)
        a.decoded_window.triggered.connect(lambda: self.display_panel.choose(0))
        a.invert.toggled.connect(self.display_panel.invert.setChecked)
        self.display_panel.invert.toggled.connect(a.invert.setChecked)
        a.fixed_scale.toggled.connect(lambda on: self.cam_panel.set_scale("fixed" if on else "image"))
        a.scale_here.triggered.connect(self.viewer.fix_scale_here)
        a.more_opacity.triggered.connect(lambda: self.cam_panel.nudge_opacity(+0.1))
        a.less_opacity.triggered.connect(lambda: self.cam_panel.nudge_opacity(-0.1))
        a.thumbnails.setChecked(self.browser.thumbnails())
        a.thumbnails.toggled.connect(self.browser.set_thumbnails)
        self.browser.mode_button.toggled.connect(a.thumbnails.setChecked)
        a.recursive.setChecked(self.browser.recursive())
        a.recursive.toggled.connect(self.browser.recursive_button.setChecked)
        self.browser.recursive_button.toggled.connect(a.recursive.setChecked)
        a.compare.toggled.connect(lambda on: self.cam_panel.set_compare("methods" if on else "off"))
        a.viewer_panel.triggered.connect(lambda: (self.model_dock.show(), self.model_dock.raise_()))
        a.shortcuts.triggered.connect(
            lambda: QMessageBox.information(self, "Keyboard shortcuts", shortcut_table(self.menuBar()))
        )
        a.about.triggered.connect(lambda: show_about(self))
        fill_on_show(self.menus["recent_folders"], lambda: self.settings.recent_folders, self.open_folder)
        fill_on_show(self.menus["recent_models"], lambda: self.settings.recent_models, self.open_model)

        self.browser.imageSelected.connect(self.session.show_image)
        self.browser.emptied.connect(self.viewer.clear)
        self.browser.listed.connect(lambda title, n: status.say(f"{title}: {n:,} images"))
        self.browser.failed.connect(self.report_error)
        self.viewer.predicted.connect(self.browser.set_prediction)
        self.loader.loaded.connect(self._model_loaded)
        self.loader.failed.connect(self.report_error)
        self.loader.status.connect(status.say)
        self.comparison.loader.status.connect(status.say)
        self.comparison.changed.connect(lambda ready: a.close_comparison.setEnabled(ready is not None))
        a.close_comparison.setEnabled(False)
        self.registry.failed.connect(self.report_error)
        self.session.modelChanged.connect(lambda _ready: self.browser.images.forget_predictions())
        self.session.busyChanged.connect(status.busy.setVisible)
        self.cam_panel.computeChanged.connect(lambda options: self._show_compare(options.compare != "off"))
        self.cam_panel.displayChanged.connect(lambda display: self._check(a.fixed_scale, display.scale == "fixed"))
        self.viewer.summary.connect(status.say)
        self.viewer.failed.connect(self.report_error)
        self.viewer.modelNamed.connect(status.show_model)
        self.viewer.titleChanged.connect(self.setWindowTitle)
        v.hovered.connect(status.readout.setText)
        self.viewer.volume_view.hovered.connect(status.readout.setText)
        self.viewer.central.currentChanged.connect(  # the zoom is the image view's; each plane fits itself
            lambda _index: status.zoom.setVisible(self.viewer.central.currentWidget() is not self.viewer.volume_view)
        )
        v.zoomChanged.connect(status.show_zoom)
        self._check(a.fixed_scale, self.cam_panel.display.scale == "fixed")

    @property
    def model_status(self) -> QLabel:
        """The model's name in the status bar, always visible."""
        return self.status.model

    # ---------------------------------------------------------------------------------- start-up
    def start(self, paths: list[str] | None = None, model: str | None = None) -> None:
        """After the window is shown: load a model (the demo unless one is given) and open images."""
        if model:
            self.loader.open(model)
        else:
            self.loader.load_demo()
        if paths:
            self.open_paths(paths)
        else:
            self.opener.open_samples()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if drop_paths(event.mimeData()):
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        if drop_paths(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = drop_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    # ------------------------------------------------------------------------------ engine results
    def _model_loaded(self, ready) -> None:
        if ready.model.source:
            self.settings.remember_model(ready.model.source)
        self.session.set_model(ready)

    def report_error(self, message: str, details: str = "") -> None:
        self.log.error(message, details)
        self.status.say(message, error=True)

    # ------------------------------------------------------------------------------- view options
    def _show_compare(self, on: bool) -> None:
        self.viewer.show_compare(on)
        self._check(self.actions.compare, on and self.cam_panel.compute.compare == "methods")

    def _next_window(self) -> None:
        """The image's next display window, round to "as decoded" after the last."""
        count = len(self.display_panel.presets()) + 1
        self.display_panel.choose((self.display_panel.window.currentIndex() + 1) % count)

    @staticmethod
    def _check(action, on: bool) -> None:
        action.blockSignals(True)
        action.setChecked(on)
        action.blockSignals(False)

    def _saved_compute(self) -> ComputeOptions:
        s = self.settings
        return ComputeOptions(
            method=s.method,
            target=s.target,
            compare=s.compare if s.compare in COMPARE_MODES and s.compare != "models" else "off",
            compare_methods=s.compare_methods or ComputeOptions.compare_methods,
        )

    def _saved_display(self) -> DisplayOptions:
        s = self.settings
        return DisplayOptions(
            colormap=s.colormap,
            opacity=min(max(s.opacity, 0.0), 1.0),
            outline=s.outline,
            threshold=min(max(s.threshold, 0.0), 1.0),
            scale=s.map_scale if s.map_scale in MAP_SCALES else "image",
        )

    # ------------------------------------------------------------------------------------ export
    def export_view(self) -> None:
        self.exporter.export_view(
            self.session.result, self.session.frame, self.cam_panel.compute, self.cam_panel.display
        )

    def export_folder(self) -> None:
        self.export_dialog = self.exporter.export_folder(
            self.session.model,
            self.browser.paths(),
            self.browser.folder,
            self.cam_panel.compute,
            self.cam_panel.display,
        )

    # ------------------------------------------------------------------------------------- close
    def closeEvent(self, event: QCloseEvent) -> None:
        """Ask if work is running; then cancel it and close only once every worker has stopped."""
        if len(self.registry) == 0:
            self._save_layout()
            self.browser.stop()
            self.statusBar().clearMessage()  # also stops its timeout timer
            event.accept()
            return
        busy = self.registry.running(include_background=False)
        if busy and not self._closing and not self._may_quit(busy):
            event.ignore()
            return
        if not self._closing:
            self._closing = True
            self.status.say("Stopping background work…")
            self.session.stop()
            self.comparison.stop()
            self.browser.stop()
            self.workbench.stop()
            self.registry.idle.connect(self.close, Qt.ConnectionType.QueuedConnection)
        self.registry.cancel_all()
        event.ignore()

    def _may_quit(self, busy: list[str]) -> bool:
        answer = QMessageBox.question(
            self,
            "Quit camviewer?",
            "Still running:\n" + "\n".join(busy) + "\n\nCancel and quit?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _save_layout(self) -> None:
        self.settings.geometry = self.saveGeometry()
        self.settings.window_state = self.saveState()
        self.settings.thumbnails = self.browser.thumbnails()
        self.settings.recursive = self.browser.recursive()
        self.settings.sync()


def _section(title: str) -> QLabel:
    label = QLabel(title)
    label.setStyleSheet("font-weight: bold; padding: 6px 6px 0 6px; color: #333")
    return label
