"""Plain values passed between the panels, the session and the workers (no Qt, no torch)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the readers load pydicom and Pillow: imported by the workers, after the window is up
    import numpy as np

    from camviewer.core.images import Window

COMPARE_MODES = {
    "off": "Off",
    "methods": "Methods side by side",
    "classes": "Classes side by side",
    "models": "Two models side by side",
}
MAP_SCALES = {"image": "Per image (min–max)", "fixed": "Fixed for the folder"}
OUTLINES = {"none": "None", "contour": "Contour", "box": "Boxes"}
PREDICTED = "pred"  # the target meaning "the class the model predicts"


@dataclass(frozen=True)
class ComputeOptions:
    """What to compute. Changing any of these needs the engine again."""

    method: str = "gradcam"
    target: str = PREDICTED  # "pred" or a class name
    layer: str | None = None  # None: the engine's automatic choice
    compare: str = "off"  # one of COMPARE_MODES
    compare_methods: tuple[str, ...] = ("gradcam", "gradcam++", "xgradcam", "layercam", "hirescam", "eigencam")

    def engine_methods(self) -> tuple[str, ...]:
        """The methods one engine pass computes (the shown one first)."""
        if self.compare == "methods":
            return tuple(dict.fromkeys((self.method, *self.compare_methods)))
        return (self.method,)

    def engine_target(self) -> str:
        return "all" if self.compare == "classes" else self.target


@dataclass(frozen=True)
class DisplayOptions:
    """How to show a computed map. Changing these never calls the engine."""

    colormap: str = "jet"
    opacity: float = 0.5
    outline: str = "none"  # one of OUTLINES
    threshold: float = 0.5  # fraction of the map's maximum
    scale: str = "image"  # one of MAP_SCALES: each map stretched to its own range, or one maximum for the folder


@dataclass(frozen=True)
class Picture:
    """What the base layer can show of one image (display only: the model sees the decoded pixels)."""

    display: np.ndarray  # H x W x 3 uint8: the decoded pixels, as the model sees them
    values: np.ndarray  # the file's own values: H x W (HU, raw samples) or H x W x 3 (colour samples)
    units: str  # "HU", or "" for plain sample values
    start: Window  # the linear window closest to ``display``: where window/level starts from
    presets: tuple[Window, ...]  # the file's windows, CT presets, full range
    inverted: bool  # MONOCHROME1: the lowest value is drawn white

    @property
    def grey(self) -> bool:
        return self.values.ndim == 2


def shown_class(result, target: str) -> str:
    """The class whose map the single view shows for ``target`` ("pred" or a class name)."""
    if target != PREDICTED:
        return target
    return result.predicted


def covers(result, options: ComputeOptions, layer: str) -> bool:
    """True when an ExplainResult already holds every map ``options`` asks for at ``layer``."""
    if result is None or result.layer != layer:
        return False
    wanted_classes = list(result.probs) if options.compare == "classes" else [shown_class(result, options.target)]
    return all(
        method in result.maps and all(name in result.maps[method] for name in wanted_classes)
        for method in options.engine_methods()
    )


def main_map(result, options: ComputeOptions):
    """The map the single view shows: the selected method for the selected (or predicted) class."""
    return result.maps[options.method][shown_class(result, options.target)]


def empty_note(result, options: ComputeOptions) -> str | None:
    """Why the map the single view shows is empty (zero gradient, nothing positive), or None."""
    return result.empty.get((options.method, shown_class(result, options.target)))


def compare_maps(result, options: ComputeOptions) -> list[tuple[str, object]]:
    """(title, map) per compare cell: each method for the shown class, or each class for the method."""
    if options.compare == "classes":
        per_class = result.maps[options.method]
        return [
            (f"{name}  (p {result.probs[name]:.2f})", per_class[name]) for name in result.probs if name in per_class
        ]
    shown = shown_class(result, options.target)
    return [(method, result.maps[method][shown]) for method in options.engine_methods() if method in result.maps]
