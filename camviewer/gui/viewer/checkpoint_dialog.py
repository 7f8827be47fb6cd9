"""Asks what a bare state_dict is: architecture, classes and the preprocessing it was trained with,
pre-filled with what was inferred (or what the user entered last time); optionally saves it as a
camviewer checkpoint so that the next open asks nothing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from camviewer.gui.viewer.recipe_form import RecipeForm
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
        previous: LoadOptions | None = None,
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
        self.head = QComboBox()
        for key, text in HEADS.items():
            self.head.addItem(text, key)
        self.recipe = RecipeForm(inferred.channels if inferred else 3, inferred.input_size if inferred else None)
        self.save = QCheckBox("Save as a camviewer checkpoint (weights + this description), so it opens directly")
        self.save_path = QLineEdit(_free_name(Path(path)))
        self.save_path.setToolTip("Written next to the original; nothing is overwritten")
        self.save_path.setEnabled(False)
        self.save.toggled.connect(self.save_path.setEnabled)
        if previous is not None:
            self._restore(previous)
        self.arch.currentTextChanged.connect(self._arch_changed)
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
        form = QFormLayout()
        form.addRow("Architecture", self.arch)
        form.addRow("Number of classes", self.num_classes)
        form.addRow("Class names", self.class_names)
        form.addRow("Output", self.head)
        layout = QVBoxLayout(self)
        for widget in (intro, note):
            layout.addWidget(widget)
        layout.addLayout(form)
        layout.addWidget(QLabel("<b>Preprocessing</b>: as in the training script (torchvision transforms)"))
        layout.addWidget(self.recipe)
        layout.addWidget(self.save)
        layout.addWidget(self.save_path)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(520)

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
        if self.save.isChecked():
            target = Path(self.save_path.text().strip())
            if target.suffix != ".safetensors":
                return "A camviewer checkpoint is a .safetensors file."
            if target.exists():
                return f"{target.name} already exists; choose another name (nothing is overwritten)."
        return self.recipe.problem()

    def options(self) -> LoadOptions:
        return LoadOptions(
            arch=self.arch.currentText().strip(),
            num_classes=self.num_classes.value(),
            class_names=self.names(),
            multi_label=None if self.head.currentData() is None else self.head.currentData() == "sigmoid",
            **self.recipe.values(),
        )

    def saved_path(self) -> str | None:
        """Where to write the camviewer checkpoint, if the user asked for one."""
        return self.save_path.text().strip() if self.save.isChecked() else None

    def _restore(self, previous: LoadOptions) -> None:
        self.arch.setCurrentText(previous.arch)
        self.num_classes.setValue(previous.num_classes)
        if previous.class_names:
            self.class_names.setText(", ".join(previous.class_names))
        head = previous.multi_label
        self.head.setCurrentIndex(self.head.findData(None if head is None else "sigmoid" if head else "softmax"))
        self.recipe.set_values(previous.recipe, previous.mean, previous.std, previous.grayscale)

    def _arch_changed(self, arch: str) -> None:
        """A timm model chosen: the preprocessing of timm's own data config for it."""
        if arch.startswith("timm:") and self.arch.findText(arch) >= 0:
            from camviewer.gui.viewer.tasks import timm_preprocessing

            recipe = timm_preprocessing(arch)  # a table lookup: timm is loaded by now (it listed the names)
            self.recipe.set_values(recipe, recipe["mean"], recipe["std"], grayscale=False)

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


def _free_name(original: Path) -> str:
    """``name.safetensors`` beside the original (``name-2.safetensors``... if taken): never an existing file."""
    name = original.name
    for suffix in (".pth.tar", ".safetensors", ".pth", ".pt", ".tar", ".bin", ".ckpt"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    candidate, number = original.with_name(f"{name}.safetensors"), 1
    while candidate.exists():
        number += 1
        candidate = original.with_name(f"{name}-{number}.safetensors")
    return str(candidate)
