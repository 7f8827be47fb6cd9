"""Synthetic two-class datasets with ground truth, to test training, CAMs and localization metrics.

Two kinds of procedural images that look like the real thing:

- ``cells``: a Giemsa-stained red blood cell crop (as in the NIH malaria set). ``parasitized``
  cells carry one or two ring-form trophozoites (a purple ring with a chromatin dot);
  ``uninfected`` ones do not. Both classes share the confounders (stain shifts, central pallor,
  pale stain debris, platelets, neighbouring cells, and as many dark purple decoys in the cell as
  there are objects in a parasitized one) so that no colour statistic gives the class away: only
  the ring shape does.
- ``xray``: a grayscale chest radiograph (body, lungs, ribs, spine, heart, clavicles, vessels,
  sometimes breast shadows or a calcified granuloma). ``pneumonia`` images carry a soft irregular
  opacity inside one lung; ``normal`` ones do not.
- ``ct``: a chest CT volume in Hounsfield units (NIfTI, on a scanner-like grid; see ``synth.ct``).
  ``nodule`` volumes carry one solid pulmonary nodule; ``normal`` ones do not.

Every image comes with a lesion mask, a region-of-interest mask (the cell body / the two lung
fields) and, for the 2-D kinds with ``shortcut`` > 0, an optional spurious corner tag on positives
only: a white box with a letter, like the side markers of real radiographs. A model may learn the
tag instead of the lesion, which is what the localization metrics and the CAM-guided refinement
cycle must detect.

Image ``i`` of a dataset depends only on ``(seed, i)`` (numpy ``SeedSequence``), never on ``n``.
Odd indices are positive, so a dataset of ``n`` images has ``n // 2`` positives and the rest
negatives. Whether a positive gets the tag uses a separate random stream, so the image content is
the same for every ``shortcut`` value and the tagged set only grows with ``shortcut``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from camviewer.core import csvfiles
from camviewer.core.errors import CamviewerError
from camviewer.core.jobs import CancelToken, Progress
from camviewer.core.synth.cells import draw_cells
from camviewer.core.synth.ct import FIELD_OF_VIEW_MM, LESION_COLUMNS, draw_ct, write_ct_sample
from camviewer.core.synth.drawing import paint
from camviewer.core.synth.xray import draw_xray

IMAGE_KINDS = ("cells", "xray")  # 2-D images (PNG); ct volumes are NIfTI
KINDS = (*IMAGE_KINDS, "ct")
GENERATOR = "camviewer.synth"
GENERATOR_VERSION = 1
DEFAULT_SIZE = {"cells": 128, "xray": 256, "ct": (64, 96, 96)}
MIN_SIZE, MAX_SIZE = 32, 2048
MIN_VOLUME_SIZE, MAX_VOLUME_SIZE = 16, 512
# kind -> (negative class, positive class)
CLASSES = {"cells": ("uninfected", "parasitized"), "xray": ("normal", "pneumonia"), "ct": ("normal", "nodule")}
# Top-level entries a synth output may hold: only these are replaced when re-generating into it.
_OWNED_ENTRIES = {"synth.json", "boxes.csv", "markers.csv", "lesions.csv", "masks", "roi"} | {
    name for pair in CLASSES.values() for name in pair
}


class SynthOutputError(CamviewerError):
    """The output folder cannot be used (it holds data that is not a previous synth output)."""


@dataclass
class SynthSample:
    """One generated image and its ground truth."""

    image: np.ndarray  # uint8 HxWx3 RGB (cells) or HxW (xray)
    lesion_mask: np.ndarray  # bool HxW, all False for negatives
    roi_mask: np.ndarray  # bool HxW: cell body or lung fields
    marker_box: tuple[int, int, int, int] | None  # x, y, w, h of the shortcut tag
    label: str


# ----------------------------------------------------------------------------- shortcut marker


def _draw_marker(image, rng, size: int, avoid: np.ndarray) -> tuple[int, int, int, int]:
    """A white tag with a letter in a random corner that does not cover the lesion."""
    side = max(10, int(round(rng.uniform(0.11, 0.15) * size)))  # a glyph needs some pixels
    margin = int(round(rng.uniform(0.02, 0.05) * size))
    letter = "LRAP"[rng.integers(4)]
    corners = [
        (margin, margin),
        (size - margin - side, margin),
        (margin, size - margin - side),
        (size - margin - side, size - margin - side),
    ]
    for index in rng.permutation(4):
        x, y = corners[index]
        if not avoid[y : y + side, x : x + side].any():
            break
    glyph = np.zeros((side, side), np.uint8)  # putText draws on 8-bit images only
    font, weight = cv2.FONT_HERSHEY_SIMPLEX, max(1, round(side / 9))
    (width, height), _ = cv2.getTextSize(letter, font, 1.0, weight)
    scale = 0.7 * side / max(width, height)
    (width, height), _ = cv2.getTextSize(letter, font, scale, weight)
    origin = ((side - width) // 2, (side + height) // 2)
    cv2.putText(glyph, letter, origin, font, scale, 255, weight, cv2.LINE_AA)
    tag = image[y : y + side, x : x + side]
    tag[...] = 1.0
    paint(tag, glyph.astype(np.float32) / 255, (0.05,) * 3 if image.ndim == 3 else 0.05)
    return x, y, side, side


# ----------------------------------------------------------------------------- public API


def make_sample(kind: str, positive: bool, rng: np.random.Generator, size: int, shortcut: bool) -> SynthSample:
    """Draw one 2-D image of ``kind``; ``shortcut`` adds the corner tag (callers give it to positives)."""
    if kind not in IMAGE_KINDS:
        raise ValueError(f"unknown image kind {kind!r}; expected one of {', '.join(IMAGE_KINDS)}")
    draw = draw_cells if kind == "cells" else draw_xray
    image, lesion, roi = draw(rng, size, positive)
    marker_box = _draw_marker(image, rng, size, lesion) if shortcut else None
    pixels = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    return SynthSample(pixels, lesion.astype(bool), roi.astype(bool), marker_box, CLASSES[kind][int(positive)])


def is_positive(index: int) -> bool:
    """Odd indices are positive: ``n // 2`` positives, independent of ``n`` for any image."""
    return index % 2 == 1


