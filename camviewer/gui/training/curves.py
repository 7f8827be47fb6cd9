"""Live training curves: the loss of every batch and of every epoch (train and validation), and the accuracy.

Points arrive from the training worker on the GUI thread; they are stored at once and drawn at most
every ``REDRAW_MS`` by a single-shot timer (so a fast run does not redraw per batch, and nothing ticks
when training is idle). The batch loss is plotted against fractional epochs (epoch 3, batch 5 of 10 is
at x = 2.5), so per-batch and per-epoch points share one axis; a dashed line marks the best epoch.

A redraw must stay cheap while training competes for the CPU (the window's heartbeat target is 50 ms):
only the series that changed are set, the axes keep fixed ranges (x: the planned epochs; y: grown in
steps, never per point) so their tick labels are not laid out again, and the axes are cached as
pixmaps (replaying their text is what a pyqtgraph repaint spends most on).
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QBoxLayout, QLabel, QVBoxLayout, QWidget

from camviewer.gui.common.plots import styled_plot

REDRAW_MS = 100
SIDE_BY_SIDE_WIDTH = 520  # wide enough for two readable plots
TRAIN_COLOUR, VAL_COLOUR, BATCH_COLOUR = "#1f77b4", "#e8590c", "#adb5bd"


def _series(plot: pg.PlotWidget, name: str, colour: str, symbols: bool = True) -> pg.PlotDataItem:
    if symbols:
        return plot.plot(
            [],
            [],
            name=name,
            pen=pg.mkPen(colour, width=2),
            symbol="o",
            symbolSize=6,
            symbolPen=pg.mkPen(colour),
            symbolBrush=pg.mkBrush(colour),
        )
    return plot.plot([], [], name=name, pen=pg.mkPen(colour, width=1))


class TrainingCurves(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainingCurves")
        self.loss_plot = styled_plot("Loss", "epoch", "loss")
        self.acc_plot = styled_plot("Accuracy", "epoch", "accuracy")
        self.acc_plot.setYRange(0.0, 1.0, padding=0.02)
        # One legend above both plots: inside a small plot a legend covers the curves.
        self.legend = QLabel(
            f"<span style='color:{TRAIN_COLOUR}'>●━</span> train &nbsp; "
            f"<span style='color:{VAL_COLOUR}'>●━</span> validation &nbsp; "
            f"<span style='color:{BATCH_COLOUR}'>━</span> train loss per batch &nbsp; "
            "<span style='color:#555'>┆</span> best epoch"
        )
        self.legend.setStyleSheet("color: #333")
        self.legend.setWordWrap(True)
        self.batch_loss = _series(self.loss_plot, "train, per batch", BATCH_COLOUR, symbols=False)
        self.train_loss = _series(self.loss_plot, "train", TRAIN_COLOUR)
        self.val_loss = _series(self.loss_plot, "validation", VAL_COLOUR)
        self.train_acc = _series(self.acc_plot, "train", TRAIN_COLOUR)
        self.val_acc = _series(self.acc_plot, "validation", VAL_COLOUR)
        self.best_lines = []
        for plot in (self.loss_plot, self.acc_plot):
            line = pg.InfiniteLine(
                angle=90, movable=False, pen=pg.mkPen("#555555", width=1, style=Qt.PenStyle.DashLine)
            )
            line.setVisible(False)
            line.setToolTip("best epoch (lowest validation loss): its weights are in best.safetensors")
            plot.addItem(line)
            self.best_lines.append(line)
        self.plots = QBoxLayout(QBoxLayout.Direction.LeftToRight)  # stacked when the panel is narrow
        self.plots.setContentsMargins(0, 0, 0, 0)
        self.plots.addWidget(self.loss_plot)
        self.plots.addWidget(self.acc_plot)
        self.hint = QLabel("<i>Loss and accuracy curves appear here when training starts.</i>", wordWrap=True)
        self.hint.setStyleSheet("color: #666")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.hint)
        layout.addWidget(self.legend)
        layout.addLayout(self.plots, 1)
        for widget in (self.legend, self.loss_plot, self.acc_plot):
            widget.setVisible(False)  # until a run starts: empty plots would take the form's room
        self._redraw = QTimer(self, singleShot=True, interval=REDRAW_MS)
        self._redraw.timeout.connect(self.flush)
        self.clear()

    def plots_shown(self) -> bool:
        return not self.loss_plot.isHidden()

    def show_plots(self) -> None:
        self.hint.setVisible(False)
        for widget in (self.legend, self.loss_plot, self.acc_plot):
            widget.setVisible(True)

    def resizeEvent(self, event) -> None:
        """Side by side when the panel is wide enough for two readable plots; stacked when it is narrow."""
        super().resizeEvent(event)
        wide = event.size().width() >= SIDE_BY_SIDE_WIDTH
        direction = QBoxLayout.Direction.LeftToRight if wide else QBoxLayout.Direction.TopToBottom
        if self.plots.direction() != direction:
            self.plots.setDirection(direction)

    # ------------------------------------------------------------------------------------ data
    def clear(self, epochs: int | None = None) -> None:
        """Start a run; ``epochs`` (the planned maximum) fixes the x axis, else it follows the data."""
        self._batch_x: list[float] = []
        self._batch_y: list[float] = []
        self._epochs: list[int] = []
        self._columns: dict[str, list[float]] = {key: [] for key in ("train_loss", "val_loss", "train_acc", "val_acc")}
        self._best: int | None = None
        self._planned = epochs
        self._dirty = {"batches", "epochs"}
        for plot in (self.loss_plot, self.acc_plot):
            if epochs:
                plot.setXRange(0, epochs, padding=0.02)
            else:
                plot.enableAutoRange(axis="x")
        if epochs:  # a cross-entropy starts near ln(classes): most runs never leave [0, 1]
            self._loss_top = 1.0
            self.loss_plot.setYRange(0.0, 1.0, padding=0.02)
        else:
            self._loss_top = 0.0
            self.loss_plot.enableAutoRange(axis="y")
        self.flush()

    def add_batches(self, updates: list) -> None:
        """``BatchUpdate``s (epoch, batch, batches, loss) in the order they were trained."""
        for update in updates:
            self._batch_x.append(update.epoch - 1 + update.batch / max(update.batches, 1))
            self._batch_y.append(float(update.loss))
        self._dirty.add("batches")
        self._schedule()

    def add_epoch(self, record) -> None:
        """One ``EpochRecord``; ``is_best`` moves the best-epoch marker."""
        self._epochs.append(int(record.epoch))
        for key, values in self._columns.items():
            values.append(float(getattr(record, key)))
        if record.is_best:
            self._best = int(record.epoch)
        self._dirty.add("epochs")
        self._schedule()

    def set_history(self, records: list, epochs: int | None = None) -> None:
        """A run's earlier epochs (resuming): drawn as they are, with no per-batch points."""
        self.clear(epochs)
        for record in records:
            self.add_epoch(record)
        self.flush()

    def counts(self) -> tuple[int, int]:
        """(batches, epochs) received so far."""
        return len(self._batch_y), len(self._epochs)

    # ---------------------------------------------------------------------------------- drawing
    def _schedule(self) -> None:
        if not self._redraw.isActive():
            self._redraw.start()

    def flush(self) -> None:
        """Draw what has arrived, now (the end of a run must not wait for the timer)."""
        self._redraw.stop()
        dirty, self._dirty = self._dirty, set()
        if "batches" in dirty:
            self.batch_loss.setData(self._batch_x, self._batch_y)
        if "epochs" in dirty:
            for item, key in (
                (self.train_loss, "train_loss"),
                (self.val_loss, "val_loss"),
                (self.train_acc, "train_acc"),
                (self.val_acc, "val_acc"),
            ):
                item.setData(self._epochs, self._columns[key])
            for line in self.best_lines:
                line.setVisible(self._best is not None)
                if self._best is not None:
                    line.setValue(self._best)
        if self._planned and dirty:
            self._fit_loss_axis()

    def paint_now(self) -> None:
        """Repaint both plots synchronously (a plain ``repaint()`` would wait for the scene's queued update)."""
        for plot in (self.loss_plot, self.acc_plot):
            plot.viewport().repaint()

    def _fit_loss_axis(self) -> None:
        """Loss from 0 to a round ceiling above every point; it changes only when a point goes above it."""
        highest = max([*self._batch_y, *self._columns["train_loss"], *self._columns["val_loss"]], default=0.0)
        if highest <= self._loss_top and self._loss_top:
            return
        step = 10 ** math.floor(math.log10(highest)) if highest > 0 else 1.0
        self._loss_top = math.ceil(highest * 1.05 / (step / 2)) * (step / 2) if highest > 0 else 1.0
        self.loss_plot.setYRange(0.0, self._loss_top, padding=0.02)
