"""Asks what a bare state_dict is: architecture, classes and input size, pre-filled with what was inferred."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from camviewer.gui.viewer.tasks import LoadOptions

if TYPE_CHECKING:
    from camviewer.core.model.inference import InferredArchitecture

HEADS = {
    None: "As the weights say (softmax unless a sigmoid head is stored)",
    "softmax": "One class per image (softmax)",
    "sigmoid": "Several labels per image (sigmoid)",
}


class CheckpointDialog(QDialog):
    """``options()`` gives what ``load_model`` needs to know once the user accepts."""

    def __init__(
        self,
        path: str,
        inferred: InferredArchitecture | None,
        problem: str | None,
        num_tensors: int,
        architectures: list[str],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("checkpointDialog")
        self.setWindowTitle("Describe this checkpoint")
        self.arch = QComboBox(editable=True)
        self.arch.addItems(architectures)
        self.arch.completer().setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.arch.setCurrentText(inferred.arch if inferred else "resnet18")
        self.arch.setToolTip("The network the weights were trained with")
        self.num_classes = QSpinBox(minimum=1, maximum=100_000, value=int(inferred.num_classes if inferred else 2))
        self.class_names = QLineEdit(placeholderText="comma-separated, e.g. normal, pneumonia (optional)")
        self.class_names.setToolTip("Leave empty to call them class_0, class_1, ...")
        size = (inferred.input_size if inferred else None) or (224, 224)
        self.height = QSpinBox(minimum=8, maximum=4096, value=int(size[0]), suffix=" px")
        self.width = QSpinBox(minimum=8, maximum=4096, value=int(size[1]), suffix=" px")
        self.head = QComboBox()
        for key, text in HEADS.items():
            self.head.addItem(text, key)
        self.error = QLabel(wordWrap=True, styleSheet="color: #b00020")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Load")
        self.buttons.accepted.connect(self._accept_if_valid)
        self.buttons.rejected.connect(self.reject)
        self._layout(path, inferred, problem, num_tensors)

    def _layout(self, path: str, inferred: InferredArchitecture | None, problem: str | None, num_tensors: int) -> None:
        intro = QLabel(
            f"<b>{Path(path).name}</b> holds {num_tensors} weight tensors but no model card. "
            "Say what they are; fields are pre-filled with what could be inferred from the weights.",
            wordWrap=True,
        )
        if inferred is None:
            note = QLabel(
                f"Could not infer the architecture: {problem}. Choose it below.",
                wordWrap=True,
                styleSheet="color: #a15c00",
            )
        else:
            note = QLabel(
                f"Inferred from the weights: {inferred.arch}, "
                f"{inferred.num_classes} classes, {inferred.channels} channel(s).",
                wordWrap=True,
                styleSheet="color: #2e7d32",
            )
        size_row = QHBoxLayout()
        size_row.addWidget(self.height)
        size_row.addWidget(QLabel("×"))
        size_row.addWidget(self.width)
        size_row.addStretch(1)
        form = QFormLayout()
        form.addRow("Architecture", self.arch)
        form.addRow("Number of classes", self.num_classes)
        form.addRow("Class names", self.class_names)
        form.addRow("Input size (h × w)", size_row)
        form.addRow("Output", self.head)
        layout = QVBoxLayout(self)
        for widget in (intro, note):
            layout.addWidget(widget)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(480)

    def names(self) -> list[str] | None:
        names = [name.strip() for name in self.class_names.text().split(",") if name.strip()]
        return names or None

    def problem(self) -> str | None:
        names = self.names()
        if not self.arch.currentText().strip():
            return "Choose an architecture."
        if names is not None and len(names) != self.num_classes.value():
            return f"{len(names)} class names for {self.num_classes.value()} classes."
        if names is not None and len(set(names)) != len(names):
            return "Class names must be different from each other."
        return None

    def options(self) -> LoadOptions:
        return LoadOptions(
            arch=self.arch.currentText().strip(),
            num_classes=self.num_classes.value(),
            class_names=self.names(),
            input_size=(self.height.value(), self.width.value()),
            multi_label=None if self.head.currentData() is None else self.head.currentData() == "sigmoid",
        )

    def _accept_if_valid(self) -> None:
        problem = self.problem()
        self.error.setText(problem or "")
        if problem is None:
            self.accept()

    def keyPressEvent(self, event) -> None:  # Escape closes, Enter validates (default QDialog behaviour)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._accept_if_valid()
            return
        super().keyPressEvent(event)
