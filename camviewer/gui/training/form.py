"""The training hyper-parameters: architecture and preprocessing, optimisation, splits.

:meth:`TrainingForm.config` builds the ``TrainConfig`` of a run (``camviewer.core.training.records`` is torch-free,
so the GUI thread never imports torch); the dataset and the run folder come from the panel. The form is
remembered between sessions as one JSON value in the settings.
"""

from __future__ import annotations

import contextlib
import json

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGroupBox,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from camviewer.core.training.records import TrainConfig
from camviewer.gui.common.reflow_form import ReflowForm

# Offered first; any other torchvision classification architecture, or timm:NAME, can be typed in.
ARCHITECTURES = {
    "tinyvgg_gap": "TinyVGG with global average pooling: small, trains in minutes on a CPU",
    "resnet18": "ResNet-18: a good first choice with a GPU (ImageNet weights available)",
    "resnet50": "ResNet-50",
    "densenet121": "DenseNet-121, as in CheXNet",
    "vgg16_gap": "VGG-16 with a global-average-pooling head (the CAM-ready variant)",
    "efficientnet_b0": "EfficientNet-B0",
    "mobilenet_v3_small": "MobileNet V3 small: fast on a CPU",
    "timm:vit_tiny_patch16_224": "ViT-Tiny from timm: a vision transformer (ImageNet weights through timm)",
    "timm:swin_tiny_patch4_window7_224": "Swin-T from timm: a windowed-attention transformer",
    "timm:convnext_atto": "ConvNeXt-Atto from timm: a small modern CNN",
}
ARCH_OPTIONS_HINT = {
    "tinyvgg_gap": '{"widths": [16, 32, 64]}',
    "vgg16_gap": '{"conv_width": 1024}',
    "timm:vit_tiny_patch16_224": '{"patch_size": 8, "depth": 6}',
}
NO_POSITIVE = ""
# The TrainConfig fields the form sets and remembers (the positive class belongs to a dataset, not to habits).
REMEMBERED = (
    *("arch", "arch_options", "input_size", "border_crop", "freeze", "pretrained", "grayscale"),
    *("epochs", "batch_size", "patience", "lr", "optimizer", "weight_decay", "balance"),
    *("val_split", "test_split", "augment", "seed", "device"),
)


