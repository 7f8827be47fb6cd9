"""The model card: everything needed to use a set of weights correctly, stored with them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from camviewer.core.errors import InvalidModelCard
from camviewer.core.model import card_checks, recipe
from camviewer.core.model.volume_recipe import VolumeRecipe

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
GREY_MEAN, GREY_STD = (0.449,), (0.226,)  # ImageNet statistics averaged over RGB
HEADS = ("softmax", "sigmoid")
# 2: the preprocessing recipe (resize, crop, letterbox, interpolation). Version-1 cards only had
# ``input_size`` (stretch) and were trained with OpenCV's INTER_AREA: they load as "area".
CARD_VERSION = 2


@dataclass
class ModelCard:
    """Architecture, classes and preprocessing of a model.

    The preprocessing recipe, in order: ``border_crop``, then ``resize`` (an exact (height, width):
    stretch; an int: the shorter side, aspect kept, as torchvision's ``Resize(int)``), then a centre
    ``crop`` (height, width), or instead a ``letterbox`` (fit inside ``resize``, pad with black);
    ``interpolation`` as in :mod:`camviewer.core.model.recipe`; grey/RGB; ``mean``/``std`` (one entry
    per input channel). ``input_size`` is the (height, width) the model receives; given alone it
    means "stretch to this size" (``resize`` then stays None). ``head`` is "softmax" (one class per
    image) or "sigmoid" (multi-label).

    A volume model has a ``volume`` recipe (grid, intensity; see :mod:`~camviewer.core.model.volume_recipe`)
    instead of the 2-D geometry: its ``input_size`` is then the (depth, height, width) it sees.
    """

    arch: str
    class_names: list[str]
    input_size: tuple[int, ...] | None = None  # None: what the recipe gives, else 224 x 224; (d, h, w) for volumes
    channels: int = 3
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    head: str = "softmax"
    positive_class: str | None = None
    # Fraction of each side cut away before resizing (seed 002's centre crop against the void
    # around the body). Part of the card so that training and inference crop identically.
    border_crop: float = 0.0
    # Convert colour images to grey before matching channels (seed 003 fed grey copies to RGB models).
    grayscale: bool = False
    resize: int | tuple[int, int] | None = None  # None: stretch to input_size
    crop: tuple[int, int] | None = None
    letterbox: bool = False
    interpolation: str = recipe.DEFAULT_INTERPOLATION
    arch_options: dict[str, Any] = field(default_factory=dict)
    volume: VolumeRecipe | None = None  # the 3-D recipe of a volume model
    # Free-form provenance: training data, seed, metrics, notes on how the card was inferred.
    notes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        card_checks.check_fields(self)  # types and bounds first: a card may come from a hostile file
        self.class_names = list(self.class_names)
        self.channels, self.border_crop = int(self.channels), float(self.border_crop)
        self._settle_recipe()
        self.mean = tuple(float(v) for v in self.mean)
        self.std = tuple(float(v) for v in self.std)
        if self.channels == 3:  # a single value stands for all three channels
            self.mean = self.mean * 3 if len(self.mean) == 1 else self.mean
            self.std = self.std * 3 if len(self.std) == 1 else self.std
        self.validate()

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def spatial_dims(self) -> int:
        """3 for a volume model, 2 for an image model."""
        return 2 if self.volume is None else 3

    def validate(self) -> None:
        """Raises InvalidModelCard (a ValueError) naming the field that is wrong."""
        card_checks.check_values(self)
        if self.head not in HEADS:
            raise InvalidModelCard("head", f"must be one of {', '.join(HEADS)}, not {self.head!r}")
        if self.positive_class is not None and self.positive_class not in self.class_names:
            raise InvalidModelCard("positive_class", f"{self.positive_class!r} is not one of the class names")
        recipe.check_recipe(self.resize, self.crop, self.letterbox, self.interpolation)

    def _settle_recipe(self) -> None:
        """Normal form: a plain stretch is ``resize=None`` + ``input_size``; otherwise input_size follows the recipe."""
        if self.volume is not None or (self.input_size is not None and len(self.input_size) == 3):
            self._settle_volume_recipe()
            return
        self.crop = None if self.crop is None else recipe.as_size(self.crop)
        self.letterbox = bool(self.letterbox)
        self.resize = None if self.resize is None else recipe.as_resize(self.resize)
        if isinstance(self.resize, tuple) and self.crop is None and not self.letterbox:
            given, self.resize = self.resize, None  # an exact size alone is a stretch
            if self.input_size is not None and recipe.as_size(self.input_size) != given:
                raise ValueError(f"input size {self.input_size} disagrees with the resize to {given}")
            self.input_size = given
        if self.resize is None:
            if self.crop is not None or self.letterbox:
                raise ValueError("a centre crop or a letterbox needs a resize size")
            self.input_size = recipe.as_size(self.input_size or (224, 224))
            return
        recipe.check_recipe(self.resize, self.crop, self.letterbox, self.interpolation)
        produced = recipe.output_size(self.resize, self.crop, self.letterbox)
        if self.input_size is not None and recipe.as_size(self.input_size) != produced:
            raise ValueError(
                f"input size {tuple(self.input_size)} disagrees with the recipe ({self.describe_recipe()} "
                f"gives {produced[0]}x{produced[1]}); change one or the other"
            )
        self.input_size = produced

    def _settle_volume_recipe(self) -> None:
        """A volume card: ``input_size`` is the volume recipe's size (given alone, it makes a default recipe)."""
        if isinstance(self.volume, dict):
            self.volume = VolumeRecipe.from_dict(self.volume)
        if self.volume is None:
            self.volume = VolumeRecipe(self.input_size)
        elif self.input_size is not None and tuple(self.input_size) != self.volume.size:
            raise ValueError(
                f"input size {tuple(self.input_size)} disagrees with the volume recipe's {self.volume.size}"
            )
        if self.resize is not None or self.crop is not None or self.letterbox:
            raise ValueError("a volume model's grid is its volume recipe: it takes no 2-D resize, crop or letterbox")
        self.input_size = self.volume.size

    def with_recipe(self, **changes: Any) -> ModelCard:
        """A copy with other preprocessing (``input_size`` alone: a stretch); the rest of the card is kept."""
        keys = ("input_size", "resize", "crop", "letterbox")
        if self.volume is None and changes.get("volume") is not None:  # an image card becomes a volume card
            return replace(self, **(dict.fromkeys(keys) | {"letterbox": False} | changes))
        if self.volume is not None:  # the grid is the volume recipe's: a new size goes there
            size = changes.pop("input_size", None)
            volume = changes.pop("volume", self.volume)
            volume = volume if size is None else replace(volume, size=tuple(size))
            return replace(self, input_size=None, volume=volume, **changes)
        if any(key in changes for key in keys):  # a new geometry replaces the old one as a whole
            changes = dict.fromkeys(keys) | {"letterbox": False} | changes
        return replace(self, **changes)

    def placement(self, image_size: tuple[int, int]) -> recipe.Placement:
        """Where the model input comes from in an image of ``image_size`` (height, width), and back."""
        if self.volume is not None:
            raise ValueError("a volume model has a volume placement (VolumeRecipe.placement), not an image one")
        return recipe.place(image_size, self.border_crop, self.resize or self.input_size, self.crop, self.letterbox)

    def describe_recipe(self) -> str:
        if self.volume is not None:
            return self.volume.describe()
        return recipe.describe(self.resize or self.input_size, self.crop, self.letterbox, self.interpolation)

    def class_index(self, name_or_index: str | int) -> int:
        """Index of a class given by name or index (as int or digit string)."""
        if isinstance(name_or_index, str) and name_or_index in self.class_names:
            return self.class_names.index(name_or_index)
        try:
            index = int(name_or_index)
        except (TypeError, ValueError):
            raise KeyError(f"unknown class {name_or_index!r}; classes are {self.class_names}") from None
        if not 0 <= index < self.num_classes:
            raise KeyError(f"class index {index} out of range 0..{self.num_classes - 1}")
        return index

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["input_size"] = list(self.input_size)
        if self.volume is None:
            data["resize"] = self.resize if isinstance(self.resize, int) else list(self.resize or self.input_size)
        else:
            data["volume"] = self.volume.to_dict()
        data["crop"] = None if self.crop is None else list(self.crop)
        data["mean"] = list(self.mean)
        data["std"] = list(self.std)
        data["card_version"] = CARD_VERSION
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        if not isinstance(data, dict):
            raise InvalidModelCard(None, f"expected a JSON object, found {type(data).__name__}")
        missing = [name for name in ("arch", "class_names") if name not in data]
        if missing:
            raise InvalidModelCard(missing[0], "missing")
        version = data.get("card_version", 1)
        if isinstance(version, bool) or not isinstance(version, int):
            raise InvalidModelCard("card_version", f"must be a whole number, not {version!r}")
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        if version < 2:  # trained by camviewer 0.x: stretched with INTER_AREA
            values.setdefault("interpolation", recipe.LEGACY_INTERPOLATION)
        try:
            return cls(**values)
        except InvalidModelCard:
            raise
        except ValueError as error:  # fields of the right types and sizes that make no recipe together
            raise InvalidModelCard("recipe", str(error)) from None

    @classmethod
    def from_json(cls, text: str) -> ModelCard:
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as error:
            raise InvalidModelCard(None, f"not valid JSON ({error})") from None
        return cls.from_dict(data)


def default_class_names(num_classes: int) -> list[str]:
    return [f"class_{i}" for i in range(num_classes)]
