"""Right panel, bottom: CAM options. What to compute (method, layer, class, compare mode) and how to show it
(colormap, opacity, outline of the thresholded map, the map's scale).

Two kinds of signals keep the costs apart: ``computeChanged`` (the engine must run again) and
``displayChanged``/``opacityChanged`` (only the picture changes).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PySide6.QtCore import QSignalBlocker, QSize, Qt, Signal
from PySide6.QtGui import QAction, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QSlider,
    QToolButton,
    QWidget,
)

from camviewer.core.cam.names import METHOD_INFO
from camviewer.gui.common.jump_slider import JumpSlider
from camviewer.gui.viewer.state import COMPARE_MODES, MAP_SCALES, OUTLINES, PREDICTED, ComputeOptions, DisplayOptions

OPACITY_STEP = 0.1


class CamPanel(QWidget):
    computeChanged = Signal(object)  # ComputeOptions
    displayChanged = Signal(object)  # DisplayOptions (colormap, outline, threshold)
    opacityChanged = Signal(float)

    def __init__(self, compute: ComputeOptions, display: DisplayOptions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("camPanel")
        self.compute, self.display = compute, display
        self.method = self._combo(
            "CAM method. Most maps of one image come from one pass of the model; "
            "each method's own tooltip says what it costs."
        )
        self.method.addItem(compute.method, compute.method)
        self.layer = self._combo(
            "Layer whose activations are explained; ★ marks the automatic choice "
            "(the last spatial layer before the classification head)"
        )
        self.target = self._combo("Class to explain: the predicted one, or any class")
        self.target.addItem("Predicted class", PREDICTED)
        self.colormap = self._combo("Colours of the heatmap (display only)")
        self.colormap.addItem(display.colormap, display.colormap)
        self.opacity = self._slider(round(display.opacity * 100), "Heatmap opacity (+ / - keys); display only")
        self.opacity_label = QLabel(f"{self.opacity.value()}%", minimumWidth=40)
        self.outline = self._combo("Draw the region where the map is above the threshold")
        for key, text in OUTLINES.items():
            self.outline.addItem(text, key)
        self.outline.setCurrentIndex(list(OUTLINES).index(display.outline) if display.outline in OUTLINES else 0)
        self.threshold = self._slider(
            round(display.threshold * 100), "The outline is drawn where the map is above this share of its maximum"
        )
        self.threshold_label = QLabel(f"{self.threshold.value()}% of max")
        self.threshold_label.setMinimumWidth(self.fontMetrics().horizontalAdvance("100% of max") + 4)
        self.scale = self._combo(
            "Per image: each map is stretched over its own range (the colour bar gives it in raw units). "
            "Fixed: every map of the folder is drawn against one maximum, so magnitudes compare across images"
        )
        for key, text in MAP_SCALES.items():
            self.scale.addItem(text, key)
        self.scale.setCurrentIndex(max(0, self.scale.findData(display.scale)))
        self.compare_mode = self._combo("Show several maps of the same image side by side (computed in one pass)")
        for key, text in COMPARE_MODES.items():
            self.compare_mode.addItem(text, key)
        self.set_models_available(False)
        self.compare_mode.setCurrentIndex(
            list(COMPARE_MODES).index(compute.compare) if compute.compare in COMPARE_MODES else 0
        )
        self.compare_methods = QToolButton(text="Methods…", popupMode=QToolButton.ToolButtonPopupMode.InstantPopup)
        self.compare_methods.setToolTip("Methods shown in 'Methods side by side'")
        self.compare_methods.setMenu(QMenu(self.compare_methods))
        self.notice = QLabel(wordWrap=True, visible=False, objectName="emptyMapNotice")
        self.notice.setStyleSheet("background: #fff3bf; color: #5c3c00; padding: 4px; border-radius: 3px")
        self._layout()
        self._connect()

    # ------------------------------------------------------------------------------------ building
    def _combo(self, tooltip: str) -> QComboBox:
        combo = QComboBox()
        combo.setToolTip(tooltip)
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(12)
        return combo

    def _slider(self, value: int, tooltip: str) -> QSlider:
        slider = JumpSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100, value=value)
        slider.setToolTip(tooltip)
        slider.setPageStep(10)
        return slider

    def _layout(self) -> None:
        form = QFormLayout(self)
        form.setContentsMargins(6, 6, 6, 6)
        form.addRow("Method", self.method)
        form.addRow("Layer", self.layer)
        form.addRow("Class", self.target)
        form.addRow("Colormap", self.colormap)
        form.addRow("Map scale", self.scale)
        form.addRow("Opacity", _row(self.opacity, self.opacity_label))
        form.addRow("Outline", self.outline)
        form.addRow("Outline at", _row(self.threshold, self.threshold_label))
        form.addRow("Compare", _row(self.compare_mode, self.compare_methods))
        form.addRow(self.notice)

    def _connect(self) -> None:
        for combo in (self.method, self.layer, self.target, self.compare_mode):
            combo.currentIndexChanged.connect(self._compute_edited)
        for combo in (self.colormap, self.outline, self.scale):
            combo.currentIndexChanged.connect(self._display_edited)
        self.threshold.valueChanged.connect(self._display_edited)
        self.opacity.valueChanged.connect(self._opacity_edited)

    def show_notice(self, text: str | None) -> None:
        """Why the shown map has nothing to show (an empty map), or None."""
        self.notice.setText(text or "")
        self.notice.setVisible(bool(text))

    # ----------------------------------------------------------------------- filled by the engine
    def set_engine(self, methods: tuple[str, ...], colormaps: dict[str, np.ndarray]) -> None:
        """The vocabulary the engine offers, known once it has loaded (it needs torch)."""
        with QSignalBlocker(self.method), QSignalBlocker(self.colormap):
            _fill(self.method, [(name, name) for name in methods], self.compute.method)
            for index, name in enumerate(methods):
                self.method.setItemData(index, method_tooltip(name), Qt.ItemDataRole.ToolTipRole)
            self.colormap.clear()
            for name, lut in colormaps.items():
                self.colormap.addItem(gradient_icon(lut), name, name)
            self.colormap.setIconSize(QSize(48, 12))
            self.colormap.setCurrentIndex(max(0, self.colormap.findData(self.display.colormap)))
        menu = self.compare_methods.menu()
        menu.clear()
        for name in methods:
            action = QAction(name, menu, checkable=True, checked=name in self.compute.compare_methods)
            action.setToolTip(method_tooltip(name))
            action.toggled.connect(self._compute_edited)
            menu.addAction(action)
        self._compute_edited()
        self._display_edited()
        self._tick_shown_method()

    def set_models_available(self, available: bool) -> None:
        """'Two models side by side' is offered once a comparison model is loaded."""
        item = self.compare_mode.model().item(self.compare_mode.findData("models"))
        item.setEnabled(available)
        item.setToolTip("" if available else "Open a comparison model first (File > Open comparison model…)")

    def set_model(self, class_names: list[str], layers: list, auto_layer: str) -> None:
        """``layers``: the engine's LayerInfo (name, shape, module_type) for this model."""
        with QSignalBlocker(self.layer), QSignalBlocker(self.target):
            choices = [(f"Automatic ★ {auto_layer}" if auto_layer else "Automatic", None)]
            choices += [(_layer_text(layer, auto_layer), layer.name) for layer in layers]
            _fill(self.layer, choices, self.compute.layer)
            target = self.compute.target if self.compute.target in class_names else PREDICTED
            _fill(self.target, [("Predicted class", PREDICTED)] + [(name, name) for name in class_names], target)
        self._compute_edited()

    # ------------------------------------------------------------------------------------ edits
    def nudge_opacity(self, delta: float) -> None:
        self.opacity.setValue(self.opacity.value() + round(delta * 100))

    def set_target(self, target: str) -> None:
        self.target.setCurrentIndex(max(0, self.target.findData(target)))

    def set_method(self, method: str) -> None:
        self.method.setCurrentIndex(max(0, self.method.findData(method)))

    def set_compare(self, mode: str) -> None:
        self.compare_mode.setCurrentIndex(max(0, self.compare_mode.findData(mode)))

    def set_scale(self, scale: str) -> None:
        self.scale.setCurrentIndex(max(0, self.scale.findData(scale)))

    def _tick_shown_method(self) -> None:
        """The method shown in the single view is always part of 'Methods side by side': ticked, fixed."""
        for action in self.compare_methods.menu().actions():
            shown = action.text() == self.compute.method
            action.setEnabled(not shown)
            action.setToolTip("the method shown in the single view (always compared)" if shown else "")
            if shown and not action.isChecked():
                with QSignalBlocker(action):
                    action.setChecked(True)

    def _compute_edited(self, *_args) -> None:
        checked = tuple(a.text() for a in self.compare_methods.menu().actions() if a.isChecked())
        options = replace(
            self.compute,
            method=self.method.currentData() or self.compute.method,
            target=self.target.currentData() or PREDICTED,
            layer=self.layer.currentData(),
            compare=self.compare_mode.currentData() or "off",
            compare_methods=checked or self.compute.compare_methods,
        )
        self.compare_methods.setEnabled(options.compare == "methods")
        if options != self.compute:
            self.compute = options
            self._tick_shown_method()
            self.computeChanged.emit(options)

    def _display_edited(self, *_args) -> None:
        self.threshold_label.setText(f"{self.threshold.value()}% of max")
        options = replace(
            self.display,
            colormap=self.colormap.currentData() or self.display.colormap,
            outline=self.outline.currentData() or "none",
            threshold=self.threshold.value() / 100,
            scale=self.scale.currentData() or "image",
        )
        self.threshold.setEnabled(options.outline != "none")
        if options != self.display:
            self.display = options
            self.displayChanged.emit(options)

    def _opacity_edited(self, value: int) -> None:
        self.opacity_label.setText(f"{value}%")
        self.display = replace(self.display, opacity=value / 100)
        self.opacityChanged.emit(value / 100)


