"""The model card: everything needed to use a set of weights correctly, stored with them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
GREY_MEAN, GREY_STD = (0.449,), (0.226,)  # ImageNet statistics averaged over RGB
HEADS = ("softmax", "sigmoid")
CARD_VERSION = 1


@dataclass
class ModelCard:
    """Architecture, classes and preprocessing of a model.

    ``input_size`` is (height, width): images are resized to it without cropping, so a map at
    layer resolution covers the whole original image. ``mean``/``std`` have one entry per
    input channel. ``head`` is "softmax" (one class per image) or "sigmoid" (multi-label).
    """

    arch: str
    class_names: list[str]
    input_size: tuple[int, int] = (224, 224)
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
    arch_options: dict[str, Any] = field(default_factory=dict)
    # Free-form provenance: training data, seed, metrics, notes on how the card was inferred.
    notes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.class_names = [str(name) for name in self.class_names]
        self.input_size = (int(self.input_size[0]), int(self.input_size[1]))
        self.mean = tuple(float(v) for v in self.mean)
        self.std = tuple(float(v) for v in self.std)
        if self.channels == 3:  # a single value stands for all three channels
            self.mean = self.mean * 3 if len(self.mean) == 1 else self.mean
            self.std = self.std * 3 if len(self.std) == 1 else self.std
        self.validate()

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def validate(self) -> None:
        if self.num_classes < 1:
            raise ValueError("a model card needs at least one class name")
        if len(set(self.class_names)) != self.num_classes:
            raise ValueError(f"class names must be unique: {self.class_names}")
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, not {self.channels}")
        if len(self.mean) != self.channels or len(self.std) != self.channels:
            raise ValueError(f"mean and std need {self.channels} values each")
        if any(s <= 0 for s in self.std):
            raise ValueError("std values must be positive")
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, not {self.head!r}")
        if self.positive_class is not None and self.positive_class not in self.class_names:
            raise ValueError(f"positive class {self.positive_class!r} is not one of {self.class_names}")
        if not 0.0 <= self.border_crop < 0.5:
            raise ValueError(f"border_crop must be in [0, 0.5), not {self.border_crop}")
        if min(self.input_size) < 1:
            raise ValueError(f"input size {self.input_size} is too small")

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
        data["mean"] = list(self.mean)
        data["std"] = list(self.std)
        data["card_version"] = CARD_VERSION
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    @classmethod
    def from_json(cls, text: str) -> ModelCard:
        return cls.from_dict(json.loads(text))


def default_class_names(num_classes: int) -> list[str]:
    return [f"class_{i}" for i in range(num_classes)]
