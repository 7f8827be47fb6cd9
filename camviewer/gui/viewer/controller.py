"""The viewer's wiring: session results to the views and panels, panel edits to the session. No computing here.

    ViewerSession (model A) --imageReady/explained--> ImageView / CompareView, ModelPanel, DisplayPanel
    ComparisonSlot (model B) --explained-----------> CompareView ("Two models side by side")
    CamPanel --computeChanged--> both sessions; --displayChanged/opacityChanged--> the views only
    DisplayPanel (window/level, invert) ---------> ImageView or VolumeView (never what the model sees)

A volume (a VolumeFrame) shows in the VolumeView instead of the image view: three planes with the main map
over them; the compare modes are for 2-D images. A model that cannot explain what is shown (a 2-D model and
a volume, or the reverse) says so in the CAM panel's notice, not as an error.

Map scale "Fixed for the folder": every map is drawn against one raw maximum, taken from the map shown
when Fixed is chosen (or re-taken with "Map scale from this image"); a new folder, model, method or layer
starts it again, since raw magnitudes only compare within those.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QStackedWidget

from camviewer.gui.common.files import checkpoint_name
from camviewer.gui.common.log_panel import LogPanel
from camviewer.gui.common.settings import Settings
from camviewer.gui.viewer import tasks
from camviewer.gui.viewer.cam_panel import CamPanel
from camviewer.gui.viewer.compare_view import CompareView, Tile
from camviewer.gui.viewer.comparison import ComparisonSlot
from camviewer.gui.viewer.display_panel import DisplayPanel
from camviewer.gui.viewer.image_view import ImageView
from camviewer.gui.viewer.model_panel import ModelPanel
from camviewer.gui.viewer.session import ViewerSession
from camviewer.gui.viewer.state import (
    ComputeOptions,
    DisplayOptions,
    compare_maps,
    empty_note,
    main_map,
    shown_class,
)
from camviewer.gui.volume.tasks import VolumeFrame
from camviewer.gui.volume.volume_view import VolumeView

COMPARE_IS_2D = "Side by side is for 2-D images: a volume shows its three planes with the selected map."


class ViewerController(QObject):
    summary = Signal(str)  # one line for the status bar (kept until the next one)
    failed = Signal(str, str)  # message, details: for the log and the status bar
    modelNamed = Signal(str, str, bool)  # short name, tooltip, has a warning
    titleChanged = Signal(str)
    predicted = Signal(str, str)  # image path, the model's prediction (the browser marks right/wrong)

    def __init__(
        self,
        session: ViewerSession,
        comparison: ComparisonSlot,
        settings: Settings,
        log: LogPanel,
        model_panel: ModelPanel,
        cam_panel: CamPanel,
        display_panel: DisplayPanel,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.session, self.comparison, self.settings, self.log = session, comparison, settings, log
        self.model_panel, self.cam_panel, self.display_panel = model_panel, cam_panel, display_panel
        self.image_view = ImageView()
        self.compare_view = CompareView()
        self.volume_view = VolumeView()
        self.central = QStackedWidget()
        for view in (self.image_view, self.compare_view, self.volume_view):
            self.central.addWidget(view)
        self._folder: Path | None = None  # of the image shown: a window chosen by the user stays within it
        self._fixed_key: tuple | None = None  # what the fixed map scale was taken for
        self._wire()

    def _wire(self) -> None:
        s, v = self.session, self.image_view
        s.imageReady.connect(self._image_ready)
        s.explained.connect(self._explained)
        s.viewFailed.connect(self._view_failed)
        s.modelChanged.connect(self._model_changed)
        self.comparison.changed.connect(self._comparison_changed)
        self.comparison.explained.connect(lambda _result: self._show_tiles())
        self.comparison.failed.connect(self.failed)
        self.cam_panel.computeChanged.connect(self._compute_changed)
        self.cam_panel.displayChanged.connect(self.apply_display)
        self.cam_panel.opacityChanged.connect(self._opacity_changed)
        self.display_panel.windowChosen.connect(lambda window: self._shown_view().set_window(window))
        self.display_panel.invertChanged.connect(lambda on: (v.set_invert(on), self.volume_view.set_invert(on)))
        v.windowChanged.connect(lambda text: self.display_panel.show_window(v.window_level.current(), text))
        self.volume_view.windowChanged.connect(
            lambda text: self.display_panel.show_window(self.volume_view.window, text)
        )

    def showing_volume(self) -> bool:
        return isinstance(self.session.frame, VolumeFrame)

    def _shown_view(self):
        return self.volume_view if self.showing_volume() else self.image_view

    # -------------------------------------------------------------------------------- results
    def _image_ready(self, frame: tasks.ImageFrame | VolumeFrame) -> None:
        if isinstance(frame, VolumeFrame):
            self._volume_ready(frame)
            return
        info, folder = frame.image.info, Path(frame.path).parent
        self.display_panel.set_presets(list(frame.picture.presets))
        self.image_view.set_image(frame.picture, frame.image.pixels, keep_window=folder == self._folder)
        self._folder = folder
        self.compare_view.clear_maps()
        self.model_panel.clear_probabilities()
        self.cam_panel.show_notice(None)
        self.comparison.show_frame(frame)
        self.show_compare(self.cam_panel.compute.compare != "off")
        self.titleChanged.emit(f"{Path(frame.path).name} — camviewer")
        units = f", values in {info.units}" if info.units else ""
        self.summary.emit(
            f"{Path(frame.path).name}: {info.width}×{info.height} {info.format}, {info.bit_depth}-bit {info.mode}{units}"
        )

    def _volume_ready(self, frame: VolumeFrame) -> None:
        folder = Path(frame.path).parent
        self.display_panel.set_presets(list(frame.windows))
        self.volume_view.set_volume(frame, keep_window=folder == self._folder)
        self._folder = folder
        self.model_panel.clear_probabilities()
        self.cam_panel.show_notice(COMPARE_IS_2D if self.cam_panel.compute.compare != "off" else None)
        self.comparison.show_frame(None)
        self.show_compare(False)
        self.titleChanged.emit(f"{Path(frame.path).name} — camviewer")
        self.summary.emit(f"{Path(frame.path).name}: {frame.summary}")

    def _explained(self, result, seconds: float) -> None:
        options = self.cam_panel.compute
        if self.showing_volume():
            self.volume_view.set_map(main_map(result, options))
        else:
            self._show_main_map(result)
            self._show_tiles()
        self.model_panel.show_probabilities(result.probs, result.predicted)
        self.predicted.emit(result.source, result.predicted)
        shown, note = shown_class(result, options.target), empty_note(result, options)
        self.cam_panel.show_notice(note)  # an empty map says why, instead of a uniformly cold picture
        timing = f" · {seconds * 1000:.0f} ms" if seconds else ""
        self.summary.emit(
            f"{options.method} · {shown} (p {result.probs[shown]:.3f}) · layer {result.layer}{timing}"
            + (f" · empty map: {note}" if note else "")
        )

    def _show_main_map(self, result) -> None:
        options = self.cam_panel.compute
        shown = shown_class(result, options.target)
        map_range = result.ranges.get(options.method, {}).get(shown)
        key = (self._folder, str(self.session.model.source if self.session.model else ""), options.method, result.layer)
        if self.cam_panel.display.scale == "fixed" and map_range is not None and key != self._fixed_key:
            self._fixed_key = key  # a new folder, model, method or layer: the scale starts again from this map
            self.image_view.set_fixed_maximum(map_range[1])
        self.image_view.set_map(main_map(result, options), map_range)

    def fix_scale_here(self) -> None:
        """Map scale from this image: its map's maximum becomes the fixed scale."""
        self._fixed_key = None
        self.cam_panel.set_scale("fixed")
        if self.session.result is not None:
            self._show_main_map(self.session.result)

    def _show_tiles(self) -> None:
        """The compare view's tiles for the current mode, from the results at hand."""
        options, result, frame = self.cam_panel.compute, self.session.result, self.session.frame
        if options.compare == "off" or result is None or frame is None:
            return
        if options.compare != "models":
            self.compare_view.show_maps(frame.display, compare_maps(result, options))
            return
        tiles = [_model_tile("A", self.session, result, options, frame.display)]
        other = self.comparison.result
        if self.comparison.ready is None:
            tiles.append(Tile("B · open a comparison model (Ctrl+Shift+M)", frame.display, None))
        elif other is not None and other.source == result.source:
            tiles.append(
                _model_tile("B", self.comparison.session, other, self.comparison.session.options, frame.display)
            )
        else:
            tiles.append(Tile(f"B · {_model_name(self.comparison.session)} · computing…", frame.display, None))
        self.compare_view.show_tiles(tiles)

    def _view_failed(self, failure: tasks.ViewFailed) -> None:
        if failure.stage == "model":  # a 2-D model and a volume, or the reverse: nothing is wrong
            self.image_view.set_map(None)
            self.volume_view.set_map(None)
            self.volume_view.set_notice(failure.message)
            self.cam_panel.show_notice(failure.message)
            self.summary.emit(failure.message)
            return
        if failure.stage == "image":
            name = Path(failure.path).name
            self.image_view.clear(f"Cannot show {name}:\n{failure.message.removeprefix(name + ': ')}")
            self.compare_view.clear_maps()
            self.model_panel.clear_probabilities()
            self.central.setCurrentWidget(self.image_view)
        else:
            self.image_view.set_map(None)
            self.volume_view.set_map(None)
        self.failed.emit(failure.message, "")

    def clear(self, message: str) -> None:
        """No image to show (an empty folder): nothing of the previous image may stay on screen."""
        self.session.show_image(None)
        self.comparison.show_frame(None)
        self.image_view.clear(message)
        self.volume_view.clear()
        self.compare_view.clear_maps()
        self.model_panel.clear_probabilities()
        self.show_compare(self.cam_panel.compute.compare != "off")
        self.titleChanged.emit("camviewer")
        self.summary.emit(message)

    # ---------------------------------------------------------------------------------- models
    def _model_changed(self, ready: tasks.ModelReady) -> None:
        from camviewer.core.overlay import colormap_lut

        card = ready.model.card
        self.model_panel.show_model(card, ready.model.source, str(ready.model.device), ready.warning)
        self.cam_panel.set_engine(ready.methods, {name: colormap_lut(name) for name in ready.colormaps})
        self.cam_panel.set_model(card.class_names, ready.layers, ready.auto_layer)
        self.apply_display(self.cam_panel.display)
        name = _model_name(self.session)
        self.log.info(f"Model ready: {name} ({card.arch}, {card.num_classes} classes, {ready.model.device})")
        shown = f"⚠ {name}: untrained placeholder" if ready.placeholder else f"⚠ {name}" if ready.warning else name
        self.modelNamed.emit(shown, ready.warning or str(ready.model.source or name), bool(ready.warning))
        if ready.warning:
            self.log.warning(ready.warning)
        self.summary.emit(ready.warning or f"Model ready: {name}")

    def _comparison_changed(self, ready) -> None:
        self.cam_panel.set_models_available(ready is not None)
        if ready is None:
            self.log.info("Comparison model closed")
            if self.cam_panel.compute.compare == "models":
                self.cam_panel.set_compare("off")
            return
        name = _model_name(self.comparison.session)
        self.log.info(f"Comparison model ready: {name} ({ready.model.card.arch})")
        if self.session.frame is not None:
            self.comparison.show_frame(self.session.frame)
        self.cam_panel.set_compare("models")
        self.summary.emit(f"Comparing with {name}: both maps side by side")

    # ---------------------------------------------------------------------------------- options
    def _compute_changed(self, options: ComputeOptions) -> None:
        s = self.settings
        s.method, s.target, s.compare, s.compare_methods = (
            options.method,
            options.target,
            options.compare if options.compare != "models" else "off",  # the second model is not remembered
            options.compare_methods,
        )
        self.show_compare(options.compare != "off")
        self.session.set_options(options)
        self.comparison.set_options(options)

    def show_compare(self, on: bool) -> None:
        if self.showing_volume():
            self.central.setCurrentWidget(self.volume_view)
            self.cam_panel.show_notice(COMPARE_IS_2D if on else None)
        else:
            self.central.setCurrentWidget(self.compare_view if on else self.image_view)

    def apply_display(self, display: DisplayOptions) -> None:
        s = self.settings
        s.colormap, s.outline, s.threshold, s.map_scale = (
            display.colormap,
            display.outline,
            display.threshold,
            display.scale,
        )
        if self.session.ready is not None:  # colormaps come with the engine
            from camviewer.core.overlay import colormap_lut

            lut = colormap_lut(display.colormap)
            self.image_view.set_colormap(lut)
            self.compare_view.set_colormap(lut)
            self.volume_view.set_colormap(lut)
        self.image_view.set_outline(display.outline, display.threshold)
        if display.scale == "image":
            self._fixed_key = None
            self.image_view.set_fixed_maximum(None)
        elif self.session.result is not None and self._fixed_key is None:
            self._show_main_map(self.session.result)

    def _opacity_changed(self, opacity: float) -> None:
        self.image_view.set_opacity(opacity)  # only the heat layer's opacity: nothing is recomputed
        self.compare_view.set_opacity(opacity)
        self.volume_view.set_opacity(opacity)
        self.settings.opacity = opacity


def _model_name(session: ViewerSession) -> str:
    model = session.model
    return checkpoint_name(model.source if model is not None else None)


def _model_tile(slot: str, session: ViewerSession, result, options: ComputeOptions, display) -> Tile:
    shown = shown_class(result, options.target)
    title = f"{slot} · {_model_name(session)} · {shown} p {result.probs[shown]:.2f}"
    tip = f"{session.model.source or 'demo model'}\npredicted {result.predicted}; map: {options.method} for {shown}"
    return Tile(title, display, result.maps[options.method][shown], tooltip=tip)
