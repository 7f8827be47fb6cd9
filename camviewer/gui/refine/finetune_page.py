"""Step 3 of the refinement wizard: fine-tune the current checkpoint on the enhanced set, with live curves.

The same engine call as ``camviewer train NEWDATA --init CHECKPOINT``: classes, preprocessing and
normalisation come from the checkpoint's card (a crop-mode set's border crop is picked up by the
engine). Cancelling keeps the best checkpoint so far; going Back while it runs cancels it and says so.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from camviewer.core.training.records import TrainConfig
from camviewer.gui.common.files import unused_folder
from camviewer.gui.common.log_panel import LogPanel
from camviewer.gui.common.path_field import PathField
from camviewer.gui.jobs.controls import JobControls
from camviewer.gui.jobs.registry import WorkerRegistry
from camviewer.gui.refine.state import RefineState
from camviewer.gui.training.curves import TrainingCurves
from camviewer.gui.training.progress_bar import TrainingProgressBar
from camviewer.gui.training.runner import TrainRunner


class FinetunePage(QWizardPage):
    def __init__(self, state: RefineState, registry: WorkerRegistry, log: LogPanel, dialog_parent: QWidget) -> None:
        super().__init__()
        self.state, self._log = state, log
        self.setTitle("3. Fine-tune from the current checkpoint")
        self.setSubTitle(
            "On the enhanced set, starting from the current weights; the epoch with the lowest validation loss is kept."
        )
        self.runner = TrainRunner(registry, dialog_parent)
        self.about = QLabel(wordWrap=True)
        self.epochs = QSpinBox(minimum=1, maximum=10_000, value=10)
        self.lr = QDoubleSpinBox(minimum=0.0, maximum=1.0, decimals=6, singleStep=1e-4, value=0.0)
        self.lr.setSpecialValueText("auto")
        self.lr.setToolTip("auto: a tenth of the architecture's rate for training from scratch (fine-tuning)")
        self.batch_size = QSpinBox(minimum=0, maximum=4096, value=0)
        self.batch_size.setSpecialValueText("auto")
        self.batch_size.setToolTip("auto: 8, 16 or 32, so that an epoch has at least 50 steps")
        self.run_dir = PathField("Choose a new run folder", placeholder="a new folder for the fine-tuning run")
        self.run_dir.chosen.connect(lambda _path: setattr(self, "_auto_run", False))  # typed or browsed
        self.controls = JobControls(
            self.runner, "Fine-tune", cancel_text="Cancel step", progress=TrainingProgressBar(), status_lines=2
        )
        self.controls.cancel_button.setToolTip("Stop after this batch; the best checkpoint so far is kept")
        self.progress = self.controls.progress
        self.curves = TrainingCurves()
        form = QFormLayout()
        numbers = QHBoxLayout()
        for text, widget in (("Epochs", self.epochs), ("Learning rate", self.lr), ("Batch size", self.batch_size)):
            numbers.addWidget(QLabel(text))
            numbers.addWidget(widget)
        numbers.addStretch(1)
        form.addRow(numbers)
        form.addRow("Run folder", self.run_dir)
        layout = QVBoxLayout(self)
        layout.addWidget(self.about)
        layout.addLayout(form)
        layout.addWidget(self.controls)
        layout.addWidget(self.curves, 1)
        self.controls.runClicked.connect(self.run)
        self.runner.batches.connect(self._batches)
        self.runner.epoch.connect(self.curves.add_epoch)
        self.runner.notice.connect(self._log.warning)
        self.runner.trained.connect(self._trained)
        self.runner.finished.connect(self._finished)
        self._auto_run = True
        self._left_by_back = False

    def initializePage(self) -> None:
        self.about.setText(f"From: {self.state.checkpoint}\nOn: {self.state.built} ({self.state.built_mode})")
        self._propose_run_dir()

    def _propose_run_dir(self) -> None:
        if self._auto_run and self.state.built:
            built = Path(self.state.built)
            self.run_dir.setText(str(unused_folder(built.parent, f"{built.name}-finetune")))

    def isComplete(self) -> bool:
        return (
            self.state.finetuned is not None
            and self.state.finetuned_on == self.state.built
            and not self.runner.running()
        )

    def running(self) -> bool:
        return self.runner.running()

    def run(self) -> None:
        out = self.run_dir.text()
        if not out or not self.state.built:
            return self._show("Choose a new run folder.", error=True)
        self.state.run_dir, self.state.finetuned, self.state.stop_reason = out, None, None
        self.state.finetuned_on = self.state.built
        self._left_by_back = False
        self.curves.clear(self.epochs.value())
        self.progress.begin(self.epochs.value())
        self._show("Decoding the enhanced set…")
        self._log.info(f"Refinement: fine-tuning {Path(self.state.checkpoint).name} on {self.state.built} into {out}")
        self.runner.train(
            TrainConfig(
                data=self.state.built,
                out=out,
                init=self.state.checkpoint,
                epochs=self.epochs.value(),
                lr=self.lr.value() or None,  # auto: the engine's defaults, as `camviewer train --init`
                batch_size=self.batch_size.value() or None,
                patience=max(3, self.epochs.value()),
                val_split=0.2,
                test_split=0.0,  # the wizard measures on its own held-out images
                seed=0,
                command="camviewer GUI: refinement wizard",
            )
        )
        self.completeChanged.emit()

    def cleanupPage(self) -> None:
        if self.runner.running():
            self._left_by_back = True
            self.runner.cancel()
            self._show("Cancelling (you went back)… the best checkpoint so far is kept.")

    def _batches(self, updates: list) -> None:
        self.curves.add_batches(updates)
        last = updates[-1]
        self._show(f"loss {last.loss:.4f}")

    def _trained(self, result) -> None:
        self.curves.flush()
        self.state.stop_reason = result.stop_reason
        self.state.finetuned = str(result.best_checkpoint) if result.best_checkpoint else None
        epochs = len(result.history)
        if result.stop_reason == "cancelled":
            kept = (
                f"the best checkpoint so far is kept: {result.best_checkpoint}. Next measures it, or fine-tune "
                "again into a new folder."
                if result.best_checkpoint
                else f"no checkpoint was saved; {result.run_dir} holds only the run's set-up."
            )
            text = f"Fine-tuning cancelled after {epochs} epoch(s){' (you went back)' if self._left_by_back else ''}: {kept}"
            self._log.warning(f"Refinement: {text}")
        else:
            best = (
                f"best epoch {result.best_epoch} (validation loss {result.best_val_loss:.4f})"
                if result.best_epoch is not None
                else "never validated"
            )
            text = (
                f"Fine-tuning {'completed' if result.stop_reason == 'completed' else 'stopped early'} after "
                f"{epochs} epoch(s): {best}."
            )
            self._log.info(f"Refinement: {text} {result.best_checkpoint}")
        self._show(text)

    def _finished(self) -> None:
        self._auto_run = True
        self._propose_run_dir()  # a folder that holds a run is never reused
        self.completeChanged.emit()

    def _show(self, text: str, error: bool = False) -> None:
        self.controls.say(text, error)
