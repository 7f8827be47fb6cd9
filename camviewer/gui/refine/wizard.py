"""The CAM-guided refinement cycle (seed 002), measured rather than eyeballed, as a five-step wizard:

    1. measure the current model on held-out images with ground truth   (evaluate + localize)
    2. build an enhanced training set                                   (refine: cam-overlay, roi-mask, crop)
    3. fine-tune from the current checkpoint on it, with live curves     (train --init)
    4. measure the fine-tuned model on the same images                   (evaluate + localize)
    5. before/after table and the same images' maps side by side

Each long step runs in a worker with progress and Cancel (the engine's own generators, as the CLI's
``evaluate``, ``localize``, ``refine`` and ``train`` commands run them). The wizard is not modal: the
viewer stays usable. Leaving it — Cancel, Escape, closing, or Back during a step — cancels what runs,
waits for it to stop, and logs what is left on disk (enhanced sets, complete or not; run folders).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget, QWizard

from camviewer.gui.common.log_panel import LogPanel
from camviewer.gui.common.settings import Settings
from camviewer.gui.jobs.registry import WorkerRegistry
from camviewer.gui.refine.build_page import BuildPage
from camviewer.gui.refine.compare_page import ComparePage
from camviewer.gui.refine.finetune_page import FinetunePage
from camviewer.gui.refine.measure_page import MeasurePage
from camviewer.gui.refine.state import RefineState


class RefineWizard(QWizard):
    modelChosen = Signal(str)  # the fine-tuned checkpoint, to open in the viewer on Finish

    def __init__(self, registry: WorkerRegistry, settings: Settings, log: LogPanel, ready, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("refineWizard")
        self.setWindowTitle("CAM-guided refinement")
        self._settings, self._log = settings, log
        card = ready.model.card
        method = settings.method if settings.method in ready.methods else "gradcam"
        self.state = RefineState(
            str(ready.model.source), list(card.class_names), card.positive_class, tuple(ready.methods), method=method
        )
        measure = settings.refine_dataset or settings.trust_dataset or settings.eval_dataset
        noted = (card.notes.get("training") or {}).get("data") if isinstance(card.notes, dict) else None
        train = noted if noted and Path(noted).is_dir() else ""
        self.measure_page = MeasurePage(self.state, registry, log, ready.model, after=False, default_data=measure)
        self.build_page = BuildPage(self.state, registry, log, ready.model, train)
        self.finetune_page = FinetunePage(self.state, registry, log, self)
        self.after_page = MeasurePage(self.state, registry, log, None, after=True)
        self.compare_page = ComparePage(self.state)
        from camviewer.core.overlay import colormap_lut  # the engine is loaded: a model is open

        self.compare_page.set_colormap(colormap_lut(settings.colormap if settings.colormap else "jet"))
        for page in self.steps():
            self.addPage(page)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage)
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.resize(820, 680)
        self._closing = False
        self._stopped = False
        log.info(f"Refinement wizard opened for {self.state.checkpoint}")

    def steps(self) -> list:
        return [self.measure_page, self.build_page, self.finetune_page, self.after_page, self.compare_page]

    def running_steps(self) -> list:
        return [page for page in self.steps()[:4] if page.running()]

    # ---------------------------------------------------------------------------------- leaving
    def reject(self) -> None:
        """Cancel, Escape or the close button: stop what runs first, then close and say what is on disk."""
        busy = self.running_steps()
        if busy:
            if not self._closing:
                self._closing = True
                self.setWindowTitle("CAM-guided refinement — cancelling…")
                for page in busy:
                    page.runner.finished.connect(self._close_when_idle)
                    page.runner.cancel()
            return
        self._report("cancelled")
        super().reject()

    def _close_when_idle(self) -> None:
        if not self.running_steps():
            self.reject()

    def accept(self) -> None:
        self._report("finished")
        offered = self.compare_page.load_box.isEnabled() and self.compare_page.load_box.isChecked()
        if offered and self.state.finetuned and not self._stopped:
            self.modelChosen.emit(self.state.finetuned)
        super().accept()

    def stop(self) -> None:
        """The main window is closing: cancel the running step; nothing is loaded afterwards."""
        self._stopped = True
        for page in self.running_steps():
            page.runner.cancel()

    def _report(self, how: str) -> None:
        if self.state.measure_data:
            self._settings.refine_dataset = self.state.measure_data
        lines = self.state.leftovers()
        if lines:
            self._log.info(f"Refinement wizard {how}. On disk:\n  " + "\n  ".join(lines))
        else:
            self._log.info(f"Refinement wizard {how}; nothing was written.")
