"""Datasets, label mappings and metrics that cannot be used as given."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from camviewer.core.errors.base import CamviewerError


class DatasetError(CamviewerError):
    """A dataset folder or partition file cannot be used."""


class EmptySplit(DatasetError):
    """A split that training needs (train or val) holds no images."""

    def __init__(self, source: str | Path, split: str):
        self.source, self.split = str(source), split
        super().__init__(f"{source}: no {split} images")


class AmbiguousGroundTruth(DatasetError):
    """Localization needs exactly one ground-truth source; ``given`` names those that were given."""

    KINDS = ("masks", "boxes", "coco", "voc")

    def __init__(self, given: list[str]):
        self.given = given
        found = ", ".join(given) if given else "none"
        super().__init__(
            f"exactly one ground-truth source is needed (masks, boxes, COCO or Pascal VOC); given: {found}"
        )


class AnnotationError(DatasetError):
    """A ground-truth file (boxes CSV, COCO JSON, Pascal VOC XML, mask) cannot be read.

    The facts are fields: ``path``; ``line`` (1-based, the header is line 1) and ``column`` for a bad
    cell, with its ``value``; ``columns`` found and ``missing`` roles for a header that was not understood.
    """

    def __init__(
        self,
        path: str | Path,
        reason: str,
        *,
        line: int | None = None,
        column: str | None = None,
        value: str | None = None,
        columns: tuple[str, ...] = (),
        missing: tuple[str, ...] = (),
    ):
        self.path, self.reason, self.line, self.column, self.value = str(path), reason, line, column, value
        self.columns, self.missing = tuple(columns), tuple(missing)
        super().__init__(f"{self.path}{f', line {line}' if line is not None else ''}: {reason}")


def _quoted(names) -> str:
    return ", ".join(repr(name) for name in names)


class LabelMappingError(DatasetError):
    """Data labels and model classes cannot be matched as asked."""


class LabelMapSyntaxError(LabelMappingError):
    """A label map's text cannot be read. ``entry`` is the offending part, ``reason`` why."""

    def __init__(self, entry: str, reason: str) -> None:
        self.entry, self.reason = entry, reason
        super().__init__(f"label map entry {entry!r}: {reason} (expected LABEL=CLASS or LABEL=CLASS|CLASS|...)")


class UnknownClasses(LabelMappingError):
    """Names given as model classes (in a label map, or as a positive or target class) that the model lacks."""

    def __init__(self, names: Sequence[str], model_classes: Sequence[str]) -> None:
        self.names, self.model_classes = list(names), list(model_classes)
        super().__init__(
            f"{_quoted(self.names)} {'is' if len(self.names) == 1 else 'are'} not among the model's classes "
            f"({_quoted(self.model_classes)})"
        )


class UnmatchedLabels(LabelMappingError):
    """Data labels that stand for none of the model's classes."""

    def __init__(self, labels: Sequence[str], model_classes: Sequence[str]) -> None:
        self.labels, self.model_classes = list(labels), list(model_classes)
        super().__init__(
            f"data label(s) {_quoted(self.labels)} match none of the model's classes ({_quoted(self.model_classes)})"
        )


class OverlappingGroups(LabelMappingError):
    """Two labels stand for groups that share some classes but not all: no single truth per image."""

    def __init__(self, labels: Sequence[str], shared: Sequence[str]) -> None:
        self.labels, self.shared = list(labels), list(shared)
        super().__init__(
            f"labels {_quoted(self.labels)} stand for overlapping groups (both include {_quoted(self.shared)}): "
            "two labels stand for the same classes or for disjoint ones"
        )


class NotOneToOne(LabelMappingError):
    """Fine-tuning needs each data label to be one class of the checkpoint, and each class to have a label."""

    def __init__(self, grouped: Sequence[str], shared: Mapping[str, Sequence[str]], uncovered: Sequence[str]) -> None:
        self.grouped, self.uncovered = list(grouped), list(uncovered)
        self.shared = {name: list(labels) for name, labels in shared.items()}
        problems = []
        if self.grouped:
            problems.append(f"{_quoted(self.grouped)} stand(s) for several classes")
        problems += [f"{_quoted(labels)} all stand for {name!r}" for name, labels in self.shared.items()]
        if self.uncovered:
            problems.append(f"no data label stands for {_quoted(self.uncovered)}")
        super().__init__("each data label must be exactly one class of the model: " + "; ".join(problems))


class MetricsError(CamviewerError):
    """Predictions or labels cannot be evaluated or reported as given (shapes, classes, positive class)."""


class PositiveClassRequired(MetricsError):
    """A two-class evaluation without a positive class (none asked for, none in the model card)."""

    def __init__(self, class_names: list[str]):
        self.class_names = class_names
        super().__init__(
            f"a two-class evaluation needs a positive class (the model card names none); "
            f"the classes are {', '.join(class_names)}"
        )


class OutsidePartitionFolder(DatasetError):
    """A partition file names files outside its own folder (``outside``: their paths); they are read only when
    allowed, so that a CSV received with a dataset cannot make camviewer read any file of the machine."""

    def __init__(self, csv_path: str | Path, outside: list[str]):
        self.csv_path, self.outside = Path(csv_path), list(outside)
        shown = ", ".join(self.outside[:3]) + (f" and {len(self.outside) - 3} more" if len(self.outside) > 3 else "")
        super().__init__(f"{csv_path} names {len(self.outside)} file(s) outside its folder ({shown})")