class TrainingForm(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainingForm")
        self.arch = QComboBox(editable=True)
        self.arch.addItems(list(ARCHITECTURES))
        for row, tip in enumerate(ARCHITECTURES.values()):
            self.arch.setItemData(row, tip, Qt.ItemDataRole.ToolTipRole)
        self.arch.setToolTip("Architecture: pick one, or type any torchvision classification model name, or timm:NAME")
        self.arch.currentTextChanged.connect(self._arch_changed)
        self.arch_options = QLineEdit()
        self.arch_options.setToolTip(
            "Architecture options as JSON (blank: the defaults), e.g. TinyVGG's widths, or a timm model's arguments"
        )
        self.input_size = _auto(
            _spin(15, 2048, 15, " px", "Images are resized to this square size (training and inference)"),
            "auto: the architecture's own (64 px for TinyVGG, 224 px otherwise)",
        )
        self.pretrained = QCheckBox("ImageNet weights")
        self.pretrained.setToolTip(
            "Start from ImageNet weights (downloaded once, then cached); normalisation then uses ImageNet's statistics"
        )
        self.freeze = QLineEdit()
        self.freeze.setPlaceholderText("none")
        self.freeze.setToolTip(
            "Freeze a leading fraction of the parameters (e.g. 0.5) or every module up to a "
            "named one (e.g. layer3); blank: train everything"
        )
        self.border_crop = _double(
            0.0,
            0.45,
            0.0,
            0.01,
            "Fraction cut from each side before resizing (kept in the model card, so inference cuts it too)",
        )
        self.grayscale = QCheckBox("Grey (1 channel)")
        self.grayscale.setToolTip("Train a one-channel model (e.g. for X-rays)")
        self.epochs = _spin(1, 10_000, 30, "", "Maximum number of epochs")
        self.batch_size = _auto(
            _spin(0, 4096, 0, "", "Images per batch"),
            "auto: 8, 16 or 32, so that an epoch has at least 50 steps",
        )
        self.lr = _auto(
            _double(0.0, 1.0, 0.0, 1e-4, "Learning rate (peak: one epoch of warm-up, then a cosine decay)", decimals=6),
            "auto: Adam 3e-3 for TinyVGG, 1e-4 for VGG without batch normalisation, else 1e-3; a tenth to fine-tune",
        )
        self.balance = QCheckBox("Balance classes")
        self.balance.setChecked(True)
        self.balance.setToolTip(
            "Weigh each class in the loss by the inverse of its share of the training images, "
            "so that a rare class counts as much as a common one"
        )
        self.optimizer = QComboBox()
        self.optimizer.addItems(["adam", "sgd"])
        self.optimizer.setToolTip("adam, or sgd with momentum 0.9")
        self.weight_decay = _double(0.0, 1.0, 0.0, 1e-4, "L2 weight decay", decimals=5)
        self.patience = _spin(
            1,
            1000,
            5,
            "",
            "Early stopping: stop after this many epochs without a lower validation loss, "
            "counted once the validation accuracy has beaten chance",
        )
        self.augment = QComboBox()
        self.augment.addItems(["none", "light", "standard"])
        self.augment.setCurrentText("light")
        self.augment.setToolTip("Augmentation of training images (validation and test images are never augmented)")
        self.val_split = _double(
            0.0,
            0.9,
            0.2,
            0.05,
            "Share of the images held out for validation (ignored when the data has its own val folder or CSV split)",
        )
        self.test_split = _double(
            0.0, 0.9, 0.15, 0.05, "Share held out for a final test, evaluated once with the best checkpoint at the end"
        )
        self.seed = _spin(
            0, 2**31 - 1, 0, "", "Random seed: the same seed gives the same split and, on a CPU, the same weights"
        )
        self.device = QComboBox()
        self.device.addItems(["auto", "cpu", "cuda"])
        self.device.setToolTip("auto: the GPU when there is one")
        self.gpus = _spin(
            1,
            1,
            1,
            "",
            "Train on this many GPUs together, one process each (torchrun, DistributedDataParallel): the batch "
            "size is shared among them",
        )
        self.positive_class = QComboBox()
        self.positive_class.setToolTip(
            "Two classes: the class sensitivity and specificity are reported for (stored in the model card)"
        )
        self.set_classes([], None)
        self._layout()
        self.set_gpu_count(0)
        self._arch_changed(self.arch.currentText())

    def _layout(self) -> None:
        """Two groups of label-field pairs, in one column when the dock is narrow, more when it is wide."""
        model = ReflowForm(max_columns=2)
        for text, widget in (
            ("Architecture", self.arch),
            ("Options", self.arch_options),
            ("Input size", self.input_size),
            ("Border crop", self.border_crop),
            ("Freeze", self.freeze),
            ("Positive class", self.positive_class),
            (None, self.pretrained),
            (None, self.grayscale),
        ):
            model.add_row(text, widget)
        fit = ReflowForm(max_columns=3)
        for text, widget in (
            ("Epochs", self.epochs),
            ("Batch size", self.batch_size),
            ("Patience", self.patience),
            ("Learning rate", self.lr),
            ("Optimizer", self.optimizer),
            ("Weight decay", self.weight_decay),
            ("Validation", self.val_split),
            ("Test", self.test_split),
            ("Augment", self.augment),
            ("Seed", self.seed),
            ("Device", self.device),
            (None, self.balance),
        ):
            fit.add_row(text, widget)
        self.gpus_label = fit.add_row("GPUs", self.gpus)  # shown with more than one GPU
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for title, form in (("Model", model), ("Training", fit)):
            box = QGroupBox(title)
            inside = QVBoxLayout(box)
            inside.setContentsMargins(4, 4, 4, 4)
            inside.addWidget(form)
            layout.addWidget(box)

    def _arch_changed(self, arch: str) -> None:
        self.arch_options.setPlaceholderText(ARCH_OPTIONS_HINT.get(arch, "{}"))
        self.pretrained.setEnabled(arch not in ("tinyvgg", "tinyvgg_gap"))

    # ---------------------------------------------------------------------------------- values
    def set_gpu_count(self, count: int) -> None:
        """The GPUs this machine has: with more than one, how many to train on is offered (nothing changes else)."""
        self.gpus.setMaximum(max(1, count))
        for widget in (self.gpus, self.gpus_label):
            widget.setVisible(count > 1)

    def processes(self) -> int:
        """How many processes (GPUs) the run is spread over: 1 unless several GPUs were offered and chosen."""
        offered = self.gpus.maximum() > 1 and self.device.currentText() != "cpu"
        return self.gpus.value() if offered else 1

    def set_classes(self, names: list[str], positive: str | None) -> None:
        """The dataset's classes: a positive class is offered for two single-label classes."""
        self.positive_class.clear()
        self.positive_class.addItem("(none)" if len(names) == 2 else "(not applicable)", NO_POSITIVE)
        if len(names) == 2:
            for name in names:
                self.positive_class.addItem(name, name)
        self.positive_class.setCurrentIndex(max(0, self.positive_class.findData(positive or NO_POSITIVE)))
        self.positive_class.setEnabled(len(names) == 2)

    def config(self, data: str, out: str, command: str | None = None) -> TrainConfig:
        """The run's TrainConfig; raises ValueError with a message for the user when a field is not valid."""
        text = self.arch_options.text().strip()
        try:
            arch_options = json.loads(text) if text else {}
        except json.JSONDecodeError as error:
            raise ValueError(
                f"Architecture options are not valid JSON ({error.msg}); e.g. "
                f"{ARCH_OPTIONS_HINT.get(self.arch.currentText(), '{}')}"
            ) from None
        if not isinstance(arch_options, dict):
            raise ValueError('Architecture options must be a JSON object, e.g. {"widths": [16, 32]}')
        arch = self.arch.currentText().strip()
        if not arch:
            raise ValueError("Choose an architecture.")
        size = self.input_size.value()
        auto = self.input_size.minimum()
        return TrainConfig(
            data=data,
            out=out,
            command=command,
            arch=arch,
            arch_options=arch_options,
            epochs=self.epochs.value(),
            batch_size=self.batch_size.value() or None,
            lr=self.lr.value() or None,
            balance="loss-weights" if self.balance.isChecked() else "none",
            optimizer=self.optimizer.currentText(),
            weight_decay=self.weight_decay.value(),
            pretrained=self.pretrained.isChecked() and self.pretrained.isEnabled(),
            freeze=self.freeze.text().strip() or None,
            patience=self.patience.value(),
            val_split=self.val_split.value(),
            test_split=self.test_split.value(),
            augment=self.augment.currentText(),
            seed=self.seed.value(),
            device=self.device.currentText(),
            input_size=None if size == auto else (size, size),
            border_crop=self.border_crop.value(),
            grayscale=self.grayscale.isChecked(),
            positive_class=self.positive_class.currentData() or None,
        )

    def set_options(self, options: dict) -> None:
        """Fill the form from remembered values (JSON; unknown or bad values keep the current ones)."""
        setters = {
            "arch": self.arch.setCurrentText,
            "epochs": self.epochs.setValue,
            "batch_size": lambda value: self.batch_size.setValue(value or 0),
            "lr": lambda value: self.lr.setValue(value or 0.0),
            "optimizer": self.optimizer.setCurrentText,
            "weight_decay": self.weight_decay.setValue,
            "pretrained": self.pretrained.setChecked,
            "patience": self.patience.setValue,
            "val_split": self.val_split.setValue,
            "test_split": self.test_split.setValue,
            "augment": self.augment.setCurrentText,
            "seed": self.seed.setValue,
            "device": self.device.setCurrentText,
            "border_crop": self.border_crop.setValue,
            "grayscale": self.grayscale.setChecked,
            "balance": lambda value: self.balance.setChecked(value != "none"),
        }
        for key, setter in setters.items():
            if options.get(key) is not None:
                with contextlib.suppress(TypeError, ValueError, OverflowError):
                    setter(options[key])
        if isinstance(options.get("arch_options"), dict):
            self.arch_options.setText(json.dumps(options["arch_options"]) if options["arch_options"] else "")
        self.freeze.setText(str(options.get("freeze") or ""))
        size = options.get("input_size")
        if isinstance(size, (list, tuple)) and size:
            self.input_size.setValue(int(size[0]))
        elif "input_size" in options:
            self.input_size.setValue(self.input_size.minimum())

    def to_json(self) -> str:
        try:
            config = self.config("", "")
        except ValueError:
            return ""
        return json.dumps({name: getattr(config, name) for name in REMEMBERED})

    def from_json(self, text: str) -> None:
        try:
            values = json.loads(text) if text else {}
        except json.JSONDecodeError:
            return
        if isinstance(values, dict):
            self.set_options(values)


def _spin(low: int, high: int, value: int, suffix: str, tip: str) -> QSpinBox:
    spin = QSpinBox(minimum=low, maximum=high, value=value, suffix=suffix)
    spin.setToolTip(tip)
    return spin


def _auto(spin, tip: str):
    """The spin box's minimum reads "auto": the engine decides (camviewer.core.training.defaults)."""
    spin.setSpecialValueText("auto")
    spin.setToolTip(f"{spin.toolTip()}; {tip}")
    return spin


def _double(low: float, high: float, value: float, step: float, tip: str, decimals: int = 2) -> QDoubleSpinBox:
    spin = QDoubleSpinBox(minimum=low, maximum=high, decimals=decimals, singleStep=step)
    spin.setValue(value)
    spin.setToolTip(tip)
    return spin
