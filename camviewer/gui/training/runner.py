"""A training or resumed run in a worker: the engine's events as signals, and the offline-weights question.

Used by the training panel and by the refinement wizard's fine-tuning page. The engine's generator
(``camviewer.core.training.loop.train`` / ``resume``) runs unchanged in the worker; its per-batch updates come
in chunks (see :func:`camviewer.gui.tasks.coalesce_batches`). When ImageNet weights cannot be had
(offline, nothing cached) the engine's message is shown once the worker has ended (a dialog inside the
worker's error handler would let its ``finished`` through first) and the run restarts from random
initialisation only if the user agrees (``allow_random_init``). Other failures come with what to do in
the window's words (camviewer.gui.common.remedies).

A run on several GPUs is ``camviewer train --nproc N`` (torchrun) in a subprocess, the same run as the command
line's, watched through the events its rank 0 writes (camviewer.commands.train.train_on_processes): the same
signals, the same Cancel (the processes stop at the same step and keep the best checkpoint).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from camviewer.core.errors import PretrainedWeightsUnavailable
from camviewer.core.jobs import Progress
from camviewer.core.training.records import EpochRecord, Notice, ResumeChanges, TrainConfig
from camviewer.gui.jobs.registry import WorkerRegistry
from camviewer.gui.jobs.runner import JobRunner
from camviewer.gui.training import tasks


class TrainRunner(QObject):
    started = Signal()
    summary = Signal(object)  # DatasetSummary, once the data is decoded and split
    notice = Signal(str)  # something the engine wants the user to read (a fallback, frozen layers)
    batches = Signal(list)  # [BatchUpdate]
    epoch = Signal(object)  # EpochRecord
    trained = Signal(object)  # TrainResult: completed, early-stopping or cancelled
    failed = Signal(str, object)  # the engine's message with what to do (in the log without it), the error
    finished = Signal()

    def __init__(self, registry: WorkerRegistry, dialog_parent: QWidget) -> None:
        super().__init__(dialog_parent)
        self._parent = dialog_parent
        self.runner = JobRunner(registry, self)
        self.runner.event.connect(self._event)
        self.runner.returned.connect(self.trained)
        self.runner.failed.connect(self._failed)
        self.runner.finished.connect(self._finished)
        self.runner.error_handler = self._hold_error
        self.config: TrainConfig | None = None  # the run being trained (None when resuming)
        self.run_dir: str | None = None
        self._error: BaseException | None = None  # the failed job's error, until it is reported
        self._offline: PretrainedWeightsUnavailable | None = None  # held back until the worker has ended
        self.closing = False  # the window is closing: nothing is asked or started any more

    def running(self) -> bool:
        return self.runner.running()

    def train(self, config: TrainConfig, processes: int = 1) -> bool:
        """Start a new run into ``config.out``; on ``processes`` GPUs (torchrun) when more than one."""
        if self.runner.running():
            return False
        self.config, self.run_dir = config, config.out
        self.started.emit()  # before the worker: the GUI redraws itself while it still has the CPU to itself
        label = f"Training {Path(self.run_dir).name}"
        if processes > 1:
            self.runner.start(label, tasks.train_on_gpus, self.config, processes)
        else:
            self.runner.start(label, tasks.train_model, self.config)
        return True

    def resume(self, run_dir: str, changes: ResumeChanges, processes: int = 1) -> bool:
        if self.runner.running():
            return False
        self.config, self.run_dir = None, str(run_dir)
        self.started.emit()
        label = f"Resuming {Path(run_dir).name}"
        if processes > 1:
            self.runner.start(label, tasks.resume_on_gpus, str(run_dir), changes, processes)
        else:
            self.runner.start(label, tasks.resume_training, str(run_dir), changes)
        return True

    def cancel(self) -> None:
        self.runner.cancel()

    def stop(self) -> None:
        """The window is closing: cancel, and start nothing afterwards."""
        self.closing = True
        self.runner.cancel()

    # ---------------------------------------------------------------------------------- private
    def _event(self, item: tasks.BatchChunk | Progress) -> None:
        if isinstance(item, tasks.BatchChunk):
            self.batches.emit(item.updates)
            return
        from camviewer.core.data.summary import DatasetSummary  # already imported by the worker: no cost

        payload = item.payload
        if isinstance(payload, EpochRecord):
            self.epoch.emit(payload)
        elif isinstance(payload, Notice):
            self.notice.emit(payload.text)
        elif isinstance(payload, DatasetSummary):
            self.summary.emit(payload)

    def _hold_error(self, error: BaseException) -> bool:
        """ImageNet weights unavailable: held back, to be asked about once the worker has ended (``_finished``).

        Any other error is reported as usual; it is kept so that ``failed`` can say what to do about it.
        """
        if isinstance(error, PretrainedWeightsUnavailable) and self.config and not self.config.allow_random_init:
            self._offline = error
            return True
        self._error = error
        return False

    def _failed(self, message: str, _details: str) -> None:
        error, self._error = self._error, None
        self.failed.emit(message, error)  # the message already says what to do (describe_error)

    def _finished(self) -> None:
        error, self._offline = self._offline, None
        if error is not None and not self.closing:
            cached = error.cached_path
            copy = f"To use them, copy {cached.name} into {cached.parent} and start again.\n\n" if cached else ""
            answer = QMessageBox.question(
                self._parent,
                "ImageNet weights unavailable",
                f"{error}.\n\n{copy}Continue from random initialisation instead? The model card will say so. "
                "(With no, nothing is trained.)",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer == QMessageBox.StandardButton.Yes and not self.closing:
                # the run folder is still empty: the engine refused before writing anything
                self.config = replace(self.config, allow_random_init=True)
                self.notice.emit(f"{error} — continuing from random initialisation, as agreed.")
                self.runner.start(f"Training {Path(self.run_dir).name}", tasks.train_model, self.config)
                return
            self._error = error
            self.runner.report(error, f"Training {Path(self.run_dir).name}")
        self.finished.emit()
