"""Atomic file writes: a temporary file next to the target, renamed over it only on success.

A process killed mid-write leaves the previous file intact (``os.replace`` is atomic on POSIX
and Windows). The temporary file is created with ``open(..., "x")`` so it gets the usual
permissions (umask), not ``mkstemp``'s private 0600.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path


class atomic_path:
    """``with atomic_path(target) as tmp: write(tmp)`` -- ``target`` appears complete or not at all."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        with open(self.tmp, "xb"):
            pass
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            with open(self.tmp, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)
