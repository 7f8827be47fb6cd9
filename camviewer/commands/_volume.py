"""The volume recipe's arguments, shared by the sub-commands that load a model: --spatial-dims, --spacing, --window."""

from __future__ import annotations

import argparse
import math


def _numbers(text: str) -> list[float]:
    """Finite numbers separated by commas; [] where any item is not one."""
    try:
        values = [float(item) for item in text.split(",") if item.strip()]
    except ValueError:
        return []
    return values if all(math.isfinite(value) for value in values) else []


def spacing(text: str) -> tuple[float, float, float]:
    """--spacing: one value (isotropic) or three, in mm along (d, h, w)."""
    values = _numbers(text.replace("x", ","))
    if len(values) not in (1, 3) or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"expected MM or D,H,W in mm (positive), not {text!r}")
    return tuple(values * 3 if len(values) == 1 else values)


def window(text: str) -> tuple[float, float]:
    """--window=LOW,HIGH in the volume's units (HU for CT), or a CT preset's name (lung, mediastinum...)."""
    from camviewer.core.volumes.records import CT_WINDOWS

    presets = {preset.name: preset for preset in CT_WINDOWS}
    if text.lower() in presets:
        preset = presets[text.lower()]
        return (preset.center - preset.width / 2, preset.center + preset.width / 2)
    values = _numbers(text)
    if len(values) != 2 or not values[0] < values[1]:
        raise argparse.ArgumentTypeError(
            f"expected LOW,HIGH with LOW < HIGH (--window=-1000,400) or one of {', '.join(presets)}, not {text!r}"
        )
    return tuple(values)


def add_volume_arguments(group) -> None:
    """--spatial-dims, --spacing and --window (the rest of the recipe's flags are the images')."""
    group.add_argument(
        "--spatial-dims",
        type=int,
        choices=(2, 3),
        help="build a MONAI network (monai:NAME) or TinyVGG for images (2) or volumes (3; MONAI's default)",
    )
    group.add_argument(
        "--spacing",
        type=spacing,
        metavar="MM|D,H,W",
        help="volumes: resample to this voxel size in mm (as MONAI's Spacing), then centre crop/pad to --input-size",
    )
    group.add_argument(
        "--window",
        type=window,
        metavar="LOW,HIGH|PRESET",
        help="volumes: scale this range of values to [0, 1], e.g. --window=-1000,400 (HU), or a CT preset: lung, "
        "mediastinum, abdomen, bone, brain (default: z-score per volume)",
    )


def volume_arguments(args: argparse.Namespace) -> dict | None:
    """--spacing and --window as load_model's ``volume`` changes (None: none given)."""
    given = {key: getattr(args, key, None) for key in ("spacing", "window")}
    given = {key: value for key, value in given.items() if value is not None}
    if "window" in given:
        given["intensity"] = "window"
    return given or None
