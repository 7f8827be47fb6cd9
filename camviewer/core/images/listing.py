"""Which files are images: by extension, or DICOM by content; folders listed in natural order."""

from __future__ import annotations

import os
import re
from pathlib import Path

from camviewer.core.errors import ImageError
from camviewer.core.images.common import read_head
from camviewer.core.images.dicom import DICOM_EXTENSIONS

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif"} | DICOM_EXTENSIONS
)


def is_image_path(path: str | os.PathLike) -> bool:
    """True for a supported extension (any case), or for a DICOM file whose name has no real extension.

    Scanners often write DICOM as ``IM000001`` or ``1.2.840.113619.2.55.871``: such names (no suffix, or a
    numeric one) are recognised by reading the "DICM" marker, 132 bytes; other names cost no I/O.
    ``DICOMDIR`` (an index of a DICOM folder, with no pixels) is not an image.
    """
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return True
    if (suffix and not suffix[1:].isdigit()) or file.name.upper() == "DICOMDIR":  # DICOMDIR is an index
        return False
    try:
        return read_head(file)[128:] == b"DICM"
    except ImageError:  # unreadable, or a FIFO/socket/device: never opened for a blocking read
        return False


def count_images_below(folder: str | os.PathLike, limit: int = 10_000) -> int:
    """Images in the sub-folders of ``folder`` (hidden ones skipped), counting up to ``limit``: enough to offer
    them when a folder holds none directly, without walking a whole disk."""
    count = 0
    for directory, subdirectories, names in os.walk(folder):
        subdirectories[:] = [name for name in subdirectories if not name.startswith(".")]
        if Path(directory) != Path(folder):
            count += sum(1 for name in names if not name.startswith(".") and is_image_path(Path(directory, name)))
        if count >= limit:
            return limit
    return count


def list_images(folder: str | os.PathLike, recursive: bool = False) -> list[Path]:
    """Supported files in natural order ("img2" before "img10"); hidden files and folders are skipped."""
    root = Path(folder)
    if not root.is_dir():
        raise ImageError(root, "no such folder" if not root.exists() else "not a folder")
    found = []
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = [name for name in subdirectories if recursive and not name.startswith(".")]
        # os.walk (scandir) already put folders aside: no extra stat per file for 10,000-image folders.
        candidates = (Path(directory, name) for name in names if not name.startswith("."))
        found += [file for file in candidates if is_image_path(file)]
    return sorted(found, key=lambda file: [natural_key(part) for part in file.relative_to(root).parts])


def natural_key(text: str) -> list[int | str]:
    return [int(part) if part.isdigit() else part.casefold() for part in re.split(r"(\d+)", text)]
