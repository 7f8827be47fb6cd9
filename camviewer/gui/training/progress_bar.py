"""Training progress: batches over the planned epochs, the time left at the pace of this session, how the run ended."""

from __future__ import annotations

from typing import TYPE_CHECKING

from camviewer.gui.jobs.progress_bar import JobProgressBar

if TYPE_CHECKING:
    from camviewer.core.training.records import BatchUpdate, TrainResult
    from camviewer.gui.training.runner import TrainRunner

STOP_REASONS = {"completed": "completed", "early-stopping": "stopped early", "cancelled": "cancelled"}


class TrainingProgressBar(JobProgressBar):
    left_words = "left at most"  # early stopping may end the run sooner

    def follow(self, runner: TrainRunner) -> None:
        """Show a TrainRunner's runs: the batches, then how the run ended (the owner calls :meth:`begin`)."""
        runner.batches.connect(self.show_batches)
        runner.trained.connect(self.show_result)
        runner.failed.connect(lambda *_message_and_error: self.finish("failed", complete=False))
        runner.finished.connect(self.settle)

    def begin(self, epochs: int) -> None:
        """A run (or resumed run) up to ``epochs``: busy until the first batch says how many there are."""
        self._epochs = epochs
        self.busy()
        self.setFormat("preparing the data…")

    def show_batches(self, updates: list[BatchUpdate]) -> None:
        """``BatchUpdate``s, oldest first: the bar, the epoch and batch, and the time left at this pace."""
        last = updates[-1]
        total = max(1, self._epochs * last.batches)
        done = (last.epoch - 1) * last.batches + last.batch
        self.show_count(done, total, f"epoch {last.epoch}/{self._epochs} · batch {last.batch}/{last.batches}")

    def show_result(self, result: TrainResult) -> None:
        """A ``TrainResult``: full when the run completed or stopped early; a cancelled run's bar stays where it stopped."""
        what = STOP_REASONS.get(result.stop_reason, result.stop_reason)
        if result.best_checkpoint is None:  # nothing was saved: nothing to count
            self.setFormat(what)
            return
        if result.stop_reason != "cancelled":
            self.setValue(self.maximum())
        epochs = len(result.history)
        self.setFormat(f"{what} · {epochs} epoch{'s' if epochs != 1 else ''}")

    _epochs = 1


def metric_line(metrics: dict) -> str:
    """The test split's headline numbers in words, for the line that says how a run ended."""
    parts = [f"accuracy {metrics['accuracy']:.3f}"] if metrics.get("accuracy") is not None else []
    positive = metrics.get("positive_class")
    for key in ("sensitivity", "specificity"):
        if metrics.get(key) is not None:
            parts.append(f"{key} {metrics[key]:.3f}" + (f" ({positive} positive)" if positive else ""))
    if metrics.get("roc_auc") is not None:
        parts.append(f"ROC AUC {metrics['roc_auc']:.3f}")
    return ", ".join(parts)
