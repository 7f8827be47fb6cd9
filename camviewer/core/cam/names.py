"""CAM method names, what each costs, and their settings: plain values, no torch (the GUI reads them at start-up).

Families: ``gradient`` maps come from A and G = dScore/dA of the engine's single forward and backward
(the backward stops at the target layer); ``contrast`` maps too, from one more backward of another score
on the same pass; ``activation`` maps need the forward only; ``batched`` maps need many forwards, run in
batches; ``pixel`` maps are attributions to the input pixels (Captum), at the model input's resolution,
not the layer's; ``attention`` maps (rollout) come from the attention of every block of a ViT-like model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

from camviewer.core.errors import CamError


@dataclass(frozen=True)
class MethodInfo:
    family: str  # gradient, contrast, activation, batched, pixel, attention
    cost: str  # what it costs per image, in words
    slow: bool = False  # many passes of the model per image: seconds on a CPU


ONE_PASS = "the shared forward and backward pass"
METHOD_INFO: dict[str, MethodInfo] = {
    "gradcam": MethodInfo("gradient", ONE_PASS),
    "gradcam++": MethodInfo("gradient", ONE_PASS),
    "xgradcam": MethodInfo("gradient", ONE_PASS),
    "layercam": MethodInfo("gradient", ONE_PASS),
    "hirescam": MethodInfo("gradient", ONE_PASS),
    "gradcam-elementwise": MethodInfo("gradient", ONE_PASS),
    "eigengradcam": MethodInfo("gradient", ONE_PASS),
    "finercam": MethodInfo("contrast", "the shared pass and one more backward to the layer"),
    "shapleycam": MethodInfo("contrast", "the shared pass and a backward with a Hessian-vector product to the layer"),
    "cam": MethodInfo("activation", "the shared forward pass"),
    "eigencam": MethodInfo("activation", "the shared forward pass"),
    "scorecam": MethodInfo("batched", "one forward of the whole model per channel of the layer", slow=True),
    "ablationcam": MethodInfo("batched", "one forward of the layers after the target layer per channel", slow=True),
    "smoothgradcam++": MethodInfo("batched", "one forward and backward per noisy copy of the input"),
    "integrated-gradients": MethodInfo("pixel", "one forward and backward to the input per step", slow=True),
    "occlusion": MethodInfo("pixel", "one forward of the whole model per occluded window", slow=True),
    "guided-gradcam": MethodInfo("pixel", "one forward and backward to the input"),
    "rollout": MethodInfo("attention", "the shared forward pass, the attention of every block recorded"),
    "gradrollout": MethodInfo("attention", "the shared forward pass and one backward through every block"),
}
METHODS = tuple(METHOD_INFO)
CONTRAST_METHODS = tuple(name for name, info in METHOD_INFO.items() if info.family == "contrast")
PIXEL_METHODS = tuple(name for name, info in METHOD_INFO.items() if info.family == "pixel")


@dataclass(frozen=True)
class MethodSettings:
    """Parameters of the methods that have any; the defaults are the reference implementations'."""

    batch_size: int = 32  # inputs per forward for the batched and pixel methods
    finer_alpha: float = 1.0  # FinerCAM: weight of the similar classes' scores
    finer_classes: int = 3  # FinerCAM: how many of the most similar classes
    smooth_samples: int = 4  # Smooth Grad-CAM++: noisy copies of the input
    smooth_std: float = 0.3  # Smooth Grad-CAM++: noise standard deviation, on the normalised input
    smooth_seed: int = 0  # Smooth Grad-CAM++: the same image always gets the same noise
    ig_steps: int = 50  # Integrated Gradients: steps from the baseline (0: the mean image) to the input
    occlusion_window: int | None = None  # Occlusion: side in input pixels; None: the shorter side / 8
    occlusion_stride: int | None = None  # Occlusion: None: half the window

    def __post_init__(self) -> None:
        at_least_one = (
            "batch_size",
            "finer_classes",
            "smooth_samples",
            "ig_steps",
            "occlusion_window",
            "occlusion_stride",
        )
        wrong = [name for name in at_least_one if getattr(self, name) is not None and getattr(self, name) < 1]
        wrong += [name for name in ("finer_alpha", "smooth_std") if getattr(self, name) < 0]
        if wrong:
            raise CamError(f"method settings out of range: {', '.join(f'{n}={getattr(self, n)}' for n in wrong)}")

    @classmethod
    def from_text(cls, options: dict[str, str]) -> MethodSettings:
        """Settings from ``name: value`` text pairs (the field names above); unknown names and bad values refused."""
        kinds = {f.name: float if f.type == "float" else int for f in fields(cls)}
        unknown = sorted(set(options) - set(kinds))
        if unknown:
            raise CamError(f"unknown method setting(s) {unknown}; known: {', '.join(kinds)}")
        try:
            return cls(**{name: kinds[name](value) for name, value in options.items()})
        except ValueError as error:
            raise CamError(f"a method setting that is not a number: {error}") from None


@dataclass(frozen=True)
class MostProbable:
    """Per image: the most probable of these classes (a data label that stands for a group of model classes)."""

    classes: tuple[str | int, ...]


# Per image: a class name or index, "pred", a MostProbable group, or a list of these (several maps).
Choice = str | int | MostProbable | list[str | int | MostProbable]
# "pred", "all", a class name or index for every image, or one Choice per image.
Target = str | int | Sequence[Choice]


def validate_methods(methods: Sequence[str]) -> tuple[str, ...]:
    methods = tuple(dict.fromkeys(m.strip().lower() for m in methods))
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise CamError(f"unknown CAM method(s) {unknown}; choose from {', '.join(METHODS)}")
    return methods
