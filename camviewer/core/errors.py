"""Typed errors. Every message is meant for the user: it names the file and the reason.

Errors state facts and carry them as fields; they never say which flag or button would help. Each front
end words its own remedy from the fields (``camviewer.commands._common.remedy`` for the command line,
``camviewer.gui.common.remedies`` for the window), so no decision is ever taken on message text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path


class CamviewerError(Exception):
    """Base class of every error camviewer raises on purpose."""


class ImageError(CamviewerError):
    """An image could not be read. ``path`` and ``reason`` say which and why."""

    kind = "unreadable"
    noun = "image"

    def __init__(self, path: str | Path | None, reason: str):
        self.path = None if path is None else str(path)
        self.reason = reason
        where = self.path if self.path is not None else "<array>"
        super().__init__(f"{where}: {self.kind} {self.noun}: {reason}")


class UnsupportedImageError(ImageError):
    kind = "unsupported"


class CorruptImageError(ImageError):
    kind = "corrupt"


class TruncatedImageError(CorruptImageError):
    kind = "truncated"


class ImageTooLargeError(ImageError):
    kind = "too large"


class CheckpointError(CamviewerError):
    """A checkpoint could not be loaded."""


class UnsafeCheckpointError(CheckpointError):
    """The checkpoint holds pickled Python objects; loading it would run code from the file.

    ``culprit`` is the Python name the file references (e.g. ``numpy.ndarray``), when the unpickler said.
    """

    def __init__(self, path: str | Path, culprit: str | None = None):
        self.path, self.culprit = str(path), culprit
        what = f" (it references {culprit})" if culprit else ""
        super().__init__(
            f"{path}: refused: the file holds pickled Python objects{what}, not just tensors; "
            "unpickling it would run code from the file"
        )


class StateDictMismatchError(CheckpointError):
    """Weights do not fit the architecture: the keys that are missing, unexpected or of the wrong shape.

    ``looks_like`` is (architecture, outputs) when the weights themselves tell another architecture.
    """

    def __init__(
        self,
        target: str,
        missing: list[str],
        unexpected: list[str],
        wrong_shape: list[str],
        looks_like: tuple[str, int] | None = None,
    ):
        self.target, self.missing, self.unexpected, self.wrong_shape = target, missing, unexpected, wrong_shape
        self.looks_like = looks_like
        parts = [f"the weights do not fit {target}:"]
        for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong_shape)):
            if items:
                shown = "\n    ".join(items[:8]) + (f"\n    ... and {len(items) - 8} more" if len(items) > 8 else "")
                parts.append(f"  {len(items)} {label} key(s):\n    {shown}")
        if looks_like is not None:
            parts.append(f"  These weights look like {looks_like[0]} with {looks_like[1]} outputs.")
        super().__init__("\n".join(parts))

    def looking_like(self, arch: str, outputs: int) -> StateDictMismatchError:
        return StateDictMismatchError(self.target, self.missing, self.unexpected, self.wrong_shape, (arch, outputs))


class ArchitectureInferenceError(CheckpointError):
    """The architecture could not be told from the weights alone; ``reason`` says what was seen.

    ``needs_classes``: the number of classes could not be told either.
    """

    def __init__(self, reason: str, needs_classes: bool = False):
        self.reason, self.needs_classes = reason, needs_classes
        super().__init__(f"cannot tell the architecture from the weights: {reason}")


class ArchitectureConflict(CheckpointError):
    """An architecture was asked for, but ``source`` (a checkpoint's card, its weights, a checkpoint to
    fine-tune from) is another one."""

    def __init__(self, source: str, found: str, requested: str):
        self.source, self.found, self.requested = source, found, requested
        super().__init__(f"{source} is {found}, not {requested}")


class UnknownArchitecture(CamviewerError):
    """No architecture of that name can be built."""

    def __init__(self, arch: str):
        self.arch = arch
        super().__init__(f"unknown architecture {arch!r}")


class DeviceUnavailable(CamviewerError):
    """The requested device does not exist on this machine."""

    def __init__(self, device: str):
        self.device = device
        super().__init__(f"{device.upper()} was requested but no {device.upper()} device is available")


class PretrainedWeightsUnavailable(CamviewerError):
    """ImageNet weights are neither cached nor downloadable, or do not exist for ``arch``.

    ``cached_path`` is where a copy of the file would be found (None when no such weights exist), ``url``
    where they were to be downloaded from.
    """

    def __init__(self, arch: str, reason: str, cached_path: Path | None = None, url: str | None = None):
        self.arch, self.reason, self.cached_path, self.url = arch, reason, cached_path, url
        if cached_path is None:
            super().__init__(f"no ImageNet weights for {arch}: {reason}")
        else:
            super().__init__(
                f"ImageNet weights for {arch} are not in the local cache ({cached_path}) and could not be "
                f"downloaded from {url} ({reason})"
            )


class CamError(CamviewerError):
    """A CAM request that cannot be honoured (unknown layer, class or method)."""


class DatasetError(CamviewerError):
    """A dataset folder or partition file cannot be used."""


class EmptySplit(DatasetError):
    """A split that training needs (train or val) holds no images."""

    def __init__(self, source: str | Path, split: str):
        self.source, self.split = str(source), split
        super().__init__(f"{source}: no {split} images")


class AmbiguousGroundTruth(DatasetError):
    """Localization needs exactly one ground-truth source; ``given`` names those that were given."""

    KINDS = ("masks", "boxes", "coco")

    def __init__(self, given: list[str]):
        self.given = given
        found = ", ".join(given) if given else "none"
        super().__init__(f"exactly one ground-truth source is needed (masks, boxes or COCO); given: {found}")


# ----------------------------------------------------------------------------- label mapping (core.data.labels)


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


class MissingInput(CamviewerError):
    """A job's mode needs an input that was not given (``needed``: "model", "roi_masks")."""

    def __init__(self, mode: str, needed: str, what: str):
        self.mode, self.needed = mode, needed
        super().__init__(f"mode {mode} needs {what}")


class Cancelled(CamviewerError):
    """The user cancelled a long job."""


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


class VolumeError(ImageError):
    """A volume (NIfTI file, DICOM series or multi-frame DICOM) could not be read. ``path`` and ``reason``.

    A subclass of ImageError, so that code which skips unreadable inputs skips unreadable volumes too.
    """

    noun = "volume"


class UnsupportedVolumeError(VolumeError):
    kind = "unsupported"


class CorruptVolumeError(VolumeError):
    kind = "corrupt"


class VolumeTooLargeError(VolumeError):
    kind = "too large"


class MultipleVolumesError(VolumeError):
    """A 4-D file holds ``count`` volumes (time points, gradient directions); the caller picks one by index."""

    kind = "ambiguous"

    def __init__(self, path: str | Path, count: int):
        self.count = count
        super().__init__(path, f"holds {count} volumes (a 4-D series); choose one by its index, 0 to {count - 1}")


class MixedSeriesError(VolumeError):
    """A folder holds several DICOM series; ``series`` lists them (SeriesSummary), the caller picks one by UID."""

    kind = "ambiguous"

    def __init__(self, path: str | Path, series: list):
        self.series = list(series)
        listed = "; ".join(str(entry) for entry in self.series)
        super().__init__(path, f"holds {len(self.series)} DICOM series, choose one by its series UID: {listed}")


class MissingSlicesError(VolumeError):
    """Gaps in the slice positions. ``gaps``: (index of the slice before the gap, gap in mm) pairs; ``step``: median mm."""

    kind = "incomplete"

    def __init__(self, path: str | Path, gaps: list[tuple[int, float]], step: float, slices: int):
        self.gaps, self.step, self.slices = list(gaps), step, slices
        missing = sum(max(1, round(gap / step) - 1) for _, gap in self.gaps)
        shown = ", ".join(f"{gap:.2f} mm after slice {index + 1}" for index, gap in self.gaps[:5])
        more = f" and {len(self.gaps) - 5} more" if len(self.gaps) > 5 else ""
        super().__init__(
            path,
            f"about {missing} slice(s) missing from {slices}: the usual step is {step:.2f} mm but there is a gap "
            f"of {shown}{more}",
        )


class UnevenSpacingError(VolumeError):
    """The slices are not evenly spaced (beyond a tolerance). ``steps``: the distinct steps in mm, sorted."""

    kind = "unevenly spaced"

    def __init__(self, path: str | Path, steps: list[float]):
        self.steps = list(steps)
        super().__init__(
            path,
            f"slice steps vary from {min(self.steps):.3f} to {max(self.steps):.3f} mm; a volume needs one spacing",
        )


class InconsistentSlicesError(VolumeError):
    """Slices of one series disagree on ``attribute`` (orientation, size, pixel spacing, position);
    ``values`` maps each value seen (as text) to the number of slices that have it."""

    kind = "inconsistent"

    def __init__(self, path: str | Path, attribute: str, values: dict[str, int], detail: str = ""):
        self.attribute, self.values = attribute, dict(values)
        seen = "; ".join(f"{value} ({count} slice{'s' if count != 1 else ''})" for value, count in self.values.items())
        super().__init__(path, f"slices differ in {attribute}: {seen}" + (f" ({detail})" if detail else ""))


class TrainingError(CamviewerError):
    """A training request that cannot be carried out (bad option, run folder in use, nothing to resume)."""


class RunFolderInUse(TrainingError):
    """The run folder already holds a training run (``files``: which run files are there)."""

    def __init__(self, run_dir: str | Path, files: list[str]):
        self.run_dir, self.files = Path(run_dir), files
        super().__init__(f"{run_dir} already holds a training run ({', '.join(files)})")


class StoppedEarly(TrainingError):
    """The run to resume stopped early: ``stale_epochs`` without improvement reached its ``patience``."""

    def __init__(self, run_dir: str | Path, stale_epochs: int, patience: int):
        self.run_dir, self.stale_epochs, self.patience = Path(run_dir), stale_epochs, patience
        super().__init__(f"{run_dir} stopped early: no improvement for {stale_epochs} epochs (patience {patience})")


class AlreadyTrained(TrainingError):
    """The run to resume has already trained every epoch it was asked for."""

    def __init__(self, run_dir: str | Path, epochs_done: int, epochs: int):
        self.run_dir, self.epochs_done, self.epochs = Path(run_dir), epochs_done, epochs
        super().__init__(f"{run_dir} already ran {epochs_done} epochs (of {epochs} asked for)")


class TrainingOptionError(TrainingError):
    """One training option (a ``TrainConfig`` field, e.g. "freeze") cannot be used as given."""

    def __init__(self, option: str, reason: str, value: object = None):
        self.option, self.reason, self.value = option, reason, value
        shown = "" if value is None else f" {value!r}"
        super().__init__(f"{option.replace('_', ' ')}{shown}: {reason}")


class ClassMismatch(TrainingError):
    """The checkpoint to fine-tune from names other classes than the data (classes are matched by name)."""

    def __init__(self, source: str, checkpoint_classes: list[str], data_classes: list[str]):
        self.source, self.checkpoint_classes, self.data_classes = source, checkpoint_classes, data_classes
        super().__init__(
            f"the classes of {source} ({', '.join(checkpoint_classes)}) do not match the data's "
            f"({', '.join(data_classes)}); classes are matched by name "
            "(a checkpoint without a card needs one output per class of the data)"
        )
