"""The comparison slot: a second checkpoint explained on the same image as the viewer's model, side by side.

    File > Open comparison model --> ModelLoader (its own: same questions for a bare state_dict) --> ViewerSession B
    the viewer's image (already decoded) and CAM options --> session B --> ``explained`` (its maps and prediction)

Session B explains with the viewer's method; its class is the viewer's when the second model has one of
that name (else its own prediction), and its layer the automatic one unless the viewer's layer exists in
both. Before/after fine-tuning is the core question of the refinement cycle: this answers it image by image.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from camviewer.gui.common.settings import Settings
from camviewer.gui.jobs.registry import WorkerRegistry
from camviewer.gui.viewer import tasks
from camviewer.gui.viewer.model_loader import ModelLoader
from camviewer.gui.viewer.session import ViewerSession
from camviewer.gui.viewer.state import PREDICTED, ComputeOptions


class ComparisonSlot(QObject):
    changed = Signal(object)  # tasks.ModelReady of the comparison model, or None once closed
    explained = Signal(object)  # ExplainResult of the comparison model for the viewer's current image
    failed = Signal(str, str)  # message, details

    def __init__(self, registry: WorkerRegistry, dialog_parent: QWidget, settings: Settings, folder_images) -> None:
        super().__init__(dialog_parent)
        self.loader = ModelLoader(registry, dialog_parent, settings, folder_images)  # the same questions, remembered
        self.session = ViewerSession(registry, self)
        self._options = ComputeOptions()
        self.loader.loaded.connect(self._loaded)
        self.loader.failed.connect(self.failed)
        self.session.explained.connect(lambda result, _seconds: self.explained.emit(result))
        self.session.viewFailed.connect(lambda failure: self.failed.emit(failure.message, ""))

    @property
    def ready(self) -> tasks.ModelReady | None:
        return self.session.ready

    @property
    def result(self):
        return self.session.result

    def open(self, path: str | Path, ask: bool = False) -> None:
        """``ask``: chosen by hand, so the checkpoint dialog confirms what was entered for it last time."""
        self.loader.open(path, ask=ask)

    def close(self) -> None:
        self.session.show_image(None)  # supersedes anything in flight
        self.session.ready, self.session.result = None, None
        self.changed.emit(None)

    def show_frame(self, frame: tasks.ImageFrame | None) -> None:
        if self.ready is None:
            return
        if frame is None:
            self.session.show_image(None)
        else:
            self.session.show_frame(frame)

    def set_options(self, options: ComputeOptions) -> None:
        """The viewer's options, as far as they apply to the second model."""
        self._options = options
        if self.ready is not None:
            self.session.set_options(self._adapted(options))

    def stop(self) -> None:
        self.session.stop()

    def _loaded(self, ready: tasks.ModelReady) -> None:
        self.session.options = self._adapted(self._options, ready)
        self.session.set_model(ready)
        self.changed.emit(ready)

    def _adapted(self, options: ComputeOptions, ready: tasks.ModelReady | None = None) -> ComputeOptions:
        ready = ready or self.ready
        names = ready.model.card.class_names
        layers = {layer.name for layer in ready.layers}
        return replace(
            options,
            target=options.target if options.target in names else PREDICTED,
            layer=options.layer if options.layer in layers else None,
            compare="off",
        )
