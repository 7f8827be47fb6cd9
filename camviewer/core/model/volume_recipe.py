"""The 3-D preprocessing recipe of a volume model: the grid it sees, the intensities, and the way back. No torch.

A volume model is fed as a MONAI pipeline would feed it, in this order:

1. **Grid.** Without ``spacing``: the whole field of view resized to ``size`` (d, h, w) voxels, trilinear with voxel
   edges kept (MONAI ``Resize(mode="trilinear")``, torch ``align_corners=False``). With ``spacing`` (mm along d,
   h, w): resampled to exactly that spacing, the first voxel's centre kept (MONAI ``Spacing(pixdim,
   mode="bilinear")``: ``round((n - 1) * old / new + 1)`` voxels per axis, edge values repeated beyond the last).
2. **Intensity.** ``zscore`` unless a window is given (it suits CT and MR alike); ``window``: source units (HU for CT) from ``window[0]`` to ``window[1]`` scaled to [0, 1] and
   clipped (MONAI ``ScaleIntensityRange(a_min, a_max, 0, 1, clip=True)``); ``zscore``: minus the volume's mean,
   over its standard deviation (MONAI ``NormalizeIntensity()``).
3. **Size**, with ``spacing`` only: a centre crop and/or zero padding to ``size`` (MONAI ``ResizeWithPadOrCrop``).
4. **Channels.** One, or the same values in three for a network whose stem wants three (video ResNets); then the
   card's mean/std.

Array axes stay as read (``Volume.array`` is (d, h, w)): the recipe never reorders them, so a map computed on the
model grid goes back onto the source voxels through :meth:`VolumePlacement.input_from_source` alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from camviewer.core.model import card_checks

Size3 = tuple[int, int, int]
INTENSITIES = ("window", "zscore")
CT_WINDOW = (-1000.0, 400.0)  # CT in HU: air and lung to soft tissue, bone edges still visible
DEFAULT_SIZE: Size3 = (96, 96, 96)


@dataclass(frozen=True)
class VolumeRecipe:
    """How a volume becomes a 3-D model input; see the module for each step."""

    size: Size3
    spacing: tuple[float, float, float] | None = None
    intensity: str | None = None  # None: "window" when a window is given, else "zscore"
    window: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "size", as_size3(self.size))
        if self.spacing is not None:
            object.__setattr__(self, "spacing", tuple(float(v) for v in _three(self.spacing, "spacing")))
            if min(self.spacing) <= 0:
                raise ValueError(f"a target spacing must be positive, not {self.spacing}")
        if self.intensity is None:
            object.__setattr__(self, "intensity", "zscore" if self.window is None else "window")
        if self.intensity not in INTENSITIES:
            raise ValueError(f"intensity must be one of {', '.join(INTENSITIES)}, not {self.intensity!r}")
        if self.intensity == "zscore":
            object.__setattr__(self, "window", None)
        elif self.window is None:
            raise ValueError("a window intensity needs its (low, high) values")
        else:
            low, high = (float(v) for v in self.window)
            if not high > low:
                raise ValueError(f"a window needs low < high, not [{low:g}, {high:g}]")
            object.__setattr__(self, "window", (low, high))

    def changed(self, size=None, spacing=None, window=None) -> VolumeRecipe:
        """A copy with the given grid size, spacing or window (which makes the intensity a window); None keeps."""
        changes = {"size": size, "spacing": spacing, "window": window}
        changes = {key: value for key, value in changes.items() if value is not None}
        return replace(self, **changes, **({"intensity": "window"} if window is not None else {}))

    def describe(self) -> str:
        """One line for people: "64×96×96 voxels (whole field of view, trilinear), window [-1000, 400] -> [0, 1]"."""
        grid = "×".join(str(n) for n in self.size)
        if self.spacing is None:
            steps = [f"{grid} voxels (whole field of view, trilinear)"]
        else:
            mm = " × ".join(f"{v:g}" for v in self.spacing)
            steps = [f"{mm} mm voxels (first voxel kept), centre crop/pad to {grid}"]
        if self.intensity == "window":
            steps.append(f"window [{self.window[0]:g}, {self.window[1]:g}] -> [0, 1]")
        else:
            steps.append("z-score per volume")
        return ", ".join(steps)

    def placement(self, shape, spacing) -> VolumePlacement:
        """Where the model input comes from in a volume of ``shape`` voxels of ``spacing`` mm (d, h, w), and back."""
        shape = as_size3(shape)
        if self.spacing is None:  # edges kept: input = (source + 0.5) * size / n - 0.5
            scales = [new / old for old, new in zip(shape, self.size)]
            return VolumePlacement(shape, self.size, shape, tuple((s, 0.5 * s - 0.5) for s in scales))
        resampled = spacing_grid(shape, spacing, self.spacing)
        axes = tuple(
            (old_mm / new_mm, -float(crop_or_pad_offset(n, size)))
            for old_mm, new_mm, n, size in zip(spacing, self.spacing, resampled, self.size)
        )
        return VolumePlacement(shape, self.size, resampled, axes)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {key: list(value) if isinstance(value, tuple) else value for key, value in data.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VolumeRecipe:
        known = ("size", "spacing", "intensity", "window")
        return cls(**{key: data[key] for key in known if key in data})


@dataclass(frozen=True)
class VolumePlacement:
    """One volume on the model grid: per axis (d, h, w), ``axes[a] = (scale, shift)`` with model input index =
    scale * source index + shift (voxel centres). ``resampled`` is the grid before a centre crop or pad."""

    source_shape: Size3
    input_size: Size3
    resampled: Size3
    axes: tuple[tuple[float, float], ...]

    def input_from_source(self) -> tuple[tuple[float, float], ...]:
        """Per axis (d, h, w): (scale, shift) with input index = scale * source index + shift."""
        return self.axes

    def seen_box(self) -> tuple[tuple[int, int], ...]:
        """Per axis (start, stop): the source voxels whose centres land inside the model input."""
        bounds = []
        for (scale, shift), old, size in zip(self.axes, self.source_shape, self.input_size):
            low = max(0, _ceil((-0.5 - shift) / scale))
            high = min(old, _ceil((size - 0.5 - shift) / scale))
            bounds.append((low, max(low, high)))
        return tuple(bounds)


def as_size3(value) -> Size3:
    """(d, h, w) from an int (a cube) or three ints, each from MIN_DEPTH to MAX_VOLUME_SIDE (``card_checks``)."""
    return card_checks.size("volume.size", (value,) * 3 if isinstance(value, int) else tuple(value), volume=True)


def grid_for_spacing(shape, spacing, target) -> Size3:
    """The grid covering the field of view of ``shape`` voxels of ``spacing`` mm with voxels of about ``target`` mm."""
    return tuple(max(1, round(n * s / t)) for n, s, t in zip(shape, spacing, target))


def spacing_grid(shape, spacing, target) -> Size3:
    """MONAI ``Spacing``'s grid: ``round((n - 1) * spacing / target + 1)`` voxels per axis (Python's round, like
    numpy's, takes halves to the even neighbour); the first voxel's centre stays where it is."""
    return tuple(max(1, round((n - 1) * s / t + 1.0)) for n, s, t in zip(shape, spacing, target))


def crop_or_pad_offset(old: int, new: int) -> int:
    """The old index of the new grid's first voxel in MONAI's centre crop (``old // 2`` stays central) or pad."""
    return old // 2 - new // 2 if old >= new else -((new - old) // 2)


def crop_or_pad_slices(shape, size) -> tuple[tuple[slice, ...], tuple[slice, ...]]:
    """(kept, placed): the slices of an array of ``shape`` that a centre crop/pad to ``size`` keeps, and where they go."""
    kept, placed = [], []
    for old, new in zip(shape, size):
        offset = crop_or_pad_offset(old, new)
        kept.append(slice(max(offset, 0), max(offset, 0) + min(old, new)))
        placed.append(slice(max(-offset, 0), max(-offset, 0) + min(old, new)))
    return tuple(kept), tuple(placed)


def _three(value, what: str) -> tuple:
    values = tuple(value)
    if len(values) != 3:
        raise ValueError(f"a volume {what} has three values (d, h, w), not {len(values)}")
    return values


def _ceil(value: float) -> int:
    """Ceiling that forgives float noise (a centre exactly on the edge counts as inside once)."""
    nearest = round(value)
    return nearest if abs(value - nearest) < 1e-9 else int(-(-value // 1))
