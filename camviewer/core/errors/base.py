"""The root of every error camviewer raises on purpose, and errors shared by all areas."""

from __future__ import annotations

import errno as errnos
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


class NoApplicableMethod(CamError):
    """None of the methods asked for can explain this model; ``reasons``: method -> why not."""

    def __init__(self, reasons: dict[str, str]):
        self.reasons = dict(reasons)
        super().__init__("no method applies: " + "; ".join(f"{m}: {why}" for m, why in self.reasons.items()))


class MethodNotApplicable(CamError):
    """A CAM method that cannot explain this model: ``method`` needs ``needs``; ``arch`` ``found`` instead.

    ``alternative``: a method that gives the map the user wanted, or None.
    """

    def __init__(self, method: str, arch: str, needs: str, found: str, alternative: str | None = None):
        self.method, self.arch, self.needs, self.found, self.alternative = method, arch, needs, found, alternative
        text = f"method {method!r} needs {needs}; {arch} {found}"
        if alternative:
            text += f" ({alternative!r} gives the same map wherever {method!r} applies)"
        super().__init__(text)


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


class WriteFailed(CamviewerError):
    """An output could not be written: ``path``, ``reason`` (the system's words), ``errno`` (None if not the system's).

    ``no_space``: the disk (or the file-size limit, or the quota) is full.
    """

    def __init__(self, path: str | Path, reason: str, errno: int | None = None):
        self.path, self.reason, self.errno = Path(path), reason, errno
        super().__init__(f"cannot write {path}: {reason}")

    @classmethod
    def from_os_error(cls, path: str | Path, error: OSError) -> WriteFailed:
        return cls(path, error.strerror or str(error), error.errno)

    @property
    def no_space(self) -> bool:
        return self.errno in (errnos.ENOSPC, errnos.EFBIG, errnos.EDQUOT)

    @property
    def not_allowed(self) -> bool:
        return self.errno in (errnos.EACCES, errnos.EPERM, errnos.EROFS)
