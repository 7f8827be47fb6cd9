"""What runs in the viewer's worker for a volume: read it, turn it for display, and check the model can explain it.

Thin calls into :mod:`camviewer.core.volumes`; imported by the worker when it runs. Volumes appear in the image
list under a key: a NIfTI or multi-frame DICOM file's path, a DICOM series folder's path, or, in a folder holding
several series, ``folder#SeriesInstanceUID``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # no torch and no nibabel before the window is up
    from camviewer.core.images import Window
    from camviewer.core.model.loaded import LoadedModel
    from camviewer.core.volumes import Volume, VolumeSource
    from camviewer.core.volumes.planes import VolumeView

SERIES_MARK = "#"
PREVIEW_MAX_VOXELS = 32_000_000  # volumes above this (e.g. 512 x 512 x 300) get a plain "3-D" thumbnail


@dataclass
class VolumeFrame:
    """A volume read for the viewer: its voxels, their (S, P, L) view and the windows to offer."""

    generation: int
    path: str
    volume: Volume
    view: VolumeView
    turned: np.ndarray  # volume.array as the view (no copy)
    windows: tuple[Window, ...]  # the presets to offer, the default first
    summary: str  # one line for people: size, voxel size, modality, where the geometry came from

    @property
    def image(self) -> Volume:
        """What a later request for the same key passes back instead of reading again."""
        return self.volume


def source_key(source: VolumeSource, several_series: bool = False) -> str:
    """How a volume appears in the image list (see the module)."""
    if several_series and source.series_uid:
        return f"{source.path}{SERIES_MARK}{source.series_uid}"
    return str(source.path)


def split_key(key: str) -> tuple[str, str | None]:
    """(path, series UID or None) of a list key."""
    if not os.path.exists(key) and SERIES_MARK in key:
        folder, uid = key.rsplit(SERIES_MARK, 1)
        if os.path.isdir(folder):
            return folder, uid
    return key, None


def is_volume_key(key: str) -> bool:
    """True for a key that names a volume (a NIfTI file, a series folder or key, a multi-frame DICOM volume)."""
    from camviewer.core.volumes import volume_format

    path, uid = split_key(key)
    return uid is not None or volume_format(path) is not None


def read_frame(generation: int, key: str) -> VolumeFrame:
    """Read the volume of ``key``; raises the reader's VolumeError (an ImageError) when it cannot."""
    from camviewer.core.volumes import read_volume
    from camviewer.core.volumes.planes import display_windows, view_of

    path, uid = split_key(key)
    volume = read_volume(path, series_uid=uid)
    view = view_of(volume)
    return VolumeFrame(
        generation, key, volume, view, view.turn(volume.array), display_windows(volume), describe(volume)
    )


def preview(key: str) -> np.ndarray:
    """The thumbnail of the volume of ``key``: its middle axial slice in its default window, [0, 1].

    A volume above PREVIEW_MAX_VOXELS gets a tile that says "3-D" instead: reading all of it for a thumbnail
    would hold the worker (and hundreds of megabytes) while the volume on screen is being explained.
    """
    import cv2

    from camviewer.core.errors import VolumeTooLargeError
    from camviewer.core.volumes import read_volume
    from camviewer.core.volumes.planes import preview

    path, uid = split_key(key)
    try:
        return preview(read_volume(path, series_uid=uid, max_voxels=PREVIEW_MAX_VOXELS))
    except VolumeTooLargeError:
        tile = np.full((96, 96), 0.15, np.float32)
        cv2.putText(tile, "3-D", (22, 58), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 0.8, 2, cv2.LINE_AA)
        return tile


def volume_stem(key: str) -> str:
    """A file name stem for a volume's exports: ``case01`` for ``case01.nii.gz``, the folder name for a series."""
    from camviewer.core.volumes.read import VolumeSource

    path, uid = split_key(key)
    stem = VolumeSource(Path(path), "").stem
    return f"{stem}_{uid.rsplit('.', 1)[-1]}" if uid else stem


def export_volume_view(
    volume: Volume,
    map01: np.ndarray,
    colormap: str,
    opacity: float,
    png_path: str,
    map_path: str,
    outline: str = "none",
    threshold: float = 0.5,
) -> tuple[str, str]:
    """The map as NIfTI on the volume's grid (float32 in [0, 1], 0 where not seen) and a PNG montage of it.

    Same arguments as the image export; a montage draws no outline.
    """
    from camviewer.core.explain.montage import montage
    from camviewer.core.overlay import write_png
    from camviewer.core.volumes import write_nifti

    write_nifti(map_path, np.nan_to_num(map01, nan=0.0), like=volume)
    write_png(png_path, montage(volume, map01, colormap, opacity))
    return png_path, map_path


def describe(volume: Volume) -> str:
    """ "Volume 64 × 96 × 96 voxels of 4.38 × 3.54 × 3.54 mm, CT (HU), NIfTI" (array order: d, h, w)."""
    shape = " × ".join(str(n) for n in volume.shape)
    spacing = " × ".join(f"{v:.3g}" for v in volume.spacing)
    info = volume.info
    kind = ", ".join(part for part in (info.modality, f"({info.units})" if info.units else "") if part)
    parts = [f"Volume {shape} voxels of {spacing} mm", kind, info.format]
    return ", ".join(part for part in parts if part).replace(", (", " (")


def model_mismatch(model: LoadedModel | None, is_volume: bool) -> str | None:
    """Why ``model`` cannot explain this input (a 2-D model and a volume, or the reverse), or None."""
    if model is None:
        return None
    sees_volumes = model.card.volume is not None
    if sees_volumes == is_volume:
        return None
    name = Path(model.source).name if model.source else model.card.arch
    if is_volume:
        return f"No map: the model ({name}) sees 2-D images, not volumes. Open a 3-D model to explain volumes."
    return f"No map: the model ({name}) sees volumes, not 2-D images. Open a 2-D model to explain images."


def is_listed_file(path: str | os.PathLike) -> bool:
    """A file the image list takes: a 2-D image (DICOM included: a multi-frame volume is told when read) or NIfTI."""
    from camviewer.core.images import is_image_path
    from camviewer.core.volumes import is_nifti_path

    return is_image_path(path) or is_nifti_path(path)


def list_entries(folder: str, recursive: bool = False) -> list[str]:
    """The image list of ``folder``: its 2-D images and its volumes (a series replaces its slices), by name."""
    from camviewer.core.volumes import list_folder_sources
    from camviewer.core.volumes.read import VolumeSource

    sources = list_folder_sources(folder, recursive)
    folders = [source.path for source in sources if isinstance(source, VolumeSource) and source.series_uid]
    several = {path for path in folders if folders.count(path) > 1}
    return [
        source_key(source, source.path in several) if isinstance(source, VolumeSource) else str(source)
        for source in sources
    ]
