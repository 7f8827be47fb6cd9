"""Checkpoints and architectures that cannot be loaded or built."""

from __future__ import annotations

from pathlib import Path

from camviewer.core.errors.base import CamviewerError


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


class RecipeError(CamviewerError):
    """A preprocessing recipe that cannot be used; ``reason`` says why (e.g. a shorter-side resize without a
    crop would give images of different shapes inputs of different sizes)."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(f"preprocessing: {reason}")


class SpatialDimsMismatch(RecipeError):
    """A network for volumes with a recipe for images, or the other way round.

    ``network_dims`` is what the architecture takes (3: volumes (N, C, D, H, W); 2: images), ``recipe_dims``
    what the preprocessing gives (3 with a volume recipe, (d, h, w) input size).
    """

    def __init__(self, arch: str, network_dims: int, recipe_dims: int):
        self.arch, self.network_dims, self.recipe_dims = arch, network_dims, recipe_dims
        kinds = {2: "2-D images", 3: "3-D volumes"}
        super().__init__(f"{arch} takes {kinds[network_dims]}, but the recipe prepares {kinds[recipe_dims]}")


class UnknownArchitecture(CamviewerError):
    """No architecture of that name can be built."""

    def __init__(self, arch: str):
        self.arch = arch
        super().__init__(f"unknown architecture {arch!r}")


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


class InvalidModelCard(CheckpointError, ValueError):
    """A model card that cannot be used: ``field`` (e.g. "input_size", "arch_options.widths"; None for the card as a
    whole) and ``reason``; ``source`` is the file it came from, once known."""

    def __init__(self, field: str | None, reason: str, source: str | Path | None = None):
        self.field, self.reason, self.source = field, reason, None if source is None else str(source)
        where = f"{source}: " if source is not None else ""
        super().__init__(f"{where}invalid model card: {f'{field}: ' if field else ''}{reason}")

    def in_file(self, source: str | Path) -> InvalidModelCard:
        return InvalidModelCard(self.field, self.reason, source)


class NonFiniteWeights(CheckpointError):
    """Weights that hold NaN or infinite values: ``source`` (the file), ``tensors`` (their names)."""

    def __init__(self, source: str | Path, tensors: list[str]):
        self.source, self.tensors = str(source), list(tensors)
        shown = ", ".join(self.tensors[:5]) + (f" and {len(self.tensors) - 5} more" if len(self.tensors) > 5 else "")
        super().__init__(f"{source}: {len(self.tensors)} weight tensor(s) hold NaN or infinite values ({shown})")


class NonFiniteOutput(CheckpointError):
    """The model gave NaN or infinite ``what`` ("probabilities", "maps"); ``source`` is its checkpoint (or None).

    Finite weights can still overflow (a tiny std in the card, huge weights): nothing is predicted or drawn from such
    numbers.
    """

    def __init__(self, source: str | None, what: str):
        self.source, self.what = source, what
        super().__init__(f"{source or 'the model'} gives NaN or infinite {what}: its weights or normalisation overflow")
