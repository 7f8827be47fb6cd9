"""Training requests that cannot be carried out."""

from __future__ import annotations

from pathlib import Path

from camviewer.core.errors.base import CamviewerError, WriteFailed


class TrainingError(CamviewerError):
    """A training request that cannot be carried out (bad option, run folder in use, nothing to resume)."""


class RunFolderInUse(TrainingError):
    """The run folder already holds a training run (``files``: which run files are there)."""

    def __init__(self, run_dir: str | Path, files: list[str]):
        self.run_dir, self.files = Path(run_dir), files
        super().__init__(f"{run_dir} already holds a training run ({', '.join(files)})")


class StoppedEarly(TrainingError):
    """The run to resume stopped early: ``stale_epochs`` without improvement reached its ``patience``."""

    def __init__(self, run_dir: str | Path, stale_epochs: int, patience: int):
        self.run_dir, self.stale_epochs, self.patience = Path(run_dir), stale_epochs, patience
        super().__init__(f"{run_dir} stopped early: no improvement for {stale_epochs} epochs (patience {patience})")


class AlreadyTrained(TrainingError):
    """The run to resume has already trained every epoch it was asked for."""

    def __init__(self, run_dir: str | Path, epochs_done: int, epochs: int):
        self.run_dir, self.epochs_done, self.epochs = Path(run_dir), epochs_done, epochs
        super().__init__(f"{run_dir} already ran {epochs_done} epochs (of {epochs} asked for)")


class TrainingOptionError(TrainingError):
    """One training option (a ``TrainConfig`` field, e.g. "freeze") cannot be used as given."""

    def __init__(self, option: str, reason: str, value: object = None):
        self.option, self.reason, self.value = option, reason, value
        shown = "" if value is None else f" {value!r}"
        super().__init__(f"{option.replace('_', ' ')}{shown}: {reason}")


class ClassMismatch(TrainingError):
    """The checkpoint to fine-tune from names other classes than the data (classes are matched by name)."""

    def __init__(self, source: str, checkpoint_classes: list[str], data_classes: list[str]):
        self.source, self.checkpoint_classes, self.data_classes = source, checkpoint_classes, data_classes
        super().__init__(
            f"the classes of {source} ({', '.join(checkpoint_classes)}) do not match the data's "
            f"({', '.join(data_classes)}); classes are matched by name "
            "(a checkpoint without a card needs one output per class of the data)"
        )


class RunInterrupted(TrainingError):
    """Training stopped because a run file could not be written (``cause``: the WriteFailed, e.g. a full disk).

    ``epochs_done`` finished epochs are kept in the run folder: with some, the run can be resumed; with none, it
    can be started again in the same folder.
    """

    def __init__(self, run_dir: str | Path, epochs_done: int, cause: WriteFailed):
        self.run_dir, self.epochs_done, self.cause = Path(run_dir), epochs_done, cause
        super().__init__(f"{run_dir}: training stopped after {epochs_done} finished epoch(s): {cause}")
