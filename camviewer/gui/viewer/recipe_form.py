"""The preprocessing a model was trained with: resize (stretch, shorter side, letterbox), centre crop,
interpolation, grey or colour, mean/std (ImageNet, from the open folder's images, or typed in).

Plain values in, plain values out (``values()`` gives load_model's keywords); computing statistics
"from data" is asked of the owner (``statisticsRequested``), which runs it in a worker.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from camviewer.core.model import recipe
from camviewer.core.model.card import GREY_MEAN, GREY_STD, IMAGENET_MEAN, IMAGENET_STD

MODES = {
    "stretch": "Exact size (stretch)",
    "shorter": "Shorter side (aspect kept)",
    "letterbox": "Letterbox (fit, pad with black)",
}
INTERPOLATION_TEXT = {
    "bilinear": "Bilinear (torchvision Resize on PIL images)",
    "bicubic": "Bicubic (torchvision)",
    "nearest": "Nearest (torchvision)",
    "area": "Area (OpenCV; camviewer 0.x)",
}
PRESETS = {"imagenet": "ImageNet", "data": "From the open folder's images", "custom": "Typed in"}


def _spin(value: int, tooltip: str) -> QSpinBox:
    spin = QSpinBox(minimum=8, maximum=4096, value=value, suffix=" px")
    spin.setToolTip(tooltip)
    return spin


def _pair(*widgets) -> QHBoxLayout:
    row = QHBoxLayout()
    row.setContentsMargins(0, 0, 0, 0)
    for index, widget in enumerate(widgets):
        if index:
            row.addWidget(QLabel("×"))
        row.addWidget(widget)
    row.addStretch(1)
    return row


def _numbers(values) -> str:
    return ", ".join(f"{v:.4g}" for v in values)


class RecipeForm(QWidget):
    statisticsRequested = Signal()  # "From the open folder's images" was chosen
    changed = Signal()

    def __init__(self, channels: int = 3, input_size: tuple[int, int] | None = None, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("recipeForm")
        self.channels = channels
        size = input_size or (224, 224)
        self.mode = QComboBox()
        for key, text in MODES.items():
            self.mode.addItem(text, key)
        self.mode.setToolTip("How images were resized in training: Resize((h, w)), Resize(n) or a letterbox")
        self.height = _spin(size[0], "Height the image is resized to")
        self.width = _spin(size[1], "Width the image is resized to")
        self.short = _spin(256, "The shorter side is resized to this; the other keeps the aspect ratio")
        self.crop_on = QCheckBox("Centre crop")
        self.crop_on.setToolTip("CenterCrop after the resize; the model sees only that part of the image")
        self.crop_h, self.crop_w = _spin(224, "Crop height"), _spin(224, "Crop width")
        self.interpolation = QComboBox()
        for key, text in INTERPOLATION_TEXT.items():
            self.interpolation.addItem(text, key)
        self.grey = QCheckBox("Convert images to grey first")
        self.grey.setChecked(channels == 1)
        self.grey.setEnabled(channels == 3)  # a one-channel model takes grey images in any case
        self.preset = QComboBox()
        for key, text in PRESETS.items():
            self.preset.addItem(text, key)
        self.mean, self.std = QLineEdit(), QLineEdit()
        self.note = QLabel(wordWrap=True, styleSheet="color: #555")
        self.summary = QLabel(wordWrap=True)
        self._imagenet()
        self._layout()
        for signal in (self.mode.currentIndexChanged, self.interpolation.currentIndexChanged, self.crop_on.toggled):
            signal.connect(self._refresh)
        for spin in (self.height, self.width, self.short, self.crop_h, self.crop_w):
            spin.valueChanged.connect(self._refresh)
        self.preset.currentIndexChanged.connect(self._preset_chosen)
        for field in (self.mean, self.std):
            field.textEdited.connect(lambda _text: self._set_preset("custom"))
        self._refresh()

    def _layout(self) -> None:
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Resize", self.mode)
        self.size_row, self.short_row = QWidget(), QWidget()
        self.size_row.setLayout(_pair(self.height, self.width))
        self.short_row.setLayout(_pair(self.short))
        form.addRow("Size (h × w)", self.size_row)
        form.addRow("Shorter side", self.short_row)
        crop = _pair(self.crop_h, self.crop_w)
        crop.insertWidget(0, self.crop_on)
        form.addRow("", crop)
        form.addRow("Interpolation", self.interpolation)
        form.addRow("Colour", self.grey)
        form.addRow("Normalization", self.preset)
        form.addRow("Mean", self.mean)
        form.addRow("Std", self.std)
        form.addRow("", self.note)
        form.addRow("Model input", self.summary)
        self.form = form

    # --------------------------------------------------------------------------------- values
    def geometry(self) -> dict:
        """resize, crop, letterbox, interpolation: the ``recipe`` keyword of load_model."""
        mode = self.mode.currentData()
        resize = self.short.value() if mode == "shorter" else [self.height.value(), self.width.value()]
        crop = [self.crop_h.value(), self.crop_w.value()] if self.crop_on.isChecked() and mode != "letterbox" else None
        return {
            "resize": resize,
            "crop": crop,
            "letterbox": mode == "letterbox",
            "interpolation": self.interpolation.currentData(),
        }

    def values(self) -> dict:
        """load_model's preprocessing keywords (``recipe``, ``mean``, ``std``, ``grayscale``)."""
        return {
            "recipe": self.geometry(),
            "mean": _parse(self.mean.text()),
            "std": _parse(self.std.text()),
            "grayscale": self.grey.isChecked() if self.channels == 3 else None,
        }

    def set_values(self, geometry: dict, mean=None, std=None, grayscale: bool | None = None) -> None:
        """Fill in what the user entered last time (what ``values()`` gave)."""
        resize = geometry.get("resize")
        if geometry.get("letterbox"):
            self.mode.setCurrentIndex(self.mode.findData("letterbox"))
        elif isinstance(resize, int):
            self.mode.setCurrentIndex(self.mode.findData("shorter"))
            self.short.setValue(resize)
        if isinstance(resize, (list, tuple)):
            self.height.setValue(int(resize[0]))
            self.width.setValue(int(resize[1]))
        crop = geometry.get("crop")
        self.crop_on.setChecked(crop is not None)
        if crop is not None:
            self.crop_h.setValue(int(crop[0]))
            self.crop_w.setValue(int(crop[1]))
        index = self.interpolation.findData(geometry.get("interpolation", recipe.DEFAULT_INTERPOLATION))
        self.interpolation.setCurrentIndex(max(0, index))
        if grayscale is not None:
            self.grey.setChecked(bool(grayscale))
        if mean and std:
            self.mean.setText(_numbers(mean))
            self.std.setText(_numbers(std))
            self._set_preset("custom")

    def problem(self) -> str | None:
        geometry = self.geometry()
        try:
            recipe.check_recipe(geometry["resize"], geometry["crop"], geometry["letterbox"], geometry["interpolation"])
        except ValueError as error:
            return f"Preprocessing: {error}."
        for name, field in (("mean", self.mean), ("std", self.std)):
            values = _parse(field.text())
            if values is None or len(values) not in (1, self.channels):
                return f"Give the {name} as 1 or {self.channels} numbers separated by commas."
        if any(v <= 0 for v in _parse(self.std.text())):
            return "Std values must be positive."
        return None

    # ------------------------------------------------------------------------------ statistics
    def set_statistics(self, mean, std, images: int) -> None:
        self.mean.setText(_numbers(mean))
        self.std.setText(_numbers(std))
        self.note.setText(f"Computed from {images:,} images of the open folder, after this preprocessing.")

    def statistics_failed(self, message: str) -> None:
        self.note.setText(f"Could not compute statistics: {message}")
        self._set_preset("custom")

    # -------------------------------------------------------------------------------- internal
    def _imagenet(self) -> None:
        grey = self.channels == 1
        self.mean.setText(_numbers(GREY_MEAN if grey else IMAGENET_MEAN))
        self.std.setText(_numbers(GREY_STD if grey else IMAGENET_STD))
        self.note.setText("ImageNet statistics" + (" (averaged over RGB for a grey model)" if grey else ""))

    def _set_preset(self, key: str) -> None:
        self.preset.blockSignals(True)
        self.preset.setCurrentIndex(self.preset.findData(key))
        self.preset.blockSignals(False)

    def _preset_chosen(self) -> None:
        key = self.preset.currentData()
        if key == "imagenet":
            self._imagenet()
        elif key == "data":
            self.note.setText("Computing the mean and std of the open folder's images…")
            self.statisticsRequested.emit()

    def _refresh(self) -> None:
        mode = self.mode.currentData()
        self.form.setRowVisible(self.size_row, mode != "shorter")
        self.form.setRowVisible(self.short_row, mode == "shorter")
        if mode == "shorter" and not self.crop_on.isChecked():
            self.crop_on.setChecked(True)  # a shorter-side resize needs a crop for a fixed input size
        self.crop_on.setEnabled(mode == "stretch")
        for spin in (self.crop_h, self.crop_w):
            spin.setEnabled(self.crop_on.isChecked() and mode != "letterbox")
        geometry = self.geometry()
        try:
            recipe.check_recipe(geometry["resize"], geometry["crop"], geometry["letterbox"], geometry["interpolation"])
        except ValueError as error:
            self.summary.setText(str(error))
        else:
            resize = recipe.as_resize(geometry["resize"])
            crop = None if geometry["crop"] is None else recipe.as_size(geometry["crop"])
            height, width = recipe.output_size(resize, crop, geometry["letterbox"])
            text = recipe.describe(resize, crop, geometry["letterbox"], geometry["interpolation"])
            self.summary.setText(f"<b>{height} × {width}</b>: {text}")
        self.changed.emit()


def _parse(text: str) -> list[float] | None:
    try:
        values = [float(part) for part in text.replace(";", ",").split(",") if part.strip()]
    except ValueError:
        return None
    return values or None
