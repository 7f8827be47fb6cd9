"""Typed errors. Every message is meant for the user: it names the file and the reason."""

from __future__ import annotations

from pathlib import Path


class CamviewerError(Exception):
    """Base class of every error camviewer raises on purpose."""


class ImageError(CamviewerError):
    """An image could not be read. ``path`` and ``reason`` say which and why."""

    kind = "unreadable"

    def __init__(self, path: str | Path | None, reason: str):
        self.path = None if path is None else str(path)
        self.reason = reason
        where = self.path if self.path is not None else "<array>"
        super().__init__(f"{where}: {self.kind} image: {reason}")


class UnsupportedImageError(ImageError):
    kind = "unsupported"


class CorruptImageError(ImageError):
    kind = "corrupt"


class TruncatedImageError(CorruptImageError):
    kind = "truncated"


class ImageTooLargeError(ImageError):
    kind = "too large"


class CheckpointError(CamviewerError):
    """A checkpoint could not be loaded."""


class UnsafeCheckpointError(CheckpointError):
    """The checkpoint holds pickled Python objects; loading it would run code from the file."""


class StateDictMismatchError(CheckpointError):
    """Weights do not fit the architecture; the message lists missing and unexpected keys."""


class ArchitectureInferenceError(CheckpointError):
    """The architecture could not be told from the weights alone."""


class PretrainedWeightsUnavailable(CamviewerError):
    """ImageNet weights are neither cached nor downloadable."""


class CamError(CamviewerError):
    """A CAM request that cannot be honoured (unknown layer, class or method)."""


class DatasetError(CamviewerError):
    """A dataset folder or partition file cannot be used."""


class Cancelled(CamviewerError):
    """The user cancelled a long job."""


class MetricsError(CamviewerError):
    """Predictions or labels cannot be evaluated or reported as given (shapes, classes, positive class)."""
