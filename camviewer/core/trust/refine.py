"""The CAM-guided refinement cycle of seed 002: build an enhanced copy of a training set.

Modes (the original data is never touched):

- ``cam-overlay`` (seed 002's "enhanced" set): every original image, plus an enhanced copy
  ``<stem>~cam.png`` of each image whose map for its own class is judged accurate. A map is accurate
  when its peak lies inside the image's region of interest (the lungs, the cell body) and at least
  ``min_roi_energy`` of its mass does (seed 002 took maps inside the lungs as accurate), and when the
  model's prediction is the image's class: a copy is then weighted by the map of what the model
  itself predicts, a function of the image alone, never by a map chosen by the label. The copy keeps
  the quarter of the image where the map is highest (soft-edged) and fades the rest towards black, to
  ``floor``. Maps outside the region (on a marker, on the border) make no copy: enhancing them would
  teach the model its own mistake. The originals stay so that the model still sees clean images, the
  kind it will be used on. With ``border_crop`` the crop also goes into the model card, as in crop
  mode (seed 002 cropped first, then enhanced).
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
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from camviewer.core.atomic import atomic_path, write_text_atomic
from camviewer.core.errors import AnnotationError, CamviewerError, DatasetError, ImageError, MissingInput
from camviewer.core.explain.records import ExplainFailure
from camviewer.core.images.common import open_regular
from camviewer.core.jobs import CancelToken, Progress
from camviewer.core.overlay import to_uint8, write_png
from camviewer.core.trust.groundtruth import MaskFolder
from camviewer.core.trust.localization import energy_inside, peak

if TYPE_CHECKING:  # the engine parts load when a set is built: the GUI imports this module's defaults early
    from camviewer.core.model.loaded import LoadedModel
    from camviewer.core.trust.dataset import ImageEntry

MODES = ("cam-overlay", "roi-mask", "crop")
MANIFEST = "refine.json"
ENHANCED_SUFFIX = "~cam"  # cam-overlay: the enhanced copy of <stem>.<ext> is <stem>~cam.png, beside it
DEFAULT_FLOOR = 0.3  # cam-overlay: the weight of what the map does not mark
MIN_ROI_ENERGY = 0.5  # cam-overlay: the share of an accurate map's mass inside the region of interest
KEPT_SHARE = 0.25  # cam-overlay: the share of each enhanced copy kept as it is (where its map is highest)
EDGE_SIGMA = 0.02  # cam-overlay: the soft edge of the kept region, in image sizes
DEFAULT_BORDER_CROP = 0.1  # crop mode: the fraction cut from each side
PEAK_OUTSIDE = "the map's peak lies outside the region of interest"


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
    floor: float = DEFAULT_FLOOR,
    border_crop: float | None = None,
    batch_size: int = 16,
    cancel: CancelToken | None = None,
    min_roi_energy: float = MIN_ROI_ENERGY,
    allow_outside: bool = False,
) -> Iterator[Progress]:
    """Write the enhanced dataset under ``out`` (same relative layout); yields per image, returns the manifest.

    ``allow_outside``: a CSV partition may name images outside its folder (see camviewer.core.data.index).
    """
    from camviewer.core.trust.dataset import dataset_images

    entries = dataset_images(data, allow_outside)
    out = Path(out)
    _check_arguments(mode, model, roi_masks, out, Path(data))
    skipped: list[tuple[str, str]] = []
    rejected: list[tuple[str, str]] = []
    if mode == "cam-overlay":
        check = partial(judge_map, min_roi_energy=min_roi_energy)
        steps = _overlay_images(
            entries, out, model, MaskFolder(roi_masks), method, floor, check, batch_size, skipped, rejected, cancel
        )
    elif mode == "roi-mask":
        steps = _masked_images(entries, out, MaskFolder(roi_masks), skipped, cancel)
    else:
        steps = _copied_images(entries, out, skipped, cancel)
    for done, key in enumerate(steps, start=1):
        yield Progress(done, len(entries), key)
    for extra in ("synth.json",):  # keep dataset metadata (class roles) with the copy
        if (Path(data) / extra).is_file():
            _copy_file(Path(data) / extra, out / extra)
    kept = len(entries) - len(skipped)
    manifest = {
        "mode": mode,
        "source": str(Path(data).resolve()),
        "images": kept,
        "skipped": skipped,
        "options": _options(mode, method, floor, roi_masks, min_roi_energy, border_crop),
        "model": None if model is None or model.source is None else str(Path(model.source).resolve()),
    }
    if mode == "cam-overlay":  # the originals and the enhanced copies
        manifest.update(images=2 * kept - len(rejected), enhanced=kept - len(rejected), rejected=rejected)
    write_text_atomic(out / MANIFEST, json.dumps(manifest, indent=2))  # last: only a finished set has one
    return manifest


def _options(mode: str, method, floor, roi_masks, min_roi_energy, border_crop: float | None) -> dict:
    if mode == "roi-mask":
        return {"roi_masks": str(roi_masks)}
    if mode == "crop":
        return {"border_crop": DEFAULT_BORDER_CROP if border_crop is None else border_crop}
    crop = {"border_crop": border_crop} if border_crop else {}  # seed 002 cropped first, then enhanced
    return {"method": method, "floor": floor, "roi_masks": str(roi_masks), "min_roi_energy": min_roi_energy, **crop}


def _check_arguments(mode: str, model, roi_masks, out: Path, data: Path) -> None:
    if mode not in MODES:
        raise CamviewerError(f"unknown refine mode {mode!r}; choose from {', '.join(MODES)}")
    if mode == "cam-overlay" and model is None:
        raise MissingInput(mode, "model", "a model to compute the maps")
    if mode == "cam-overlay" and roi_masks is None:
        raise MissingInput(mode, "roi_masks", "ROI masks to tell accurate maps from the others")
    if mode == "roi-mask" and roi_masks is None:
        raise MissingInput(mode, "roi_masks", "a folder of ROI masks (one mask per image, same relative path)")
    if out.resolve() == data.resolve() or data.resolve() in out.resolve().parents:
        raise DatasetError("the enhanced set must be written outside the original dataset")
    if out.exists() and any(out.iterdir()):
        raise DatasetError(f"{out} is not empty; choose a new folder (nothing is overwritten)")


def _target_path(out: Path, entry: ImageEntry, suffix: str = "") -> Path:
    key = Path(entry.key)
    path = out / key.with_name(f"{key.stem}{suffix}.png")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def judge_map(map01: np.ndarray, roi: np.ndarray | None, min_roi_energy: float = MIN_ROI_ENERGY) -> str | None:
    """None when the map is accurate (its peak and ``min_roi_energy`` of its mass in the ROI), else why not."""
    if roi is None:
        return "no region-of-interest mask"
    if roi.shape != map01.shape:
        return f"mask size {roi.shape} differs from image {map01.shape}"
    if not roi[peak(map01)]:
        return PEAK_OUTSIDE
    energy = energy_inside(map01, roi)
    if energy is None or energy < min_roi_energy:
        return f"{0 if energy is None else energy:.0%} of the map inside the region of interest"
    return None


def enhance(
    pixels: np.ndarray, map01: np.ndarray, floor: float = DEFAULT_FLOOR, share: float = KEPT_SHARE
) -> np.ndarray:
    """The ``share`` of pixels where the map is highest keep their values; the rest fade to ``floor`` (soft edge).

    Every copy keeps the same share, whatever its class: weighting by the map itself let the class be
    read off the copy's brightness (README "The refinement cycle, measured"). Pixels the model never
    saw (NaN in the map: a cropped border) count as unmarked.
    """
    import cv2

    scores = np.nan_to_num(map01, nan=-1.0).ravel()
    count = max(1, round(share * scores.size))
    kept = np.zeros(scores.size, np.float32)
    kept[np.argpartition(-scores, count - 1)[:count]] = 1.0
    soft = cv2.GaussianBlur(kept.reshape(map01.shape), (0, 0), EDGE_SIGMA * max(map01.shape))
    weight = floor + (1.0 - floor) * soft
    return pixels * (weight[:, :, None] if pixels.ndim == 3 else weight)


def _overlay_images(entries, out, model, roi: MaskFolder, method, floor, check, batch_size, skipped, rejected, cancel):
    from camviewer.core.explain.run import explain_iter

    targets = [e.label if e.label in model.card.class_names else "pred" for e in entries]
    single_label = model.card.head == "softmax"
    job = explain_iter(
        model, [e.path for e in entries], [method], targets, batch_size=batch_size, cancel=cancel, keep_images=True
    )
    for entry, event in zip(entries, job):
        result = event.payload
        failed = result.reason if isinstance(result, ExplainFailure) else _copied(entry, out)
        if failed is not None:  # unreadable, or not a regular file: neither the original nor a copy
            skipped.append((entry.key, failed))
        else:
            reason = _judge(result, entry, roi, method, check, single_label)
            if reason is None:
                pixels = enhance(result.image.pixels, next(iter(result.maps[method].values())), floor)
                write_png(_target_path(out, entry, ENHANCED_SUFFIX), to_uint8(pixels))
            else:
                rejected.append((entry.key, reason))
        yield entry.key


def _judge(result, entry: ImageEntry, roi: MaskFolder, method: str, check, single_label: bool) -> str | None:
    """Why this image's map makes no enhanced copy, or None: it lies in the ROI and explains a right answer."""
    (map01,) = result.maps[method].values()
    try:
        region = roi.region(entry.key)
    except AnnotationError as error:  # an unreadable mask
        return error.reason
    reason = check(map01, region.mask if region is not None else None)
    if reason is None and single_label and entry.label is not None and result.predicted != entry.label:
        reason = f"the model predicts {result.predicted}, not {entry.label}: its map explains a wrong answer"
    return reason


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
        failed = _copied(entry, out)
        if failed is not None:
            skipped.append((entry.key, failed))
        yield entry.key


