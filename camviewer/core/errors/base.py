"""The root of every error camviewer raises on purpose, and errors shared by all areas."""

from __future__ import annotations

from pathlib import Path


class CamviewerError(Exception):
    """Base class of every error camviewer raises on purpose."""


class DeviceUnavailable(CamviewerError):
    """The requested device does not exist on this machine."""

    def __init__(self, device: str):
        self.device = device
        super().__init__(f"{device.upper()} was requested but no {device.upper()} device is available")


class CamError(CamviewerError):
    """A CAM request that cannot be honoured (unknown layer, class or method)."""


class MissingInput(CamviewerError):
    """A job's mode needs an input that was not given (``needed``: "model", "roi_masks")."""

    def __init__(self, mode: str, needed: str, what: str):
        self.mode, self.needed = mode, needed
        super().__init__(f"mode {mode} needs {what}")


class Cancelled(CamviewerError):
    """The user cancelled a long job."""


class OutputExists(CamviewerError):
    """A file to write is already there; nothing was overwritten."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        super().__init__(f"{path} already exists; nothing was overwritten")
