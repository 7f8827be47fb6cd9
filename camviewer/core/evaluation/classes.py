"""The classes an evaluation scores: the data's labels matched to the model's classes (core.data.labels).

A data label that stands for a group of model classes is scored as one class whose probability is the
sum of its members' (softmax outputs, so the rows still sum to 1); every model class outside all groups
is scored as itself. With the identity mapping the evaluated classes are the model's, in its order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from camviewer.core.data.index import Sample
from camviewer.core.data.labels import LabelMapping, match_class
from camviewer.core.errors import MetricsError, PositiveClassRequired
from camviewer.core.model.card import ModelCard


def data_labels(samples: Sequence[Sample]) -> list[str]:
    return sorted({label for sample in samples for label in sample.labels})


def evaluation_mapping(samples: Sequence[Sample], card: ModelCard, label_map: str | dict | None = None) -> LabelMapping:
    """The data's labels matched to the model's classes; every label must stand for some class."""
    mapping = LabelMapping.build(data_labels(samples), card.class_names, label_map).require_all_matched()
    if card.head == "sigmoid" and mapping.grouped:
        grouped = [match.label for match in mapping.matches if match.grouped]
        raise MetricsError(
            f"{', '.join(grouped)}: a multi-label model's outputs are independent probabilities and cannot be "
            "summed into a group; map each label to one class"
        )
    return mapping


def class_names(mapping: LabelMapping) -> list[str]:
    """Names of the evaluated classes, in order."""
    return [name for name, _ in mapping.groups()]


def class_targets(samples: Sequence[Sample], mapping: LabelMapping) -> np.ndarray:
    """The evaluated class index of each (single-label) sample."""
    index = {name: i for i, name in enumerate(class_names(mapping))}
    return np.array([index[mapping.group_of(sample.labels[0])] for sample in samples], dtype=np.int64)


def multilabel_targets(samples: Sequence[Sample], mapping: LabelMapping) -> np.ndarray:
    """Multi-hot rows over the model's classes."""
    position = {name: i for i, name in enumerate(mapping.model_classes)}
    targets = np.zeros((len(samples), len(mapping.model_classes)), dtype=np.int64)
    for row, sample in enumerate(samples):
        targets[row, [position[mapping.class_for(label)] for label in sample.labels]] = 1
    return targets


def group_probabilities(probabilities: np.ndarray, mapping: LabelMapping) -> np.ndarray:
    """(N, model classes) -> (N, evaluated classes): each group's probability is the sum of its members'."""
    members = np.zeros((len(mapping.model_classes), len(mapping.groups())))
    for column, (_, classes) in enumerate(mapping.groups()):
        members[[mapping.model_classes.index(name) for name in classes], column] = 1.0
    return probabilities @ members


def resolve_positive_class(card: ModelCard, requested: str | None, mapping: LabelMapping | None = None) -> str | None:
    """The evaluated class whose sensitivity and specificity are reported: the one asked for, else the card's.

    Any class may be positive (one vs rest); with exactly two evaluated classes one is required. A name
    is matched like a label (case and punctuation aside); the card's positive class stands for the group
    that holds it. Multi-label models have none: each label is its own positive class.
    """
    if card.head == "sigmoid":
        return None
    names = class_names(mapping) if mapping is not None else list(card.class_names)
    if requested is not None:
        found = match_class(requested, names)
        if found is None:
            raise MetricsError(f"positive class {requested!r} is not one of the evaluated classes: {', '.join(names)}")
        return found
    if card.positive_class is not None:
        if mapping is None:
            return card.positive_class
        holding = [name for name, members in mapping.groups() if card.positive_class in members]
        if holding:
            return holding[0]
    if len(names) == 2:
        raise PositiveClassRequired(names)
    return None