def sample_rngs(seed: int, index: int) -> tuple[np.random.Generator, np.random.Generator]:
    """(content, shortcut) random streams of image ``index``: two children of (seed, index)."""
    content, shortcut = np.random.SeedSequence(seed, spawn_key=(index,)).spawn(2)
    return np.random.default_rng(content), np.random.default_rng(shortcut)


def check_arguments(
    kind: str, n: int, seed: int, size: int | tuple[int, int, int] | None, shortcut: float
) -> str | None:
    """The reason the arguments are unusable, or None. ``size``: pixels (2-D kinds) or (D, H, W) voxels (ct)."""
    if kind not in KINDS:
        return f"unknown kind {kind!r}; expected one of: {', '.join(KINDS)}"
    if n < 2:
        return f"n must be at least 2 (one image per class), got {n}"
    if seed < 0:
        return f"seed must be >= 0, got {seed}"
    if kind == "ct":
        if size is not None and (
            isinstance(size, int)
            or len(size) != 3
            or not all(MIN_VOLUME_SIZE <= voxels <= MAX_VOLUME_SIZE for voxels in size)
        ):
            return f"a ct size is DxHxW voxels, each between {MIN_VOLUME_SIZE} and {MAX_VOLUME_SIZE}, got {size}"
        if shortcut:
            return "shortcut tags are drawn on 2-D images only, not on ct volumes"
    elif size is not None and (not isinstance(size, int) or not MIN_SIZE <= size <= MAX_SIZE):
        return f"size must be one number of pixels between {MIN_SIZE} and {MAX_SIZE}, got {size}"
    if not 0.0 <= shortcut <= 1.0:
        return f"shortcut probability must be within [0, 1], got {shortcut}"
    return None


def _prepare_output(out: Path) -> None:
    """Create ``out`` or clear a previous synth output in it; refuse anything else."""
    if out.exists() and not out.is_dir():
        raise SynthOutputError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    entries = sorted(out.iterdir())
    if not entries:
        return
    try:
        previous = json.loads((out / "synth.json").read_text(encoding="utf-8"))
        ours = isinstance(previous, dict) and previous.get("generator") == GENERATOR
    except (OSError, ValueError):
        ours = False
    foreign = [entry.name for entry in entries if entry.name not in _OWNED_ENTRIES]
    if not ours or foreign:
        listed = ", ".join(foreign[:3] or [entry.name for entry in entries[:3]])
        raise SynthOutputError(
            f"{out}: folder is not empty and is not a previous synth output (holds {listed}); "
            "choose a new or empty folder"
        )
    for entry in entries:  # a previous synth output: replace it wholesale so no stale image remains
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _write_png(path: Path, pixels: np.ndarray) -> None:
    if pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".png", pixels)
    if not ok:
        raise SynthOutputError(f"{path}: could not encode PNG")
    path.write_bytes(encoded.tobytes())  # imencode + write_bytes also copes with non-ASCII paths


