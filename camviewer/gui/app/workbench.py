"""Training, evaluation, trust and refinement in the main window: builds their panels and wires them.

The Training, Evaluation and Trust panels (pyqtgraph plots, forms: ~150 ms) are built when their dock is
first shown, not at start-up, so the window paints as soon as the viewer itself is ready.

The main window stays a composer: it creates one Workbench, gives it the right dock to sit beside and
its menu bar, and calls ``stop()`` when closing. Everything the features need from the viewer goes
through the window's existing paths:

    TrainingPanel.modelTrained ---------> window.open_model (as File > Open model), and the run's held-out
                                          images (test split, else validation) in the browser with their
                                          labels; the Evaluation panel is offered that split
    EvaluationPanel.cellChosen ---------> browser.show_paths (those images and their true class)
    TrustPanel.methodChosen ------------> cam_panel.set_method
    session image, ImageView.mapChanged -> TruthOverlay (outline in the image view, scores in the panel)
    session model ----------------------> evaluation, trust, refinement (the model they measure)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QWidget

from camviewer.gui.app.menus import build_workbench_actions, build_workbench_menus
from camviewer.gui.trust.truth_dialog import TruthDialog
from camviewer.gui.trust.truth_overlay import TruthOverlay
from camviewer.gui.trust.truth_panel import TruthPanel
from camviewer.gui.viewer import folder_tasks

if TYPE_CHECKING:
    from camviewer.gui.evaluation.panel import EvaluationPanel
    from camviewer.gui.training.panel import TrainingPanel
    from camviewer.gui.trust.panel import TrustPanel

DOCK_TITLES = {"training": "Training", "evaluation": "Evaluation", "trust": "Trust"}


class Workbench(QObject):
    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.actions = build_workbench_actions(window)
        self._panels: dict[str, QWidget] = {}  # built on first use
        self.truth_panel = TruthPanel(self.actions.load_truth, self.actions.show_truth)
        self.truth = TruthOverlay(window.registry, window.image_view, self.truth_panel, window.log, self)
        self.truth_status = QLabel("")  # the shown map's ground-truth scores, always visible
        self.truth_status.setObjectName("truthStatus")
        self.truth_status.setToolTip("Scores of the shown map against the ground truth (details: Model and CAM dock)")
        self.wizard = None  # RefineWizard, while open
        self.docks: dict[str, QDockWidget] = {}
        self._held_out: tuple[str, str] | None = None  # (data, split) offered to the Evaluation panel

    # ------------------------------------------------------------------------------- composing
    def add_docks(self, beside: QDockWidget) -> None:
        """Training, Evaluation and Trust as tabs next to ``beside`` (the model and CAM dock)."""
        for key, title in DOCK_TITLES.items():
            dock = QDockWidget(title, self.window)
            dock.setObjectName(f"{key}Dock")
            dock.visibilityChanged.connect(lambda visible, key=key: visible and self.panel(key))
            self.window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
            self.window.tabifyDockWidget(beside, dock)
            self.docks[key] = dock
        beside.raise_()

    def add_menus(self) -> None:
        build_workbench_menus(self.window, self.actions)
        self.window.statusBar().addPermanentWidget(self.truth_status)
        self._wire()

    @property
    def training(self) -> TrainingPanel:
        return self.panel("training")

    @property
    def evaluation(self) -> EvaluationPanel:
        return self.panel("evaluation")

    @property
    def trust(self) -> TrustPanel:
        return self.panel("trust")

    def panel(self, key: str) -> QWidget:
        """The panel of a dock, built (and given the viewer's model) the first time it is needed."""
        if key not in self._panels:
            w, ready = self.window, self.window.session.ready
            if key == "training":
                from camviewer.gui.training.panel import TrainingPanel

                panel = TrainingPanel(w.registry, w.settings, w.log)
                panel.modelTrained.connect(self._trained)
            elif key == "evaluation":
                from camviewer.gui.evaluation.panel import EvaluationPanel

                panel = EvaluationPanel(w.registry, w.settings, w.log)
                panel.cellChosen.connect(self._browse_cell)
                panel.trust_results = lambda model: self.trust.results_for(model) if "trust" in self._panels else None
            else:
                from camviewer.gui.trust.panel import TrustPanel

                panel = TrustPanel(w.registry, w.settings, w.log)
                panel.methodChosen.connect(w.cam_panel.set_method)
                if self.truth.source is not None:  # loaded before the dock was first opened
                    panel.use_loaded_truth(self.truth.source)
            self._panels[key] = panel
            self.docks[key].setWidget(panel)
            if ready is not None:
                self._give_model(key, ready)
            if key == "evaluation" and self._held_out is not None:
                panel.offer_held_out(*self._held_out)
        return self._panels[key]

    def _give_model(self, key: str, ready) -> None:
        if key in ("evaluation", "trust"):
            self._panels[key].set_model(ready.model)
        if key == "trust":  # the method on screen is ticked
            self._panels[key].set_methods(ready.methods, (self.window.cam_panel.compute.method,))

    def _wire(self) -> None:
        a, w = self.actions, self.window
        a.training.triggered.connect(lambda: self.show_dock("training"))
        a.resume.triggered.connect(lambda: (self.show_dock("training"), self.training.choose_run_to_resume()))
        a.evaluation.triggered.connect(lambda: self.show_dock("evaluation"))
        a.export_report.triggered.connect(lambda: (self.show_dock("evaluation"), self.evaluation.choose_html_report()))
        a.trust.triggered.connect(lambda: self.show_dock("trust"))
        a.load_truth.triggered.connect(self.choose_truth)
        a.show_truth.toggled.connect(self.truth.set_visible)
        self.truth.loaded.connect(lambda source: "trust" in self._panels and self.trust.use_loaded_truth(source))
        self.truth_panel.summaryChanged.connect(self.truth_status.setText)
        a.refine.triggered.connect(self.open_wizard)
        w.session.modelChanged.connect(self._model_changed)
        w.session.imageReady.connect(lambda frame: self.truth.image_changed(frame.path))
        w.session.viewFailed.connect(lambda failure: failure.stage == "image" and self.truth.image_changed(None))

    def show_dock(self, key: str) -> None:
        """In front of the right-hand tabs (the window's layout keeper gives it its width)."""
        dock = self.docks[key]
        dock.show()
        dock.raise_()

    def stop(self) -> None:
        """Closing: nothing started from here any more (no model loaded after a cancelled run)."""
        if "training" in self._panels:
            self.training.stop()
        if self.wizard is not None:
            self.wizard.stop()

    # ---------------------------------------------------------------------------------- events
    def _model_changed(self, ready) -> None:
        for key in self._panels:
            self._give_model(key, ready)

    def _browse_cell(self, paths: list, title: str, true_class: str = "") -> None:
        labels = {str(path): true_class for path in paths} if true_class else None
        self.window.browser.show_paths(paths, title, counted=False, labels=labels)
        self.window.status.say(f"Browsing {title}: select an image to see its heatmap")

    def _trained(self, checkpoint: str) -> None:
        """A run ended in the window: its model opens on the images it never trained on, not on whatever is shown."""
        self.window.open_model(checkpoint)
        self.window.registry.start(
            "Reading the run's held-out images",
            folder_tasks.held_out_images,
            checkpoint,
            background=True,
            returned=lambda held_out: self._show_held_out(checkpoint, held_out),
        )

    def _show_held_out(self, checkpoint: str, held_out: folder_tasks.HeldOut | None) -> None:
        if held_out is None:
            return
        run = Path(checkpoint).parent.name
        split = "test" if held_out.split == "test" else "validation"
        self.window.browser.show_paths(held_out.paths, f"{run}: {split} images (held out)", labels=held_out.labels)
        data = self._training_data()
        if data:
            self._held_out = (data, held_out.split)
            if "evaluation" in self._panels:
                self.evaluation.offer_held_out(data, held_out.split)

    def _training_data(self) -> str:
        if "training" in self._panels:
            return self.training.data.text()
        return self.window.settings.train_dataset

    # ------------------------------------------------------------------------------ ground truth
    def choose_truth(self) -> None:
        folder = self.window.browser.folder
        root = None
        if folder is not None:
            root = str(folder.parent if (folder.parent / "masks").is_dir() else folder)
        dialog = TruthDialog(root, self.window)
        dialog.accepted.connect(lambda: self.truth.load(**dialog.values()))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    # -------------------------------------------------------------------------------- refinement
    def open_wizard(self) -> None:
        from camviewer.gui.refine.wizard import RefineWizard

        ready = self.window.session.ready
        if ready is None or not ready.model.source or not Path(ready.model.source).is_file():
            self.window.status.say(
                "The refinement wizard fine-tunes a checkpoint: open one (Ctrl+M) or train one first.", error=True
            )
            return
        if self.wizard is not None:
            self.wizard.raise_()
            return
        self.wizard = RefineWizard(self.window.registry, self.window.settings, self.window.log, ready, self.window)
        self.wizard.modelChosen.connect(self.window.open_model)
        self.wizard.finished.connect(self._wizard_closed)
        self.wizard.show()

    def _wizard_closed(self) -> None:
        if self.wizard is not None:
            self.wizard.deleteLater()
            self.wizard = None
