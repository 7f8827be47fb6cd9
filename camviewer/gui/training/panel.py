"""The Training dock: choose a dataset, set the hyper-parameters, train with live curves, cancel, resume.

    dataset folder --scan (worker)--> DatasetPreview
    Start  --> TrainRunner (worker: camviewer.core.training.loop.train) --> curves, progress + ETA, log
    end    --> ``modelTrained(best checkpoint)``: the window opens it like File > Open model

A run folder is never reused: the engine refuses one that holds a run, and the panel says so plainly
(with the way out: a new folder, or Resume… to continue that run). A new folder name is proposed for
every run. The dataset, the folder where runs go and the hyper-parameters are remembered.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QGroupBox,
    QInputDialog,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from camviewer.core.errors import RunFolderInUse
from camviewer.core.training.records import ResumeChanges
from camviewer.gui.common.files import unused_folder
from camviewer.gui.common.log_panel import LogPanel
from camviewer.gui.common.partitions import PartitionPermissions
from camviewer.gui.common.path_field import PathField
from camviewer.gui.common.settings import Settings
from camviewer.gui.jobs.controls import JobControls
from camviewer.gui.jobs.latest import Latest
from camviewer.gui.jobs.registry import WorkerRegistry, describe_error
from camviewer.gui.training import tasks
from camviewer.gui.training.curves import TrainingCurves
from camviewer.gui.training.dataset_preview import DatasetPreview
from camviewer.gui.training.form import TrainingForm
from camviewer.gui.training.progress_bar import STOP_REASONS, TrainingProgressBar, metric_line
from camviewer.gui.training.runner import TrainRunner


class TrainingPanel(QWidget):
    modelTrained = Signal(str)  # the best checkpoint of a finished (or cancelled) run

    def __init__(
        self, registry: WorkerRegistry, settings: Settings, log: LogPanel, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("trainingPanel")
        self._registry, self._settings, self._log = registry, settings, log
        self.runner = TrainRunner(registry, self)
        self.data = PathField(
            "Choose a training set",
            placeholder="dataset folder or CSV (path,label[,split])",
            tooltip="One sub-folder per class, {train,val,test}/<class> folders, or a CSV",
        )
        self.preview = DatasetPreview()
        self.form = TrainingForm()
        self.run_dir = PathField(
            "Choose a new run folder",
            placeholder="a new folder for this run",
            tooltip="config.json, split.csv, history.csv, best.safetensors and last.pt go here; "
            "a folder that holds a run is never reused",
        )
        self.controls = JobControls(
            self.runner,
            "Start training",
            progress=TrainingProgressBar(),
            status_lines=3,
            bar_below=True,
            report_failures=False,  # worded by _failed, with the way out
            cancelling_text="Cancelling after this batch… the best checkpoint so far is kept.",
        )
        self.controls.run_button.setToolTip("Train a new model into the run folder")
        self.controls.cancel_button.setToolTip(
            "Stop after the current batch; the best checkpoint so far is kept and loaded"
        )
        self.resume_button = QPushButton("Resume…")
        self.resume_button.setToolTip("Continue a run folder where it stopped (same split, optimizer and RNG state)")
        self.controls.add_button(self.resume_button)
        self.status, self.progress = self.controls.status, self.controls.progress
        self.status.setObjectName("trainingStatus")
        self.progress.setFormat("")
        self.curves = TrainingCurves()
        self._layout()
        self._connect()
        self._scans = Latest()  # a newer dataset supersedes an older scan
        self._partitions = PartitionPermissions(self)  # CSVs naming files elsewhere: asked when scanned
        self._last_preview: tasks.DatasetPreview | None = None
        self._auto_run_dir = True
        self._closing = False
        self._epochs = 0
        self._stack_imported = False  # the training code is imported once a dataset has been previewed
        # Two threads importing torchvision at once can see it half-initialised: Start waits for that import.
        self._stack_importing = False
        self._start_when_ready = False
        self._scanned = False  # the remembered dataset is scanned when the panel is first shown (not at start-up)
        self.form.from_json(settings.train_options)
        self.data.set_path(settings.train_dataset, announce=False)
        self.propose_run_dir()

    def _layout(self) -> None:
        """The settings take the panel until a run starts; then the curves get most of it (a splitter between)."""
        data_box = QGroupBox("Data")
        data_layout = QVBoxLayout(data_box)
        data_layout.addWidget(self.data)
        data_layout.addWidget(self.preview)
        run_box = QGroupBox("Run folder")
        run_layout = QVBoxLayout(run_box)
        run_layout.addWidget(self.run_dir)
        settings = QWidget()
        column = QVBoxLayout(settings)
        column.setContentsMargins(4, 4, 4, 4)
        for widget in (data_box, self.form, run_box):
            column.addWidget(widget)
        column.addStretch(1)
        scroll = QScrollArea(widgetResizable=True)
        scroll.setWidget(settings)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # the form reflows instead
        live = QWidget()
        live_layout = QVBoxLayout(live)
        live_layout.setContentsMargins(4, 4, 4, 4)
        live_layout.addWidget(self.controls)
        live_layout.addWidget(self.curves, 1)
        self.splitter = QSplitter(Qt.Orientation.Vertical, childrenCollapsible=False)
        self.splitter.addWidget(scroll)
        self.splitter.addWidget(live)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setSizes([10_000, 1])  # until a run starts, the buttons only: the form gets the rest
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)

    def show_curves(self, share: float = 0.6) -> None:
        """The curves take ``share`` of the height: a little once a dataset is chosen (the plots are laid out
        then, not when Start is pressed and the run competes for the CPU), most of it while a run goes."""
        if not self.curves.plots_shown():
            self.curves.show_plots()
            self.splitter.setStretchFactor(1, 1)
        total = sum(self.splitter.sizes())
        if self.splitter.sizes()[1] < round(total * share):
            self.splitter.setSizes([total - round(total * share), round(total * share)])

    def _connect(self) -> None:
        self.data.chosen.connect(self.scan)
        self.form.val_split.valueChanged.connect(self._show_preview)
        self.form.test_split.valueChanged.connect(self._show_preview)
        self.run_dir.chosen.connect(lambda _path: setattr(self, "_auto_run_dir", False))  # typed or browsed
        self.form.arch.currentTextChanged.connect(lambda _arch: self.propose_run_dir(only_if_auto=True))
        self.controls.runClicked.connect(self.start)
        self.controls.runningChanged.connect(self._set_running)
        self.resume_button.clicked.connect(self.choose_run_to_resume)
        r = self.runner
        r.summary.connect(self._summary)
        r.notice.connect(self._notice)
        r.batches.connect(self._batches)
        r.epoch.connect(self._epoch)
        r.trained.connect(self._trained)
        r.failed.connect(self._failed)

    # ------------------------------------------------------------------------------------- data
    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._scanned and self.data.text():
            self.scan(self.data.text())

    def scan(self, data: str) -> None:
        """Index the dataset in a worker (no pixel decoded) and show its classes and counts."""
        self._scanned = True
        ticket = self._scans.next()
        self.propose_run_dir(only_if_auto=True)
        if not data:
            self.preview.show_message("Choose a dataset folder.")
            return
        self.preview.show_message(f"Reading {Path(data).name}…")
        self._registry.start(
            f"Reading {Path(data).name}",
            tasks.preview_dataset,
            data,
            self._partitions.allowed(data),
            background=True,
            returned=lambda preview: self._previewed(ticket, preview),
            errored=self._scans.if_current(ticket, self._partitions.asking(data, self.scan, self._scan_failed)),
        )

    def _previewed(self, ticket: int, preview: tasks.DatasetPreview) -> None:
        if not self._stack_imported:
            self._stack_imported = True
            self._stack_importing = True
            self._registry.start(
                "Preparing the training code",
                tasks.import_training_stack,
                background=True,
                returned=self.form.set_gpu_count,  # how many GPUs a run may use
                finished=self._stack_ready,
            )
        if self._scans.is_current(ticket):
            self._last_preview = preview
            self._show_preview()
            self.show_curves(share=0.3)
            self.form.set_classes(preview.class_names, preview.positive_class)

    def _show_preview(self) -> None:
        if self._last_preview is not None:
            self.preview.show_preview(self._last_preview, self.form.val_split.value(), self.form.test_split.value())

    def _scan_failed(self, data: str, error: BaseException) -> None:
        self._last_preview = None
        self.preview.show_message(describe_error(f"Reading {data}", error)[0], error=True)
        self.form.set_classes([], None)

    def propose_run_dir(self, only_if_auto: bool = False) -> None:
        """A new, unused folder name under the folder where runs went last (or ~/camviewer-runs)."""
        if only_if_auto and not self._auto_run_dir:
            return
        parent = Path(self._settings.train_runs_dir or Path.home() / "camviewer-runs")
        data = Path(self.data.text()).stem or "run"
        stem = f"{data}-{self.form.arch.currentText() or 'model'}-{time.strftime('%Y%m%d-%H%M%S')}"
        self.run_dir.setText(str(unused_folder(parent, stem)))
        self._auto_run_dir = True

    def _stack_ready(self) -> None:
        self._stack_importing = False
        if self._start_when_ready:
            self._start_when_ready = False
            self.start()

    # -------------------------------------------------------------------------------- training
    def start(self) -> None:
        if self._stack_importing:
            self._start_when_ready = True
            return self.status.say("Preparing the training code… training starts in a moment.")
        data, out = self.data.text(), self.run_dir.text()
        if not data:
            return self.status.say("Choose a dataset folder first.", error=True)
        if not out:
            return self.status.say("Choose a run folder (a new folder).", error=True)
        try:
            config = self.form.config(data, str(Path(out).expanduser()), command="camviewer GUI: Training panel")
        except ValueError as error:
            return self.status.say(str(error), error=True)
        self._settings.train_dataset = data
        self._settings.train_runs_dir = str(Path(out).expanduser().parent)
        self._settings.train_options = self.form.to_json()
        self.curves.clear(config.epochs)
        self._epochs = config.epochs
        processes = self.form.processes()
        where = f" on {processes} GPUs" if processes > 1 else ""
        self._log.info(f"Training {config.arch} on {data} into {out}{where} ({config.epochs} epochs at most)")
        self.runner.train(replace(config, allow_outside=self._partitions.allowed(data)), processes)

    def choose_run_to_resume(self) -> None:
        if self.runner.running():
            return self.status.say("A run is in progress: cancel it first, or wait for it to end.", error=True)
        start = self._settings.train_runs_dir or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Resume a run folder", start)
        if folder:
            self.resume(folder)

    def resume(self, run_dir: str, epochs: int | None = None) -> None:
        """Read the run's state (worker), ask how far to go unless ``epochs`` is given, then continue it."""
        self.status.say(f"Reading {Path(run_dir).name}…")
        self._registry.start(
            f"Reading {Path(run_dir).name}",
            tasks.read_run,
            str(run_dir),
            background=True,
            returned=lambda info: self._resume_read(info, epochs),
            errored=lambda error: self.status.say(describe_error(f"Resuming {run_dir}", error)[0], error=True),
        )

    def _resume_read(self, info: tasks.RunInfo, epochs: int | None) -> None:
        if self.runner.running():  # Start was pressed while the run folder was being read
            return self.status.say(f"A run is in progress: {Path(info.run_dir).name} was not resumed.", error=True)
        done, planned = len(info.history), info.config.epochs
        if epochs is None:
            proposed = planned if planned > done else done + self.form.epochs.value()
            epochs, accepted = QInputDialog.getInt(
                self,
                "Resume training",
                f"{Path(info.run_dir).name} has trained {done} of {planned} epochs.\n"
                "Train up to how many epochs in total?",
                proposed,
                done + 1,
                100_000,
            )
            if not accepted:
                self.status.say("")
                return
        changes = ResumeChanges(epochs=int(epochs))
        patience = info.config.patience
        if info.stale_epochs >= patience:
            changes = replace(changes, patience=info.stale_epochs + patience)
            self._log.info(f"{info.run_dir} had stopped early; patience raised to {changes.patience} epochs")
        self.curves.set_history(info.history, int(epochs))
        self._epochs = int(epochs)
        self.run_dir.setText(info.run_dir)
        self._auto_run_dir = False
        self._log.info(f"Resuming {info.run_dir} at epoch {done + 1} (up to {epochs})")
        self.runner.resume(info.run_dir, changes, self.form.processes())

    def stop(self) -> None:
        """Closing: a run cancelled by closing is not loaded into the viewer any more."""
        self._closing = True
        self.runner.stop()

    def running(self) -> bool:
        """A run is in progress, or asked for and waiting for the training code to be imported."""
        return self.runner.running() or self._start_when_ready

    def preparing(self) -> bool:
        """The training code is being imported (a Start now begins once it is)."""
        return self._stack_importing

    # ------------------------------------------------------------------------------ run events
    def _set_running(self, running: bool) -> None:
        for widget in (self.resume_button, self.data, self.form, self.run_dir):
            widget.setEnabled(not running)
        if running:
            self.show_curves()
            self.progress.begin(self._epochs)
            self.status.say("Decoding and checking every image…")
            self.curves.flush()
            if self.isVisible():  # now, before the worker competes for the CPU and the GIL
                self.curves.paint_now()
                self.repaint()  # the greyed-out form, the busy bar and the status
        else:
            self.curves.flush()

    def _summary(self, summary) -> None:
        self.preview.show_summary(summary)
        self._log.info(
            f"Training set: {summary.source} — "
            + ", ".join(
                f"{split} {sum(counts.values()):,}" for split, counts in summary.counts.items() if sum(counts.values())
            )
            + (f"; skipped {len(summary.skipped)} unreadable file(s)" if summary.skipped else "")
        )

    def _notice(self, text: str) -> None:
        self._log.warning(text)
        self.status.say(text)

    def _batches(self, updates: list) -> None:
        self.curves.add_batches(updates)
        last = updates[-1]
        self.status.say(f"loss {last.loss:.4f} · {last.images_per_second:,.0f} images/s")

    def _epoch(self, record) -> None:
        self.curves.add_epoch(record)
        best = "  ★ best so far" if record.is_best else ""
        self._log.info(
            f"epoch {record.epoch}/{self._epochs}: train loss {record.train_loss:.4f} acc "
            f"{record.train_acc:.3f} | val loss {record.val_loss:.4f} acc {record.val_acc:.3f} | "
            f"lr {record.lr:.2g} | {record.seconds:.1f} s{best}"
        )

    def _trained(self, result) -> None:
        self.curves.flush()
        epochs = len(result.history)
        what = STOP_REASONS.get(result.stop_reason, result.stop_reason)
        if result.best_checkpoint is None:
            text = f"Training {what} before any weights were saved; {result.run_dir} holds no model."
            self._log.warning(text)
            self.status.say(text)
            self.propose_run_dir()
            return
        best = (
            f"best epoch {result.best_epoch} (validation loss {result.best_val_loss:.4f})"
            if result.best_epoch is not None
            else "weights saved before the first validation (never validated)"
        )
        text = f"Training {what} after {epochs} epoch{'s' if epochs != 1 else ''}: {best}."
        if result.test_metrics:
            text += " Test split: " + metric_line(result.test_metrics) + "."
        if not self._closing:
            text += f" Loading {result.best_checkpoint} into the viewer."
        self._log.info(text)
        self.status.say(text)
        self.propose_run_dir()
        if not self._closing:
            self.modelTrained.emit(str(result.best_checkpoint))

    def _failed(self, message: str, error: BaseException | None) -> None:
        self.status.say(message, error=True)
        self.progress.setFormat("not started" if isinstance(error, RunFolderInUse) else "failed")
