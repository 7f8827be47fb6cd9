"""Plain values passed between the panels, the session and the workers (no Qt, no torch)."""

from __future__ import annotations

from dataclasses import dataclass

COMPARE_MODES = {"off": "Off", "methods": "Methods side by side", "classes": "Classes side by side"}
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