def _layer_text(layer, auto_layer: str) -> str:
    """ "★ conv_block_3  (64×12×12, Sequential)": name, output shape and kind, the automatic choice starred."""
    star = "★ " if layer.name == auto_layer else ""
    return f"{star}{layer.name}  ({'×'.join(map(str, layer.shape))}, {layer.module_type})"


def _row(*widgets: QWidget) -> QWidget:
    holder = QWidget()
    layout = QHBoxLayout(holder)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget, 1 if isinstance(widget, (QSlider, QComboBox)) else 0)
    return holder


def method_tooltip(name: str) -> str:
    """What a method costs per image, and a warning where that is many passes of the model."""
    info = METHOD_INFO.get(name)
    if info is None:
        return name
    text = f"{name}: {info.cost}"
    if info.family == "pixel":
        text += "; a map of the input's pixels, not of a layer"
    return text + ("; seconds per image on a CPU" if info.slow else "")


def _fill(combo: QComboBox, choices: list[tuple[str, object]], current: object) -> None:
    combo.clear()
    for text, data in choices:
        combo.addItem(text, data)
    combo.setCurrentIndex(max(0, combo.findData(current)) if current is not None else 0)


def gradient_icon(lut: np.ndarray, width: int = 48, height: int = 12) -> QIcon:
    """A small horizontal ramp of a colormap's lookup table (256 x 3 uint8)."""
    ramp = np.ascontiguousarray(np.repeat(lut[np.linspace(0, 255, width).astype(int)][None], height, axis=0))
    image = QImage(ramp.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()
    return QIcon(QPixmap.fromImage(image))
