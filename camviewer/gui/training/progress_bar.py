"""Training progress: batches over the planned epochs, and the time left at the pace of this session."""

from __future__ import annotations

import time

from camviewer.gui.jobs.progress_bar import JobProgressBar


class TrainingProgressBar(JobProgressBar):
    def begin(self, epochs: int) -> None:
        """A run (or resumed run) up to ``epochs``: busy until the first batch says how many there are."""
        self._epochs = epochs
        self._clock: tuple[float, int] | None = None  # (time, batches done) at the first batch seen
        self.busy()
        self.setFormat("preparing the data…")

    def show_batches(self, updates: list) -> None:
        """``BatchUpdate``s, oldest first: the bar, the epoch and batch, and the time left at this pace."""
        last = updates[-1]
        total = max(1, self._epochs * last.batches)
        done = (last.epoch - 1) * last.batches + last.batch
        now = time.perf_counter()
        if self._clock is None:  # these batches were trained before now: the pace is measured from here
            self._clock = (now, done)
        started, done_before = self._clock
        rate = (done - done_before) / (now - started) if now > started else 0.0
        left = f" · {format_duration((total - done) / rate)} left at most" if rate > 0 else ""
        self.setRange(0, total)
        self.setValue(min(done, total))
        self.setFormat(f"epoch {last.epoch}/{self._epochs} · batch {last.batch}/{last.batches}{left}")

    _epochs = 1


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
