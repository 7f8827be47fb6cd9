"""The model card's schema: each field's type and bounds, checked before any value is used.

A card comes from a file that may be damaged or hostile (a safetensors header, a ``.pt`` dict), so nothing
in it is trusted: a list where an object belongs, ``"abc"`` or ``2e9`` as a width, ``1e6`` as an input
size (a 12 TB allocation), a NaN standard deviation. Each is one :class:`InvalidModelCard` naming the field.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping, Sequence
from numbers import Real
from typing import Any

from camviewer.core.errors import InvalidModelCard

MIN_SIDE, MAX_SIDE = 8, 4096  # model input, pixels per side
MIN_DEPTH, MAX_VOLUME_SIDE = 2, 1024  # a volume model's grid (d, h, w): slices can be few, sides are voxels
MAX_CLASSES = 100_000
MAX_NAME_CHARS = 1024  # a class or architecture name
MAX_WIDTH = 4096  # channels of one layer of camviewer's own architectures
MAX_BLOCKS = 12  # TinyVGG blocks: 2**12 = 4096, the largest input side
CHANNELS = (1, 3)
TINYVGG_DEFAULT_WIDTHS = (10, 10)
TIMM_RESERVED = ("num_classes", "in_chans", "img_size", "cache_dir", "features_only")  # the rest of timm's options


def check_fields(card: Any) -> None:
    """Types and bounds of the fields a card was given, before they are converted (``ModelCard.__post_init__``)."""
    _name("arch", card.arch)
    _class_names(card.class_names)
    for field in ("input_size", "resize", "crop"):  # the recipe's sizes (resize: a side, or height and width)
        if getattr(card, field) is not None:
            size(field, getattr(card, field), volume=field == "input_size")
    for field in ("letterbox", "grayscale"):
        if not isinstance(getattr(card, field), bool):
            raise InvalidModelCard(field, f"must be true or false, not {getattr(card, field)!r}")
    if not isinstance(card.interpolation, str):
        raise InvalidModelCard("interpolation", f"must be a name, not {card.interpolation!r}")
    if _integer("channels", card.channels) not in CHANNELS:
        raise InvalidModelCard("channels", f"must be 1 or 3, not {card.channels}")
    for field in ("mean", "std"):
        _numbers(field, getattr(card, field))
    _number("border_crop", card.border_crop)
    if card.positive_class is not None and not isinstance(card.positive_class, str):
        raise InvalidModelCard("positive_class", f"must be a class name, not {card.positive_class!r}")
    for field in ("arch_options", "notes"):
        if not isinstance(getattr(card, field), Mapping):
            raise InvalidModelCard(field, f"must be an object, not {type(getattr(card, field)).__name__}")
    _arch_options(card.arch, card.arch_options)


def check_values(card: Any) -> None:
    """What holds between the converted fields (``ModelCard.validate``), the input size the recipe gives included."""
    size("input_size", card.input_size, volume=True)
    if len(card.mean) != card.channels or len(card.std) != card.channels:
        raise InvalidModelCard("mean", f"mean and std need {card.channels} values each")
    if any(s <= 0 for s in card.std):
        raise InvalidModelCard("std", "values must be positive")
    if not 0.0 <= card.border_crop < 0.5:
        raise InvalidModelCard("border_crop", f"must be in [0, 0.5), not {card.border_crop}")
    blocks = len(card.arch_options.get("widths", TINYVGG_DEFAULT_WIDTHS))
    if card.arch in ("tinyvgg", "tinyvgg_gap") and min(card.input_size) < 2**blocks:
        raise InvalidModelCard(
            "input_size", f"{card.input_size} is too small for {blocks} TinyVGG blocks ({2**blocks} px)"
        )


def size(field: str, value: Any, volume: bool = False) -> tuple[int, ...]:
    """A (height, width) or a single side; each side a whole number from MIN_SIDE to MAX_SIDE.

    ``volume``: a volume model's (depth, height, width) is allowed too, each from MIN_DEPTH to MAX_VOLUME_SIDE.
    """
    sides = [value] if isinstance(value, int) else value
    counts = (1, 2, 3) if volume else (1, 2)
    if isinstance(sides, (str, bytes, Mapping)) or not isinstance(sides, Sequence) or len(sides) not in counts:
        raise InvalidModelCard(field, f"must be a size (height, width), not {value!r}")
    sides = [_integer(field, side) for side in sides]
    if len(sides) == 3:
        if not all(MIN_DEPTH <= side <= MAX_VOLUME_SIDE for side in sides):
            raise InvalidModelCard(
                field, f"each side must be from {MIN_DEPTH} to {MAX_VOLUME_SIDE} voxels, not {value!r}"
            )
        return tuple(sides)
    if not all(MIN_SIDE <= side <= MAX_SIDE for side in sides):
        raise InvalidModelCard(field, f"each side must be from {MIN_SIDE} to {MAX_SIDE} pixels, not {value!r}")
    return sides[0], sides[-1]


def label_key(name: str) -> str:
    """What tells two class names apart to a reader: the same text after Unicode normalisation and trimming."""
    return unicodedata.normalize("NFC", name).strip()


def _class_names(names: Any) -> None:
    if isinstance(names, (str, bytes, Mapping)) or not isinstance(names, Sequence):
        raise InvalidModelCard("class_names", f"must be a list of names, not {type(names).__name__}")
    if not 1 <= len(names) <= MAX_CLASSES:
        raise InvalidModelCard("class_names", f"needs 1 to {MAX_CLASSES:,} names, not {len(names):,}")
    seen: dict[str, str] = {}
    for name in names:
        _name("class_names", name)
        key = label_key(name)
        if key in seen:
            how = (
                "twice"
                if seen[key] == name
                else f"and {seen[key]!r}, which differ only in spaces or Unicode composition"
            )
            raise InvalidModelCard("class_names", f"{name!r} {how}: class names must be unique")
        seen[key] = name


def _name(field: str, value: Any) -> None:
    if not isinstance(value, str):
        raise InvalidModelCard(field, f"names must be text, not {value!r}")
    if not value.strip() or len(value) > MAX_NAME_CHARS:
        raise InvalidModelCard(field, f"names must have 1 to {MAX_NAME_CHARS} characters, not {len(value.strip())}")
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise InvalidModelCard(field, f"{value!r} holds a control character (a tab, a line break, ...)")


def _arch_options(arch: Any, options: Mapping) -> None:
    widths = options.get("widths")
    if widths is not None:
        if isinstance(widths, (str, bytes, Mapping)) or not isinstance(widths, Sequence):
            raise InvalidModelCard("arch_options.widths", f"must be a list of whole numbers, not {widths!r}")
        if not 1 <= len(widths) <= MAX_BLOCKS:
            raise InvalidModelCard("arch_options.widths", f"needs 1 to {MAX_BLOCKS} widths, not {len(widths)}")
        for width in widths:
            _width("arch_options.widths", width)
    if "conv_width" in options:
        _width("arch_options.conv_width", options["conv_width"])
    if isinstance(arch, str) and arch.startswith("timm:"):
        _timm_options(options)


def _timm_options(options: Mapping) -> None:
    """What goes to a timm constructor: plain values within bounds, never what camviewer sets itself or what
    makes timm load weights (a card must not point timm at a file, nor build a model of 10,000 blocks)."""
    for key, value in options.items():
        field = f"arch_options.{key}"
        if key in TIMM_RESERVED or (isinstance(key, str) and key.startswith(("pretrained", "checkpoint"))):
            raise InvalidModelCard(field, "is set by camviewer, not by a model card")
        items = value if isinstance(value, (list, tuple)) else [value]
        if len(items) > MAX_BLOCKS or not all(map(_plain, items)):
            raise InvalidModelCard(field, f"must be a name, a switch or a number up to {MAX_WIDTH}, not {value!r}")


def _plain(item: Any) -> bool:
    if item is None or isinstance(item, bool):
        return True
    if isinstance(item, str):
        return len(item) <= MAX_NAME_CHARS
    return isinstance(item, Real) and math.isfinite(item) and abs(item) <= MAX_WIDTH


def _width(field: str, value: Any) -> None:
    if not 1 <= _integer(field, value) <= MAX_WIDTH:
        raise InvalidModelCard(field, f"must be from 1 to {MAX_WIDTH} channels, not {value!r}")


def _integer(field: str, value: Any) -> int:
    """A whole number (``32`` or ``32.0``); not a bool, text, NaN or a fraction."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) or value != int(value):
        raise InvalidModelCard(field, f"must be a whole number, not {value!r}")
    return int(value)


def _number(field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise InvalidModelCard(field, f"must be a finite number, not {value!r}")
    return float(value)


def _numbers(field: str, values: Any) -> None:
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Sequence) or not 1 <= len(values) <= 3:
        raise InvalidModelCard(field, f"must be 1 or 3 numbers, not {values!r}")
    for value in values:
        _number(field, value)
