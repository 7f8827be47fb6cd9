"""The main window: it composes the panels and wires their signals. It computes nothing itself.

FolderBrowser (left)  ->  ViewerSession  ->  ImageView / CompareView (centre)
ModelLoader           ->  ViewerSession  ->  ModelPanel, CamPanel (right)
Workbench             ->  Training, Evaluation, Trust docks (right, tabbed), ground truth, refinement
every worker error    ->  LogPanel (bottom) and the status bar
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QFont
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from camviewer.gui.app.menus import KeepArrowKeys, build_actions, build_menus, fill_on_show, shortcut_table, show_about
from camviewer.gui.app.workbench import Workbench
from camviewer.gui.common.files import drop_paths
from camviewer.gui.common.log_panel import LogPanel
from camviewer.gui.common.settings import Settings
from camviewer.gui.jobs.registry import WorkerRegistry
from camviewer.gui.viewer import tasks
from camviewer.gui.viewer.cam_panel import CamPanel
from camviewer.gui.viewer.compare_view import CompareView
from camviewer.gui.viewer.export_dialog import ExportDialog
from camviewer.gui.viewer.exporter import Exporter
from camviewer.gui.viewer.folder_browser import FolderBrowser
from camviewer.gui.viewer.image_view import ImageView
from camviewer.gui.viewer.model_loader import ModelLoader
from camviewer.gui.viewer.model_panel import ModelPanel
from camviewer.gui.viewer.opener import Opener
from camviewer.gui.viewer.session import ViewerSession
from camviewer.gui.viewer.state import ComputeOptions, DisplayOptions, compare_maps, empty_note, main_map, shown_class

DEFAULT_SIZE = (1280, 800)
MESSAGE_MS = 8000


class MainWindow(QMainWindow):
    def __init__(self, settings: Settings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("camviewer")
        self.setObjectName("mainWindow")
        self.settings = settings or Settings()
        self.registry = WorkerRegistry(self)
        self.session = ViewerSession(self.registry, self)
        self.browser = FolderBrowser(self.registry, self.settings.thumbnails)
        self.loader = ModelLoader(self.registry, self, self.settings, self.browser.paths)
        self.actions = build_actions(self)
        self.image_view = ImageView()
        self.compare_view = CompareView()
        self.central = QStackedWidget()
        self.central.addWidget(self.image_view)
        self.central.addWidget(self.compare_view)
        self.setCentralWidget(self.central)
        self.model_panel = ModelPanel(self.actions.open_model)
        self.cam_panel = CamPanel(self._saved_compute(), self._saved_display())
        self.log = LogPanel(self)
        self.opener = Opener(self, self.settings, self.registry, self.browser, self.loader, self.log)
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
        self.workbench.add_menus()
        self._status_bar()
        self._wire()
        self._keep_arrows = KeepArrowKeys(self)
        for kind in KeepArrowKeys.USERS:
            for widget in self.findChildren(kind):
                widget.installEventFilter(self._keep_arrows)
        self.exporter = Exporter(self.registry, self.settings, self.log, self)
        self.exporter.message.connect(lambda text: self.statusBar().showMessage(text, MESSAGE_MS))
        self.export_dialog: ExportDialog | None = None
        self._closing = False
        self.setAcceptDrops(True)
        self.resize(*DEFAULT_SIZE)
        self.restoreGeometry(self.settings.geometry)
        self.restoreState(self.settings.window_state)
        self._apply_display(self.cam_panel.display)
        self.image_view.set_opacity(self.cam_panel.display.opacity)
        self._show_compare(self.cam_panel.compute.compare != "off")

    # ------------------------------------------------------------------------------------ layout
    def _docks(self) -> None:
        self.browser_dock = self._dock("Images", "browserDock", self.browser, Qt.DockWidgetArea.LeftDockWidgetArea)
        right = QWidget()
        column = QVBoxLayout(right)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(_section("Model"))
        column.addWidget(self.model_panel)
        column.addWidget(_section("Class activation map"))
        column.addWidget(self.cam_panel)
        column.addWidget(_section("Ground truth"))
        column.addWidget(self.workbench.truth_panel)
        column.addStretch(1)
        scroll = QScrollArea(widgetResizable=True)
        scroll.setWidget(right)
        self.model_dock = self._dock("Model and CAM", "modelDock", scroll, Qt.DockWidgetArea.RightDockWidgetArea)
        self.workbench.add_docks(self.model_dock)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.log)
        self.resizeDocks([self.browser_dock, self.model_dock], [300, 330], Qt.Orientation.Horizontal)
        self.resizeDocks([self.log], [80], Qt.Orientation.Vertical)

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _status_bar(self) -> None:
        self.hover_label = QLabel("")
        self.hover_label.setFont(QFont("monospace"))
        self.busy = QProgressBar(maximum=0, visible=False)
        self.busy.setMaximumWidth(90)
        self.busy.setToolTip("Computing…")
        self.model_status = QLabel("No model")  # stays visible: temporary messages do not cover it
        self.model_status.setObjectName("modelStatus")
        self.statusBar().addPermanentWidget(self.hover_label)
        self.statusBar().addPermanentWidget(self.model_status)
        self.statusBar().addPermanentWidget(self.busy)

    def _wire(self) -> None:
        a = self.actions
        a.open_folder.triggered.connect(self.opener.choose_folder)
        a.open_images.triggered.connect(self.opener.choose_images)
        a.open_model.triggered.connect(self.opener.choose_model)
        a.export_view.triggered.connect(self.export_view)
        a.export_folder.triggered.connect(self.export_folder)
        a.quit.triggered.connect(self.close)
        a.next_image.triggered.connect(lambda: self.browser.step(+1))
        a.previous_image.triggered.connect(lambda: self.browser.step(-1))
        a.fit.triggered.connect(lambda: (self.image_view.fit(), self.compare_view.fit()))
        a.more_opacity.triggered.connect(lambda: self.cam_panel.nudge_opacity(+0.1))
        a.less_opacity.triggered.connect(lambda: self.cam_panel.nudge_opacity(-0.1))
        a.thumbnails.setChecked(self.browser.thumbnails())
        a.thumbnails.toggled.connect(self.browser.set_thumbnails)
        self.browser.mode_button.toggled.connect(a.thumbnails.setChecked)
        a.compare.toggled.connect(lambda on: self.cam_panel.set_compare("methods" if on else "off"))
        a.shortcuts.triggered.connect(
            lambda: QMessageBox.information(self, "Keyboard shortcuts", shortcut_table(a, self.workbench.actions))
        )
        a.about.triggered.connect(lambda: show_about(self))
        fill_on_show(self.menus["recent_folders"], lambda: self.settings.recent_folders, self.open_folder)
        fill_on_show(self.menus["recent_models"], lambda: self.settings.recent_models, self.open_model)

        self.browser.imageSelected.connect(self.session.show_image)
        self.browser.listed.connect(lambda title, n: self.statusBar().showMessage(f"{title}: {n:,} images", MESSAGE_MS))
        self.browser.failed.connect(self.report_error)
        self.loader.loaded.connect(self._model_loaded)
        self.loader.failed.connect(self.report_error)
        self.loader.status.connect(lambda text: self.statusBar().showMessage(text, MESSAGE_MS))
        self.registry.failed.connect(self.report_error)
        self.session.imageReady.connect(self._image_ready)
        self.session.explained.connect(self._explained)
        self.session.viewFailed.connect(self._view_failed)
        self.session.modelChanged.connect(self._model_changed)
        self.session.busyChanged.connect(self.busy.setVisible)
        self.cam_panel.computeChanged.connect(self._compute_changed)
        self.cam_panel.displayChanged.connect(self._apply_display)
        self.cam_panel.opacityChanged.connect(self._opacity_changed)
        self.image_view.hovered.connect(self.hover_label.setText)

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
    def _model_loaded(self, ready: tasks.ModelReady) -> None:
        if ready.model.source:
            self.settings.remember_model(ready.model.source)
        self.session.set_model(ready)

    def _model_changed(self, ready: tasks.ModelReady) -> None:
        from camviewer.core.overlay import colormap_lut

        card = ready.model.card
        self.model_panel.show_model(card, ready.model.source, str(ready.model.device), ready.warning)
        self.cam_panel.set_engine(ready.methods, {name: colormap_lut(name) for name in ready.colormaps})
        self.cam_panel.set_model(card.class_names, ready.layers, ready.auto_layer)
        self._apply_display(self.cam_panel.display)
        name = Path(ready.model.source).name if ready.model.source else "demo model"
        self.log.info(f"Model ready: {name} ({card.arch}, {card.num_classes} classes, {ready.model.device})")
        self.model_status.setText(
            f"⚠ {name}: untrained placeholder" if ready.placeholder else f"⚠ {name}" if ready.warning else name
        )
        self.model_status.setToolTip(ready.warning or str(ready.model.source or name))
        self.model_status.setStyleSheet("color: #a15c00; font-weight: bold" if ready.warning else "")
        if ready.warning:
            self.log.warning(ready.warning)
        self.statusBar().showMessage(ready.warning or f"Model ready: {name}", MESSAGE_MS)

    def _image_ready(self, frame: tasks.ImageFrame) -> None:
        info = frame.image.info
        self.image_view.set_image(frame.display, frame.image.pixels)
        self.compare_view.clear_maps()
        self.model_panel.clear_probabilities()
        self.cam_panel.show_notice(None)
        self.setWindowTitle(f"{Path(frame.path).name} — camviewer")
        self.statusBar().showMessage(
            f"{Path(frame.path).name}: {info.width}×{info.height} {info.format}, {info.bit_depth}-bit {info.mode}",
            MESSAGE_MS,
        )

    def _explained(self, result, seconds: float) -> None:
        options = self.cam_panel.compute
        self.image_view.set_map(main_map(result, options))
        if options.compare != "off" and self.session.frame is not None:
            self.compare_view.show_maps(self.session.frame.display, compare_maps(result, options))
        self.model_panel.show_probabilities(result.probs, result.predicted)
        shown, note = shown_class(result, options.target), empty_note(result, options)
        self.cam_panel.show_notice(note)
        timing = f" · {seconds * 1000:.0f} ms" if seconds else ""
        self.statusBar().showMessage(
            f"{options.method} · {shown} (p {result.probs[shown]:.3f}) · layer {result.layer}{timing}"
            + (f" · {note}" if note else ""),
            MESSAGE_MS,
        )

    def _view_failed(self, failure: tasks.ViewFailed) -> None:
        if failure.stage == "image":
            name = Path(failure.path).name
            self.image_view.clear(f"Cannot show {name}:\n{failure.message.removeprefix(name + ': ')}")
            self.compare_view.clear_maps()
            self.model_panel.clear_probabilities()
        else:
            self.image_view.set_map(None)
        self.report_error(failure.message)

    def report_error(self, message: str, details: str = "") -> None:
        self.log.error(message, details)
        self.statusBar().showMessage(message, 2 * MESSAGE_MS)

    # ------------------------------------------------------------------------------- CAM options
    def _compute_changed(self, options: ComputeOptions) -> None:
        s = self.settings
        s.method, s.target, s.compare, s.compare_methods = (
            options.method,
            options.target,
            options.compare,
            options.compare_methods,
        )
        self._show_compare(options.compare != "off")
        self.session.set_options(options)

    def _show_compare(self, on: bool) -> None:
        self.central.setCurrentWidget(self.compare_view if on else self.image_view)
        self.actions.compare.blockSignals(True)
        self.actions.compare.setChecked(on)
        self.actions.compare.blockSignals(False)

    def _apply_display(self, display: DisplayOptions) -> None:
        self.settings.colormap, self.settings.outline, self.settings.threshold = (
            display.colormap,
            display.outline,
            display.threshold,
        )
        if self.session.ready is not None:  # colormaps come with the engine
            from camviewer.core.overlay import colormap_lut

            lut = colormap_lut(display.colormap)
            self.image_view.set_colormap(lut)
            self.compare_view.set_colormap(lut)
        self.image_view.set_outline(display.outline, display.threshold)

    def _opacity_changed(self, opacity: float) -> None:
        self.image_view.set_opacity(opacity)  # only the heat layer's opacity: nothing is recomputed
        self.compare_view.set_opacity(opacity)
        self.settings.opacity = opacity

    def _saved_compute(self) -> ComputeOptions:
        s = self.settings
        return ComputeOptions(
            method=s.method,
            target=s.target,
            compare=s.compare,
            compare_methods=s.compare_methods or ComputeOptions.compare_methods,
        )

    def _saved_display(self) -> DisplayOptions:
        s = self.settings
        return DisplayOptions(
            colormap=s.colormap,
            opacity=min(max(s.opacity, 0.0), 1.0),
            outline=s.outline,
            threshold=min(max(s.threshold, 0.0), 1.0),
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
            self.statusBar().showMessage("Stopping background work…")
            self.session.stop()
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
        self.settings.sync()


def _section(title: str) -> QLabel:
    label = QLabel(title)
    label.setStyleSheet("font-weight: bold; padding: 6px 6px 0 6px; color: #333")
    return label