def mask_boxes(mask: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Tight (x, y, w, h) of each 8-connected component, in component order."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    return [tuple(int(v) for v in stats[i, :4]) for i in range(1, count)]


def _write_csv(path: Path, rows: list, header=("path", "x", "y", "w", "h", "label")) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csvfiles.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def generate(
    out_dir,
    kind: str,
    n: int,
    seed: int,
    size: int | tuple[int, int, int] | None = None,
    shortcut: float = 0.0,
    cancel: CancelToken | None = None,
) -> Generator[Progress, None, dict]:
    """Write a synthetic dataset under ``out_dir``; yields Progress per image, returns the summary.

    Layout: ``<class>/<stem>.png`` images, ``masks/`` and ``roi/`` masks (0/255) at the same
    relative paths, ``boxes.csv`` (one row per lesion component), ``markers.csv`` (one row per
    shortcut tag) and ``synth.json`` (the returned summary). ``synth.json`` is written first with
    ``complete: false`` so that an interrupted run is still recognised and replaced next time.
    ``ct`` writes ``<class>/<stem>.nii.gz`` volumes (int16 HU) with 0/1 masks on the same grid and
    ``lesions.csv`` (a nodule's voxel box, centre in RAS mm and diameter) instead of the two CSVs.
    """
    problem = check_arguments(kind, n, seed, size, shortcut)
    if problem:
        raise ValueError(problem)
    size = size or DEFAULT_SIZE[kind]
    if kind == "ct":
        size = tuple(size)
    out = Path(out_dir)
    _prepare_output(out)
    _negative, positive = CLASSES[kind]
    counts = {name: n // 2 if name == positive else n - n // 2 for name in sorted(CLASSES[kind])}
    summary = {
        "generator": GENERATOR,
        "version": GENERATOR_VERSION,
        "kind": kind,
        "n": n,
        "seed": seed,
        "size": list(size) if kind == "ct" else size,
        "shortcut": shortcut,
        "class_names": sorted(CLASSES[kind]),
        "positive_class": positive,
        "counts": counts,
        "markers": 0,
        "complete": False,
    }
    if kind == "ct":  # every volume of the dataset has the same grid; each has its own table position
        spacing = [round(extent / voxels, 4) for extent, voxels in zip(FIELD_OF_VIEW_MM, size)]
        summary.update(spacing_mm=spacing, units="HU")
    (out / "synth.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    for folder in (out, out / "masks", out / "roi"):
        for name in CLASSES[kind]:
            (folder / name).mkdir(parents=True, exist_ok=True)
    lesion_rows, marker_rows = [], []
    for index in range(n):
        if cancel is not None:
            cancel.raise_if_cancelled()
        content_rng, shortcut_rng = sample_rngs(seed, index)
        positive_image = is_positive(index)
        if kind == "ct":
            relative = f"{CLASSES[kind][int(positive_image)]}/ct_{index:05d}.nii.gz"
            lesion_rows += write_ct_sample(out, relative, draw_ct(content_rng, size, positive_image), positive)
            yield Progress(index + 1, n, f"{index + 1}/{n} volumes")
            continue
        tagged = positive_image and shortcut_rng.random() < shortcut
        sample = make_sample(kind, positive_image, content_rng, size, tagged)
        relative = f"{sample.label}/{kind}_{index:05d}.png"
        _write_png(out / relative, sample.image)
        _write_png(out / "masks" / relative, sample.lesion_mask.astype(np.uint8) * 255)
        _write_png(out / "roi" / relative, sample.roi_mask.astype(np.uint8) * 255)
        lesion_rows += [(relative, *box, sample.label) for box in mask_boxes(sample.lesion_mask)]
        if sample.marker_box is not None:
            marker_rows.append((relative, *sample.marker_box, "marker"))
        yield Progress(index + 1, n, f"{index + 1}/{n} images")
    if kind == "ct":
        _write_csv(out / "lesions.csv", lesion_rows, LESION_COLUMNS)
    else:
        _write_csv(out / "boxes.csv", lesion_rows)
        _write_csv(out / "markers.csv", marker_rows)
    summary.update(markers=len(marker_rows), complete=True)
    (out / "synth.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary
