"""The user's label names matched to a model's classes: one mechanism for training, evaluation, localization, GUI.

A dataset says ``NORMAL`` and ``PNEUMONIA`` (folder names, a CSV's labels, an annotation file's findings);
a checkpoint says ``Bacterial Pneumonia, Normal, Viral Pneumonia``. :meth:`LabelMapping.build` matches
each data label to the class (or classes) it stands for:

* **exact**: the same name;
* **normalized**: the same words, ignoring case and punctuation (:func:`normalize_label`:
  ``"Bacterial Pneumonia" == "bacterial_pneumonia" == "BACTERIAL-PNEUMONIA"``), when only one class has them;
* **explicit**: an entry of a label map (:func:`parse_label_map`,
  ``"NORMAL=Normal;PNEUMONIA=Bacterial Pneumonia|Viral Pneumonia"``), which wins over the automatic match.
  A label may stand for a **group** of classes (``|``): evaluation then scores the group as one class,
  its probability the sum of its members';
* **unmatched**: nothing fits. Unmatched labels are listed (:attr:`LabelMapping.unmatched`,
  :meth:`LabelMapping.preview_lines`) and refused by :meth:`LabelMapping.require_all_matched`, never dropped.

Several labels may stand for the same class (aliases: ``Infiltrate`` and ``Infiltration``); two labels'
groups are either the same or disjoint. This module is pure Python (no torch, no numpy): the GUI uses it
before torch has loaded.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from camviewer.core.data.index import DatasetIndex, Sample
from camviewer.core.errors import (
    LabelMappingError,
    LabelMapSyntaxError,
    NotOneToOne,
    OverlappingGroups,
    UnknownClasses,
    UnmatchedLabels,
)

__all__ = [  # the errors live in core.errors with the others; importable from here too
    "LabelMapSyntaxError",
    "LabelMapping",
    "LabelMappingError",
    "LabelMatch",
    "NotOneToOne",
    "OverlappingGroups",
    "UnknownClasses",
    "UnmatchedLabels",
    "format_label_map",
    "match_class",
    "normalize_label",
    "parse_label_map",
    "relabeled",
    "resolve_class",
]

ENTRY_SEPARATORS = re.compile(r"[;\n]")
GROUP_SEPARATOR = "|"
HOW = ("exact", "normalized", "explicit", "unmatched")
_HOW_TEXT = {"exact": "same name", "normalized": "case/punctuation", "explicit": "label map", "unmatched": ""}


# ----------------------------------------------------------------------------- names


def normalize_label(name: str) -> str:
    """The words of a name, lower case, single-spaced: the key for case- and punctuation-insensitive matching."""
    return " ".join(re.findall(r"[^\W_]+", unicodedata.normalize("NFKC", str(name)).casefold()))


def match_class(name: str, model_classes: Sequence[str]) -> str | None:
    """The model class called ``name``: the exact name, else the only class with the same normalized name."""
    if name in model_classes:
        return name
    key = normalize_label(name)
    found = [cls for cls in model_classes if key and normalize_label(cls) == key]
    return found[0] if len(found) == 1 else None


def resolve_class(name: str, model_classes: Sequence[str]) -> str:
    """:func:`match_class`, or :class:`UnknownClasses` when nothing matches."""
    found = match_class(name, model_classes)
    if found is None:
        raise UnknownClasses([name], model_classes)
    return found


def parse_label_map(text: str) -> dict[str, list[str]]:
    """``"A=X;B=Y|Z"`` (entries separated by ``;`` or new lines, ``#`` starts a comment) -> ``{"A": ["X"], ...}``."""
    entries: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for raw in ENTRY_SEPARATORS.split(text or ""):
        entry = raw.split("#", 1)[0].strip()
        if not entry:
            continue
        label, equals, classes = entry.partition("=")
        label = label.strip()
        names = [name.strip() for name in classes.split(GROUP_SEPARATOR)]
        if not equals:
            raise LabelMapSyntaxError(entry, "no '='")
        if not label:
            raise LabelMapSyntaxError(entry, "no label before '='")
        if not all(names):
            raise LabelMapSyntaxError(entry, "an empty class name")
        key = normalize_label(label) or label
        if key in seen:
            raise LabelMapSyntaxError(entry, f"{label!r} is already mapped (as {seen[key]!r})")
        seen[key] = label
        entries[label] = list(dict.fromkeys(names))
    return entries


def format_label_map(entries: Mapping[str, Sequence[str]]) -> str:
    """The text :func:`parse_label_map` reads back."""
    return ";".join(f"{label}={GROUP_SEPARATOR.join(classes)}" for label, classes in entries.items())


# ----------------------------------------------------------------------------- the mapping


@dataclass(frozen=True)
class LabelMatch:
    """One data label and the model class(es) it stands for; ``how`` is one of :data:`HOW`."""

    label: str
    classes: tuple[str, ...]
    how: str

    @property
    def grouped(self) -> bool:
        return len(self.classes) > 1


@dataclass(frozen=True)
class LabelMapping:
    """Data labels matched to model classes (see the module docstring). Build it with :meth:`build`."""

    model_classes: tuple[str, ...]
    matches: tuple[LabelMatch, ...]  # one per data label, in the order given
    unused: tuple[str, ...] = field(default=())  # label-map entries whose label is not in the data

    @classmethod
    def build(
        cls,
        data_labels: Iterable[str],
        model_classes: Sequence[str],
        explicit: Mapping[str, Sequence[str]] | str | None = None,
    ) -> LabelMapping:
        """Match each data label; ``explicit`` is a label map (text or :func:`parse_label_map`'s dict).

        Raises :class:`UnknownClasses` when the label map names a class the model lacks, and
        :class:`OverlappingGroups` when two labels' groups overlap without being equal.
        """
        classes = tuple(str(name) for name in model_classes)
        labels = list(dict.fromkeys(str(label) for label in data_labels))
        entries = parse_label_map(explicit) if isinstance(explicit, str) else dict(explicit or {})
        unknown = [name for group in entries.values() for name in group if match_class(name, classes) is None]
        if unknown:
            raise UnknownClasses(list(dict.fromkeys(unknown)), classes)
        by_label: dict[str, tuple[str, ...]] = {}
        unused = []
        for key, group in entries.items():
            label = match_class(key, labels)  # the label map's keys are matched to the data like classes are
            if label is None:
                unused.append(key)
            else:
                members = {match_class(name, classes) for name in group}
                by_label[label] = tuple(sorted(members, key=classes.index))  # the model's order
        matches = tuple(_match(label, classes, by_label.get(label)) for label in labels)
        mapping = cls(classes, matches, tuple(unused))
        mapping._check_groups()
        return mapping

    # ------------------------------------------------------------------------- questions
    @property
    def labels(self) -> list[str]:
        return [match.label for match in self.matches]

    @property
    def unmatched(self) -> list[str]:
        return [match.label for match in self.matches if not match.classes]

    @property
    def grouped(self) -> bool:
        return any(match.grouped for match in self.matches)

    @property
    def is_identity(self) -> bool:
        """Every label is a class of the same name: the mapping changes nothing."""
        return all(match.how == "exact" for match in self.matches)

    def classes_of(self, label: str) -> tuple[str, ...]:
        """The classes ``label`` stands for; () when it matches none or is not a data label of this mapping."""
        return next((match.classes for match in self.matches if match.label == label), ())

    def class_for(self, label: str) -> str | None:
        """The one class ``label`` stands for; None when it matches none or stands for a group."""
        classes = self.classes_of(label)
        return classes[0] if len(classes) == 1 else None

    def uncovered_classes(self) -> list[str]:
        """Model classes that no data label stands for."""
        covered = {name for match in self.matches for name in match.classes}
        return [name for name in self.model_classes if name not in covered]

    def groups(self) -> list[tuple[str, tuple[str, ...]]]:
        """The classes an evaluation scores: ``(name, model classes)`` in the model's class order.

        A label's group is one evaluated class, named after the model class when it is a single
        class, else after the label(s); every model class outside all groups is scored as itself
        (it may be predicted even though no image is labelled with it).
        """
        labels_of: dict[tuple[str, ...], list[str]] = {}
        for match in self.matches:
            if match.classes:
                labels_of.setdefault(match.classes, []).append(match.label)
        for name in self.uncovered_classes():
            labels_of[(name,)] = []
        singles = {members[0] for members in labels_of if len(members) == 1}
        groups = []
        for members, labels in labels_of.items():
            name = members[0] if len(members) == 1 else " / ".join(labels)
            if len(members) > 1 and name in singles:  # a group's label that is also another class's name
                name = " + ".join(members)
            groups.append((name, members))
        return sorted(groups, key=lambda group: self.model_classes.index(group[1][0]))

    def group_of(self, label: str) -> str | None:
        """The name of the evaluated class (see :meth:`groups`) that ``label``'s images belong to."""
        classes = self.classes_of(label)
        return next((name for name, members in self.groups() if members == classes), None) if classes else None

    # ------------------------------------------------------------------------- requirements
    def require_all_matched(self) -> LabelMapping:
        if self.unmatched:
            raise UnmatchedLabels(self.unmatched, self.model_classes)
        return self

    def require_one_to_one(self) -> LabelMapping:
        """For fine-tuning: each label exactly one class, no class twice, every class with a label."""
        self.require_all_matched()
        labels_of: dict[str, list[str]] = {}
        for match in self.matches:
            for name in match.classes:
                labels_of.setdefault(name, []).append(match.label)
        grouped = [match.label for match in self.matches if match.grouped]
        shared = {name: labels for name, labels in labels_of.items() if len(labels) > 1}
        if grouped or shared or self.uncovered_classes():
            raise NotOneToOne(grouped, shared, self.uncovered_classes())
        return self

    # ------------------------------------------------------------------------- words and records
    def preview_lines(self) -> list[str]:
        """The mapping as a user reads it before anything runs."""
        width = max((len(label) for label in self.labels), default=0)
        if self.is_identity:
            lines = [f"label mapping: each data label is the model class of the same name ({', '.join(self.labels)})"]
        else:
            lines = ["label mapping (data label -> model class):"]
        for match in self.matches if not self.is_identity else ():
            if not match.classes:
                lines.append(f"  {match.label:<{width}} -> (no class: unmatched)")
                continue
            target = " + ".join(match.classes)
            how = _HOW_TEXT[match.how]
            if match.grouped:
                how += ", one group: probabilities summed"
            lines.append(f"  {match.label:<{width}} -> {target}" + (f"  ({how})" if how else ""))
        uncovered = self.uncovered_classes()
        if uncovered:
            lines.append(f"  model classes no label stands for: {', '.join(uncovered)}")
        if self.unused:
            lines.append(f"  label map entries not in the data: {', '.join(self.unused)}")
        return lines

    def explicit_entries(self) -> dict[str, list[str]]:
        """Every matched label as a label-map entry (what the GUI saves, what a user can copy)."""
        return {match.label: list(match.classes) for match in self.matches if match.classes}

    def to_dict(self) -> dict:
        return {
            "model_classes": list(self.model_classes),
            "labels": [{"label": m.label, "classes": list(m.classes), "how": m.how} for m in self.matches],
            "unmatched": self.unmatched,
            "unused": list(self.unused),
            "groups": [{"name": name, "classes": list(members)} for name, members in self.groups()],
        }

    @classmethod
    def from_dict(cls, data: dict) -> LabelMapping:
        matches = tuple(LabelMatch(m["label"], tuple(m["classes"]), m["how"]) for m in data["labels"])
        return cls(tuple(data["model_classes"]), matches, tuple(data.get("unused", ())))

    def _check_groups(self) -> None:
        groups = {match.classes: match.label for match in self.matches if match.classes}
        for first, (a, label_a) in enumerate(groups.items()):
            for b, label_b in list(groups.items())[first + 1 :]:
                shared = [name for name in a if name in b]
                if shared:
                    raise OverlappingGroups([label_a, label_b], shared)


def relabeled(index: DatasetIndex, mapping: LabelMapping) -> DatasetIndex:
    """The dataset with each label replaced by the one class it stands for (see :meth:`LabelMapping.require_one_to_one`)."""
    samples = [
        Sample(s.path, tuple(mapping.class_for(label) or label for label in s.labels), s.split) for s in index.samples
    ]
    names = sorted({label for sample in samples for label in sample.labels})
    positive = mapping.class_for(index.positive_class) if index.positive_class else None
    return replace(index, class_names=names, samples=samples, positive_class=positive)


def _match(label: str, classes: tuple[str, ...], explicit: tuple[str, ...] | None) -> LabelMatch:
    if explicit is not None:
        return LabelMatch(label, explicit, "explicit")
    found = match_class(label, classes)
    if found is None:
        return LabelMatch(label, (), "unmatched")
    return LabelMatch(label, (found,), "exact" if found == label else "normalized")
