"""The geometry of a preprocessing recipe: where each model input pixel comes from, and back. No torch.

A recipe is what users write in torchvision: ``Resize((224, 224))`` (stretch), ``Resize(256)`` +
``CenterCrop(224)`` (shorter side, aspect kept, centre crop), or a letterbox (fit inside a box, pad the
rest with black), after the card's ``border_crop``. The sizes and offsets follow torchvision's own
formulas (``_compute_resized_output_size``, ``_center_crop_compute_crop_anchor``/``_padding``), so the
pixels camviewer feeds a model are those torchvision would, and a map can be put back on the original
image through the exact inverse (:meth:`Placement.input_from_image`).
"""

from __future__ import annotations

from dataclasses import dataclass

Size = tuple[int, int]

# "bilinear", "bicubic", "nearest": torchvision's Resize on PIL images (antialiased; 8-bit sources are
# resized in 8 bits, as PIL does). "area": camviewer 0.x's resize (OpenCV INTER_AREA on floats when
# shrinking, INTER_LINEAR when enlarging), which the checkpoints it trained were trained with.
INTERPOLATIONS = ("bilinear", "bicubic", "nearest", "area")
DEFAULT_INTERPOLATION = "bilinear"
LEGACY_INTERPOLATION = "area"


def as_size(value: int | Size | list[int]) -> Size:
    """(height, width) from an int (square) or a pair."""
    if isinstance(value, int):
        return (value, value)
    height, width = value
    return (int(height), int(width))


def as_resize(value: int | Size | list[int]) -> int | Size:
    """An int (shorter side) stays an int; a pair becomes an exact (height, width)."""
    return int(value) if isinstance(value, (int, float)) else as_size(value)


def check_recipe(resize: int | Size | None, crop: Size | None, letterbox: bool, interpolation: str) -> None:
    """ValueError for a recipe that cannot give every image the same input size."""
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {', '.join(INTERPOLATIONS)}, not {interpolation!r}")
    sizes = [resize] if isinstance(resize, int) else list(resize or ())
    sizes += list(crop or ())
    if any(side < 1 for side in sizes):
        raise ValueError(f"sizes must be at least 1 pixel (resize {resize}, crop {crop})")
    if letterbox and crop is not None:
        raise ValueError("a letterbox keeps the whole image: it takes no centre crop")
    if isinstance(resize, int) and not letterbox and crop is None:
        raise ValueError(
            f"resizing the shorter side to {resize} keeps each image's aspect ratio, so images of different "
            "shapes would give inputs of different sizes; add a centre crop, or give an exact size HxW"
        )


def output_size(resize: int | Size, crop: Size | None, letterbox: bool) -> Size:
    """The model input size the recipe produces (checked with :func:`check_recipe` first)."""
    if crop is not None:
        return crop
    return as_size(resize) if letterbox or not isinstance(resize, int) else (resize, resize)


def resized_size(region: Size, resize: int | Size, letterbox: bool) -> Size:
    """The size an image region is resized to (before a centre crop or the letterbox padding)."""
    height, width = region
    if letterbox:
        box_h, box_w = as_size(resize)
        scale = min(box_h / height, box_w / width)
        return (min(box_h, max(1, round(height * scale))), min(box_w, max(1, round(width * scale))))
    if not isinstance(resize, int):
        return resize
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = resize, int(resize * long / short)  # torchvision's rule, truncation included
    return (new_long, new_short) if width <= height else (new_short, new_long)


def border_box(height: int, width: int, border_crop: float) -> tuple[int, int, int, int]:
    """(top, left, height, width) of the image after cutting ``border_crop`` off each side."""
    top, left = int(round(height * border_crop)), int(round(width * border_crop))
    return top, left, max(1, height - 2 * top), max(1, width - 2 * left)


def _offset(resized: int, target: int, letterbox: bool) -> int:
    """Where the resized image's first row (or column) lands in the model input (negative: cropped away)."""
    if letterbox:
        return (target - resized) // 2
    if target > resized:  # torchvision's CenterCrop pads a too-small image first (left/top gets the floor)
        return (target - resized) // 2
    return -int(round((resized - target) / 2.0))


@dataclass(frozen=True)
class Placement:
    """How one image becomes the model input: border crop, resize, then centre crop or letterbox padding.

    ``region``: (top, left, height, width) of the original image that is resized (the border crop).
    ``resized``: the size that region is resized to. ``offset``: (top, left) of the resized region in
    the model input; negative when a centre crop cuts it, positive when letterbox padding surrounds it.
    """

    image_size: Size
    region: tuple[int, int, int, int]
    resized: Size
    offset: Size
    input_size: Size

    def input_from_image(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """Per axis (rows, columns): (scale, shift) with input coordinate = scale * image coordinate + shift.

        Coordinates are pixel centres; resizing maps centres as torchvision and PIL do:
        resized = (x - region_start + 0.5) * resized_size / region_size - 0.5.
        """
        axes = []
        for start, length, resized, offset in zip(self.region[:2], self.region[2:], self.resized, self.offset):
            scale = resized / length
            axes.append((scale, (0.5 - start) * scale - 0.5 + offset))
        return axes[0], axes[1]

    def seen_box(self) -> tuple[int, int, int, int]:
        """(top, left, bottom, right), exclusive: original pixels whose centres land inside the model input."""
        bounds = []
        for (scale, shift), start, length, size in zip(
            self.input_from_image(), self.region[:2], self.region[2:], self.input_size
        ):
            low = max(start, _ceil((-0.5 - shift) / scale))
            high = min(start + length, _ceil((size - 0.5 - shift) / scale))
            bounds.append((low, max(low, high)))
        (top, bottom), (left, right) = bounds
        return top, left, bottom, right

    def content_box(self) -> tuple[int, int, int, int]:
        """(top, left, bottom, right), exclusive: model input pixels that hold image content (not padding)."""
        (top, left), (height, width) = self.offset, self.resized
        return (
            max(0, top),
            max(0, left),
            min(self.input_size[0], top + height),
            min(self.input_size[1], left + width),
        )


def _ceil(value: float) -> int:
    """Ceiling that forgives float noise (a centre exactly on the edge counts as inside once)."""
    nearest = round(value)
    return nearest if abs(value - nearest) < 1e-9 else int(-(-value // 1))


def place(image_size: Size, border_crop: float, resize: int | Size, crop: Size | None, letterbox: bool) -> Placement:
    """The :class:`Placement` of an image of ``image_size`` (height, width) under a recipe."""
    region = border_box(*image_size, border_crop)
    resized = resized_size(region[2:], resize, letterbox)
    target = output_size(resize, crop, letterbox)
    offset = (_offset(resized[0], target[0], letterbox), _offset(resized[1], target[1], letterbox))
    return Placement(tuple(image_size), region, resized, offset, target)


def describe(resize: int | Size, crop: Size | None, letterbox: bool, interpolation: str) -> str:
    """One line for people: "resize 256 (shorter side), centre crop 224×224, bilinear (torchvision)"."""
    if letterbox:
        height, width = as_size(resize)
        steps = [f"letterbox {height}×{width} (fit, black padding)"]
    elif isinstance(resize, int):
        steps = [f"resize {resize} (shorter side)"]
    else:
        steps = [f"resize {resize[0]}×{resize[1]} (stretch)"]
    if crop is not None:
        steps.append(f"centre crop {crop[0]}×{crop[1]}")
    steps.append("area (OpenCV, camviewer 0.x)" if interpolation == "area" else f"{interpolation} (torchvision)")
    return ", ".join(steps)
