"""Explaining images: decode, batch, compute CAMs, upsample; and the folder export behind `camviewer explain`.

Decoding runs in a small thread pool ahead of the model (Pillow, OpenCV and torch release the
GIL), and outputs are written by another, so the model rarely waits for files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from camviewer.core.images import DecodedImage
from camviewer.core.volumes.read import VolumeSource
from camviewer.core.volumes.records import Volume

# A volume model explains volumes: NIfTI files, DICOM series folders, VolumeSources or Volumes.
ImageSource = str | Path | np.ndarray | DecodedImage | VolumeSource | Volume


@dataclass
class ExplainResult:
    """One image explained: ``maps[method][class_name]`` is H x W float32 in [0, 1] at the original size.

    For a volume, ``size`` is its (D, H, W) and each map is D x H x W on its voxels; ``volume`` holds it when kept.

    Pixels the model did not see (outside a centre or border crop) are NaN in ``maps``. ``empty`` names
    the (method, class) maps with nothing to show, and why (zero gradient, or no positive value).
    ``ranges[method][class_name]`` is the (low, high) of the map before its min-max: the map in the method's
    own units (after ReLU and resizing) is ``low + map * (high - low)``, to compare magnitudes across images.
    """

    source: str
    size: tuple[int, ...]
    probs: dict[str, float]
    predicted: str
    layer: str
    maps: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    raw: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    ranges: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    image: DecodedImage | None = None
    empty: dict[tuple[str, str], str] = field(default_factory=dict)
    volume: Volume | None = None


@dataclass
class ExplainFailure:
    source: str
    reason: str


@dataclass
class ExportNotice:
    """Something about an export as a whole that the user should read (e.g. an input folder holds the output)."""

    text: str
