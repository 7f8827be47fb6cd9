"""Atomic file writes: a temporary file next to the target, renamed over it only on success.

A process killed mid-write leaves the previous file intact (``os.replace`` is atomic on POSIX
and Windows). The temporary file is created with ``open(..., "x")`` so it gets the usual
permissions (umask), not ``mkstemp``'s private 0600; a writer that replaces it by a file of its own
(safetensors' ``save_file`` writes a 0600 temporary file and renames it over ours) gets that mode
back, so every file of a run or an export has the same permissions.

Any ``OSError`` while writing (a full disk, a read-only folder, a name too long) becomes one
:class:`~camviewer.core.errors.WriteFailed` naming the target, and the temporary file is removed.
"""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import numpy as np

from camviewer.core.errors import WriteFailed

NAME_MAX = 255  # bytes in one file name on Linux, macOS and Windows file systems
TEMPORARY_PATTERN = ".*.tmp"  # what a killed writer may leave behind (see remove_temporaries)


class atomic_path:
    """``with atomic_path(target) as tmp: write(tmp)`` -- ``target`` appears complete or not at all."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __enter__(self) -> Path:
        self.tmp = temporary_name(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.tmp, "xb"):
                pass
            self.mode = os.stat(self.tmp).st_mode & 0o7777
        except OSError as error:
            raise WriteFailed.from_os_error(self.path, error) from None
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                if os.stat(self.tmp).st_mode & 0o7777 != self.mode:
                    os.chmod(self.tmp, self.mode)
                with open(self.tmp, "rb") as handle:
                    os.fsync(handle.fileno())
                os.replace(self.tmp, self.path)
                return
            except OSError as error:
                exc_type, exc = type(error), error
        self.tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise WriteFailed.from_os_error(self.path, exc) from None


def temporary_name(path: Path) -> Path:
    """``.NAME.PID.RANDOM.tmp`` beside ``path``; a hash of NAME when that would not fit in a file name."""
    suffix = f".{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    name = f".{path.name}{suffix}"
    if len(os.fsencode(name)) > NAME_MAX:
        name = f".{hashlib.sha256(os.fsencode(path.name)).hexdigest()[:32]}{suffix}"
    return path.with_name(name)


@contextmanager
def atomic_text(path: str | Path) -> Iterator[IO[str]]:
    """A text file (UTF-8; file names that are not UTF-8 kept as their bytes) written atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8", errors="surrogateescape") as handle:
        yield handle


def write_text_atomic(path: str | Path, text: str) -> Path:
    with atomic_text(path) as handle:
        handle.write(text)
    return Path(path)


def write_npy(path: str | Path, array) -> Path:
    """``numpy.save`` through a temporary file. The bytes are written by Python, so that a full disk is reported
    with its reason (numpy's own writer says only how many bytes it wrote)."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getbuffer())
    return Path(path)


def remove_temporaries(folder: Path) -> None:
    """Temporary files left by a process killed while saving (the real files are intact)."""
    for leftover in folder.glob(TEMPORARY_PATTERN):
        leftover.unlink(missing_ok=True)
