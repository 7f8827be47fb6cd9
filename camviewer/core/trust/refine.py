"""The CAM-guided refinement cycle of seed 002: build an enhanced copy of a training set.

Modes (the original data is never touched):

- ``cam-overlay``: each image weighted by its own map for its class, ``pixels * (floor + (1 - floor) * map)``,
  so what the model found important stays and the rest fades (seed 002's "enhanced" set).
- ``roi-mask``: each image multiplied by its region-of-interest mask (e.g. the lungs or the cell
  body), so nothing outside it (markers, text, the void around the body) can be learned.
- ``crop``: images copied unchanged and ``refine.json`` records a border crop; ``camviewer train``
  reads it into the model card, so training AND inference both cut the border (a crop applied
  to training images only would be the preprocessing mismatch seed projects suffered from).

Every mode writes ``refine.json`` (mode, options, source, counts) into the new dataset.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from camviewer.core.atomic import atomic_path, write_text_atomic
from camviewer.core.errors import AnnotationError, CamviewerError, DatasetError, ImageError, MissingInput
from camviewer.core.explain.records import ExplainFailure
from camviewer.core.explain.run import explain_iter
from camviewer.core.images.common import open_regular
from camviewer.core.jobs import CancelToken, Progress
from camviewer.core.model.loaded import LoadedModel
from camviewer.core.overlay import to_uint8, write_png
from camviewer.core.trust.dataset import ImageEntry, dataset_images
from camviewer.core.trust.groundtruth import MaskFolder

MODES = ("cam-overlay", "roi-mask", "crop")
MANIFEST = "refine.json"


def read_manifest(data: str | Path) -> dict | None:
    """The refine.json of a dataset built here, or None; a DatasetError if it is not a JSON object."""
    path = Path(data) / MANIFEST
    if not path.is_file():
        return None
    try:
        with open_regular(path) as handle:
            manifest = json.loads(handle.read().decode("utf-8"))
    except (ImageError, UnicodeDecodeError, ValueError, RecursionError) as error:
        raise DatasetError(f"{path}: not a readable refine manifest ({error})") from None
    if not isinstance(manifest, dict):
        raise DatasetError(f"{path}: not a refine manifest (expected a JSON object)")
    return manifest


def refine_dataset(
    data: str | Path,
    out: str | Path,
    mode: str,
    model: LoadedModel | None = None,
    roi_masks: str | Path | None = None,
    method: str = "gradcam",
    floor: float = 0.3,
    border_crop: float = 0.1,
    batch_size: int = 16,
    cancel: CancelToken | None = None,
    allow_outside: bool = False,
) -> Iterator[Progress]:
    """Write the enhanced dataset under ``out`` (same relative layout); yields per image, returns the manifest.

    ``allow_outside``: a CSV partition may name images outside its folder (see camviewer.core.data.index).
    """
    entries = dataset_images(data, allow_outside)
    out = Path(out)
    _check_arguments(mode, model, roi_masks, out, Path(data))
    skipped: list[tuple[str, str]] = []
    if mode == "cam-overlay":
        steps = _overlay_images(entries, out, model, method, floor, batch_size, skipped, cancel)
    elif mode == "roi-mask":
        steps = _masked_images(entries, out, MaskFolder(roi_masks), skipped, cancel)
    else:
        steps = _copied_images(entries, out, skipped, cancel)
    for done, key in enumerate(steps, start=1):
        yield Progress(done, len(entries), key)
    for extra in ("synth.json",):  # keep dataset metadata (class roles) with the copy
        if (Path(data) / extra).is_file():
            _copy_file(Path(data) / extra, out / extra)
    manifest = {
        "mode": mode,
        "source": str(Path(data).resolve()),
        "images": len(entries) - len(skipped),
        "skipped": skipped,
        "options": {"method": method, "floor": floor}
        if mode == "cam-overlay"
        else {"roi_masks": str(roi_masks)}
        if mode == "roi-mask"
        else {"border_crop": border_crop},
        "model": None if model is None else model.source,
    }
    write_text_atomic(out / MANIFEST, json.dumps(manifest, indent=2))  # last: only a finished set has one
    return manifest


def _check_arguments(mode: str, model, roi_masks, out: Path, data: Path) -> None:
    if mode not in MODES:
        raise CamviewerError(f"unknown refine mode {mode!r}; choose from {', '.join(MODES)}")
    if mode == "cam-overlay" and model is None:
        raise MissingInput(mode, "model", "a model to compute the maps")
    if mode == "roi-mask" and roi_masks is None:
        raise MissingInput(mode, "roi_masks", "a folder of ROI masks (one mask per image, same relative path)")
    if out.resolve() == data.resolve() or data.resolve() in out.resolve().parents:
        raise DatasetError("the enhanced set must be written outside the original dataset")
    if out.exists() and any(out.iterdir()):
        raise DatasetError(f"{out} is not empty; choose a new folder (nothing is overwritten)")


def _target_path(out: Path, entry: ImageEntry) -> Path:
    path = out / Path(entry.key).with_suffix(".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _overlay_images(entries, out, model, method, floor, batch_size, skipped, cancel):
    targets = [e.label if e.label in model.card.class_names else "pred" for e in entries]
    job = explain_iter(
        model, [e.path for e in entries], [method], targets, batch_size=batch_size, cancel=cancel, keep_images=True
    )
    for entry, event in zip(entries, job):
        result = event.payload
        if isinstance(result, ExplainFailure):
            skipped.append((entry.key, result.reason))
        else:
            (map01,) = result.maps[method].values()
            weight = floor + (1.0 - floor) * np.nan_to_num(map01, nan=0.0)  # not seen by the model: the floor
            pixels = result.image.pixels * (weight[:, :, None] if result.image.pixels.ndim == 3 else weight)
            write_png(_target_path(out, entry), to_uint8(pixels))
        yield entry.key


def _masked_images(entries, out, roi: MaskFolder, skipped, cancel):
    for entry in entries:
        if cancel is not None:
            cancel.raise_if_cancelled()
        reason = _masked_image(entry, out, roi)
        if reason is not None:
            skipped.append((entry.key, reason))
        yield entry.key


def _masked_image(entry: ImageEntry, out: Path, roi: MaskFolder) -> str | None:
    """Write one image times its mask; the reason it was skipped, or None."""
    from camviewer.core.images import read_image

    try:
        region = roi.region(entry.key)
        if region is None:
            return "no region-of-interest mask"
        pixels = read_image(entry.path).pixels
    except (AnnotationError, ImageError) as error:  # the mask (AnnotationError) or the image is unreadable
        return error.reason
    if region.mask.shape != pixels.shape[:2]:
        return f"mask size {region.mask.shape} differs from image {pixels.shape[:2]}"
    mask = region.mask[:, :, None] if pixels.ndim == 3 else region.mask
    write_png(_target_path(out, entry), to_uint8(pixels * mask))
    return None


def _copied_images(entries, out, skipped, cancel):
    for entry in entries:
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            _copy_file(entry.path, out / entry.key)
        except ImageError as error:  # not a regular file, or unreadable: nothing was written
            skipped.append((entry.key, error.reason))
        yield entry.key


def _copy_file(source: Path, target: Path) -> None:
    """A regular file copied atomically (a FIFO or a device is an ImageError: never read, so never blocking)."""
    with open_regular(source) as reading, atomic_path(target) as tmp, open(tmp, "wb") as writing:
        shutil.copyfileobj(reading, writing)


def manifest_border_crop(data: str | Path) -> float | None:
    """The border crop a ``crop``-mode dataset asks training to put in the model card."""
    manifest = read_manifest(data)
    if manifest and manifest.get("mode") == "crop":
        return float(manifest["options"]["border_crop"])
    return None