def _copied(entry: ImageEntry, out: Path) -> str | None:
    """Copy an original into the new set; the reason it could not be (nothing was written), or None."""
    try:
        _copy_file(entry.path, out / entry.key)
    except ImageError as error:  # not a regular file, or unreadable
        return error.reason
    return None


def _copy_file(source: Path, target: Path) -> None:
    """A regular file copied atomically (a FIFO or a device is an ImageError: never read, so never blocking)."""
    with open_regular(source) as reading, atomic_path(target) as tmp, open(tmp, "wb") as writing:
        shutil.copyfileobj(reading, writing)


def overlay_advice(manifest: dict) -> str | None:
    """When most maps of a cam-overlay set peak outside the region of interest: why one cycle cannot help, and what does.

    Those images get no copy, and the originals still show the model what it looks at with the label it
    predicts, so fine-tuning keeps it (measured: README "The refinement cycle, measured").
    """
    outside = sum(reason == PEAK_OUTSIDE for _, reason in manifest.get("rejected", []))
    judged = manifest.get("enhanced", 0) + len(manifest.get("rejected", []))
    if manifest.get("mode") != "cam-overlay" or outside * 2 <= judged:
        return None
    return (
        f"{outside} of {judged} maps peak outside the region of interest: the model looks at something "
        "there (a marker, the border), those images get no enhanced copy, and fine-tuning on this set will "
        "not make it look elsewhere. Remove what it looks at first (seed 002 cropped the border before "
        "enhancing: a crop cycle), then build the cam-overlay set from the cropped model"
    )


def manifest_border_crop(data: str | Path) -> float | None:
    """The border crop a refined dataset asks training to put in the model card (crop mode, cam-overlay with a crop)."""
    manifest = read_manifest(data)
    crop = (manifest or {}).get("options", {}).get("border_crop")
    return None if crop is None else float(crop)
