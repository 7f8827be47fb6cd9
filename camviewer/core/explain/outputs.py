"""The files of one explained image in an export folder: their names, and writing them as a whole or not at all.

Names are ``maps/<stem>__<method>__<class>.npy`` and ``overlays/<same>.png`` (a volume's map: ``.nii.gz``):

* the **stem** comes from the image's path relative to the folder it was found in (``sub1/x.png`` ->
  ``sub1~x``; a file given by name -> its stem), so images with the same name in different folders differ;
* the **class** part is the class name made portable (``a/b`` -> ``a_b``);
* every part is made with :func:`camviewer.core.filenames.safe_name` (no ``__`` inside a part, so the three
  parts are always told apart) and bounded in bytes (stem 150, class 80: with the method and the suffix the
  name stays under the 255 bytes file systems allow);
* any stem or class part already taken in the run, compared without case (two names that differ only in case
  are one file on macOS and Windows), gets ``~`` and a hash of the full original name instead.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from camviewer.core.atomic import write_npy
from camviewer.core.explain.montage import montage
from camviewer.core.explain.records import ExplainResult
from camviewer.core.filenames import FIELD_SEPARATOR, bounded, safe_name, with_hash
from camviewer.core.overlay import overlay, write_png
from camviewer.core.volumes import write_nifti

STEM_BYTES = 150
CLASS_BYTES = 80
FOLDER_JOIN = "~"
OUTPUT_FOLDERS = {"maps": (".npy", ".nii.gz"), "overlays": (".png",)}


@dataclass(frozen=True)
class Input:
    """An image to export: ``path`` as found, ``key`` its path relative to the input folder it was found in."""

    path: Path
    key: str


class OutputNames:
    """Stems for images and file-name parts for classes, unique in the run by construction."""

    def __init__(self, class_names: list[str], reserved: dict[str, str] | None = None) -> None:
        self.class_parts = _unique_parts(class_names, CLASS_BYTES)
        self.stems: dict[str, str] = {}
        self._taken: set[str] = set()
        for source, stem in (reserved or {}).items():  # an earlier run's names stay theirs
            self.stems[os.path.abspath(source)] = stem
            self._taken.add(stem.casefold())

    def stem(self, item: Input) -> str:
        source = os.path.abspath(item.path)
        if source not in self.stems:
            key = item.key[: -len(".nii.gz")] if item.key.lower().endswith(".nii.gz") else item.key
            parts = [safe_name(part) for part in PurePosixPath(key).with_suffix("").parts] or ["_"]
            stem = bounded(FOLDER_JOIN.join(parts), STEM_BYTES, key=item.key)
            if stem.casefold() in self._taken:
                stem = _free(stem, source, self._taken, STEM_BYTES)
            self._taken.add(stem.casefold())
            self.stems[source] = stem
        return self.stems[source]

    def file_name(self, stem: str, method: str, class_name: str) -> str:
        return FIELD_SEPARATOR.join((stem, safe_name(method), self.class_parts[class_name]))


def stem_of(file_name: str) -> str:
    """The stem of an output file's name (the part before the first separator)."""
    return file_name.split(FIELD_SEPARATOR, 1)[0]


def write_image_outputs(
    result: ExplainResult, out_dir: Path, names: OutputNames, stem: str, colormap: str, alpha: float
) -> list[Path]:
    """Each map (.npy) and overlay (.png) of one image, each written atomically; all or none of them.

    A volume's map is NIfTI on the volume's grid and affine (float32 in [0, 1]; voxels a crop left unseen are 0,
    as viewers show NaN badly) and its overlay a montage of axial slices. On a failure the files already written
    for this image are removed before the error goes on, so the folder never holds part of an image.
    """
    written: list[Path] = []
    try:
        for method, per_class in result.maps.items():
            for class_name, map01 in per_class.items():
                name = names.file_name(stem, method, class_name)
                if result.volume is not None:
                    maps = out_dir / "maps" / f"{name}.nii.gz"
                    written.append(write_nifti(maps, np.nan_to_num(map01, nan=0.0), like=result.volume))
                    picture = montage(result.volume, map01, colormap, alpha)
                else:
                    written.append(write_npy(out_dir / "maps" / f"{name}.npy", map01.astype(np.float32, copy=False)))
                    picture = overlay(result.image.pixels, map01, colormap, alpha)
                written.append(out_dir / "overlays" / f"{name}.png")
                write_png(written[-1], picture)
    except BaseException:
        remove_files(written)
        raise
    return written


def remove_files(paths: list[Path]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):  # the folder became unwritable: the error that led here is reported
            path.unlink(missing_ok=True)


def output_files(out_dir: Path) -> list[Path]:
    """The map and overlay files in an export folder (what an export writes there, nothing else)."""
    found = []
    for folder, suffix in OUTPUT_FOLDERS.items():
        where = out_dir / folder
        if where.is_dir():
            found += [
                entry for entry in where.iterdir() if entry.name.endswith(suffix) and FIELD_SEPARATOR in entry.name
            ]
    return found


def _unique_parts(class_names: list[str], max_bytes: int) -> dict[str, str]:
    parts, taken = {}, set()
    for name in class_names:
        part = bounded(safe_name(name), max_bytes, key=name)
        if part.casefold() in taken:
            part = _free(part, name, taken, max_bytes)
        taken.add(part.casefold())
        parts[name] = part
    return parts


def _free(name: str, key: str, taken: set[str], max_bytes: int) -> str:
    """``name`` with a hash of ``key`` that no other name of the run has."""
    attempt, candidate = 0, with_hash(name, key, max_bytes)
    while candidate.casefold() in taken:  # a hash collision within one run: practically never
        attempt += 1
        candidate = with_hash(name, f"{key}{os.sep}{attempt}", max_bytes)
    return candidate
