"""NIfTI-1 and NIfTI-2 (``.nii``, ``.nii.gz``) through nibabel: geometry from the sform or qform, scaling applied.

* The affine is nibabel's choice: the sform when its code is set, else the qform, else the voxel sizes alone
  (``VolumeInfo.geometry`` says which). Spatial units in metres or microns are converted to millimetres.
* ``scl_slope`` / ``scl_inter`` are applied (nibabel's ``get_fdata``); values are float32.
* A 4-D file (time points, diffusion directions) holds several volumes: one of them is read when the caller
  names its index, a 4-D file with a single volume is read as 3-D, and otherwise the file is refused
  (MultipleVolumesError with the count), since picking the first one silently is a guess.
* Colour (RGB24) and vector-valued files (a 5th dimension) are refused.

``write_nifti`` writes an array on the grid of a source volume (its affine and shape), gzip-compressed
deterministically (no time stamp) and atomically.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.filebasedimages import ImageFileError

from camviewer.core.atomic import atomic_path
from camviewer.core.errors import (
    CorruptVolumeError,
    MultipleVolumesError,
    UnsupportedVolumeError,
    VolumeError,
)
from camviewer.core.images.common import special_kind
from camviewer.core.volumes.records import Volume, VolumeInfo, check_voxels, reverse_axes

NIFTI_SUFFIXES = (".nii", ".nii.gz")
_MM_PER_UNIT = {"mm": 1.0, "meter": 1000.0, "micron": 0.001, "unknown": 1.0}  # NIfTI: unknown is read as mm


def is_nifti_path(path: str | os.PathLike) -> bool:
    return Path(path).name.lower().endswith(NIFTI_SUFFIXES)


def read_nifti(path: str | os.PathLike, volume_index: int | None = None, max_voxels: int | None = None) -> Volume:
    """One 3-D volume of a NIfTI file; ``volume_index`` picks one of a 4-D file's volumes."""
    file = Path(path)
    image = _load(file)
    header = image.header
    shape = tuple(int(n) for n in header.get_data_shape())
    if header.get_data_dtype().names is not None:  # RGB24 / RGBA32 structured samples
        raise UnsupportedVolumeError(file, "colour (RGB) NIfTI volumes are not supported")
    if len(shape) < 3:
        raise UnsupportedVolumeError(file, f"holds a {len(shape)}-D image of shape {shape}, not a volume")
    if len(shape) > 4 and any(n > 1 for n in shape[4:]):
        raise UnsupportedVolumeError(file, f"vector-valued NIfTI (shape {shape}) is not supported")
    count = shape[3] if len(shape) > 3 else 1
    if volume_index is None and count > 1:
        raise MultipleVolumesError(file, count)
    index = volume_index or 0
    if not 0 <= index < count:
        raise UnsupportedVolumeError(file, f"has {count} volume(s); there is no volume {index}")
    check_voxels(file, shape[:3], max_voxels)
    try:
        proxy = (
            image.dataobj if len(shape) == 3 else image.dataobj[(slice(None),) * 3 + (index,) + (0,) * (len(shape) - 4)]
        )
        data = np.asarray(proxy, dtype=np.float32)  # the proxy applies scl_slope and scl_inter
    except (OSError, EOFError, ValueError, gzip.BadGzipFile) as exc:
        raise CorruptVolumeError(file, f"voxel data unreadable ({type(exc).__name__}: {exc})") from None
    affine, geometry = _affine(image)
    units = header.get_xyzt_units()[0]
    affine[:3, :] *= _MM_PER_UNIT.get(units, 1.0)
    info = VolumeInfo(
        path=str(file),
        format="NIfTI",
        description=_text(header.get("descrip")),
        geometry=geometry,
        source_shape=shape,
    )
    return Volume(np.ascontiguousarray(data.transpose(2, 1, 0)), reverse_axes(affine), info)


def nifti_shape(path: str | os.PathLike) -> tuple[int, ...]:
    """The stored shape, from the header alone (no voxel is decoded)."""
    return tuple(int(n) for n in _load(Path(path)).header.get_data_shape())


def write_nifti(
    path: str | os.PathLike,
    array: np.ndarray,
    like: Volume | None = None,
    affine: np.ndarray | None = None,
    dtype: type | np.dtype = np.float32,
) -> Path:
    """Write ``array`` (D, H, W) on the grid of ``like`` (same affine, same shape), so it overlays the source.

    Or give the ``affine`` of array indices (d, h, w) to RAS mm instead of ``like``. ``dtype``: float32 for maps,
    an integer type for label masks. Written to a temporary file renamed into place.
    """
    target = Path(path)
    values = np.asarray(array)
    if (like is None) == (affine is None):
        raise ValueError("give exactly one of like and affine")
    if like is not None and values.shape != like.shape:
        raise ValueError(f"array shape {values.shape} is not the volume's shape {like.shape}")
    if values.ndim != 3:
        raise ValueError(f"expected a (D, H, W) array, got shape {values.shape}")
    if not is_nifti_path(target):
        raise ValueError(f"{target}: a NIfTI file name ends in .nii or .nii.gz")
    grid = reverse_axes(like.affine if like is not None else affine)  # NIfTI's (i, j, k) = (w, h, d)
    image = nib.Nifti1Image(np.ascontiguousarray(values.transpose(2, 1, 0), dtype=dtype), grid)
    image.header.set_xyzt_units("mm")
    image.set_sform(grid, code="scanner")
    image.set_qform(grid, code="scanner")  # nearest rigid form when the affine has shears
    image.header.set_slope_inter(1.0, 0.0)
    payload = image.to_bytes()
    if target.name.lower().endswith(".gz"):
        payload = gzip.compress(payload, compresslevel=1, mtime=0)  # same bytes for the same content
    with atomic_path(target) as tmp:
        tmp.write_bytes(payload)
    return target


def _load(file: Path) -> nib.Nifti1Image:
    if not file.exists():
        raise VolumeError(file, "no such file")
    if file.is_dir():
        raise VolumeError(file, "is a folder, not a NIfTI file")
    if not file.is_file():  # a FIFO or a device: reading it could block or never end
        raise UnsupportedVolumeError(file, f"{special_kind(file)}, not a regular file")
    try:
        image = nib.load(file)
    except (ImageFileError, ValueError, EOFError, gzip.BadGzipFile, OSError) as exc:
        raise CorruptVolumeError(file, f"not a readable NIfTI file ({type(exc).__name__}: {exc})") from None
    if not isinstance(image, (nib.Nifti1Image, nib.Nifti2Image)):
        raise UnsupportedVolumeError(file, f"{type(image).__name__} files are not supported, only NIfTI")
    return image


def _affine(image: nib.Nifti1Image) -> tuple[np.ndarray, str]:
    """nibabel's best affine (sform, else qform, else voxel sizes) and which one it is."""
    header = image.header
    source = "sform" if header["sform_code"] > 0 else "qform" if header["qform_code"] > 0 else "pixdim only"
    return np.array(image.affine, np.float64), source


def _text(value) -> str:
    if value is None:
        return ""
    raw = value.item() if hasattr(value, "item") else value
    return (raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)).strip("\x00 ").strip()
