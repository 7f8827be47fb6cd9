"""What training is configured with and what it reports: config, progress payloads, result, live session."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from camviewer.core.data.index import DEFAULT_CACHE_BYTES
from camviewer.core.data.summary import DatasetSummary
from camviewer.core.errors import TrainingError  # noqa: F401  (re-exported: training's error, beside its records)


@dataclass
class TrainConfig:
    """Everything a run depends on; saved as config.json and inside last.pt."""

    data: str
    out: str
    arch: str | None = None  # required unless fine-tuning from ``init``
    arch_options: dict[str, Any] = field(default_factory=dict)
    epochs: int = 30
    batch_size: int | None = None  # None: from the number of training images (training.defaults)
    lr: float | None = None  # None: the architecture's (training.defaults)
    optimizer: str = "adam"  # "adam" or "sgd" (momentum 0.9)
    schedule: str = "warmup-cosine"  # or "plateau": halve the rate when the validation loss stalls
    balance: str = "loss-weights"  # class weights in the loss from the training split; or "none"
    weight_decay: float = 0.0
    pretrained: bool = False
    allow_random_init: bool = False  # if ImageNet weights are unavailable, warn and continue
    freeze: str | None = None  # a fraction ("0.5") of the parameters, or a module name ("layer3")
    patience: int = 5
    val_split: float = 0.2
    test_split: float = 0.15  # held out for an honest evaluation at the end, unless the data has its own split
    augment: str = "light"
    seed: int = 0
    device: str = "auto"
    input_size: tuple[int, ...] | None = (
        None  # a stretch to (h, w), or a volume grid (d, h, w); None (and no resize): the init's, else the arch's
    )
    resize: int | tuple[int, int] | None = None  # int: shorter side (with crop or letterbox); (h, w): exact
    crop: tuple[int, int] | None = None  # centre crop after the resize
    letterbox: bool | None = None  # fit inside the resize size, pad with black
    interpolation: str | None = None  # None: the init checkpoint's, else "bilinear" (torchvision)
    spacing: tuple[float, float, float] | None = None  # volumes: resample to this spacing (mm), then crop/pad
    window: tuple[float, float] | None = None  # volumes: this window (e.g. HU) scaled to [0, 1]; None: z-score
    border_crop: float | None = None  # None: the init checkpoint's, else 0
    grayscale: bool | None = None  # True: grey, one-channel model
    multi_label: bool | None = None  # None: multi-label when some image has several labels
    positive_class: str | None = None  # None: synth.json's, else unset
    init: str | None = None  # checkpoint to fine-tune from
    label_map: str | None = None  # with init: data labels -> the checkpoint's classes (core.data.labels)
    workers: int | None = None  # DataLoader worker processes; None: automatic
    cache_bytes: int = DEFAULT_CACHE_BYTES
    command: str | None = None  # the command line, for the card's notes
    allow_outside: bool = False  # a CSV partition may name images outside its folder

    def __post_init__(self) -> None:
        if self.input_size is not None:
            sizes = [int(n) for n in self.input_size]
            self.input_size = tuple(sizes) if len(sizes) == 3 else (sizes[0], sizes[-1])
        for name in ("spacing", "window"):
            if getattr(self, name) is not None:
                setattr(self, name, tuple(float(v) for v in getattr(self, name)))
        if isinstance(self.resize, (list, tuple)):
            self.resize = (int(self.resize[0]), int(self.resize[-1]))
        if self.crop is not None:
            self.crop = (int(self.crop[0]), int(self.crop[-1]))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_options(cls, values: dict[str, Any]) -> TrainConfig:
        """A new run's configuration: the options given (unknown names ignored), today's defaults for the rest."""
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """A saved run's configuration (config.json, last.pt): an option it lacks is what runs before it had."""
        return cls.from_options({**LEGACY_DEFAULTS, **data})


# What runs saved before these options existed trained with (their config.json lacks the key).
LEGACY_DEFAULTS = {"schedule": "plateau", "balance": "none"}


@dataclass(frozen=True)
class ResumeChanges:
    """What may differ when a run is resumed (None: as the run was); everything else comes from the run."""

    epochs: int | None = None
    patience: int | None = None
    device: str | None = None
    workers: int | None = None

    def given(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}


RESUMABLE_CHANGES = tuple(f.name for f in fields(ResumeChanges))


@dataclass
class Notice:
    """Something the user should read: a fallback taken, parameters frozen."""

    text: str


@dataclass
class SkippedTestEvaluation(Notice):
    """The test split was not evaluated after training; ``reason`` is "no-positive-class" or "cancelled"."""

    reason: str


@dataclass
class AtChance(Notice):
    """No epoch's validation accuracy beat always predicting the most frequent class (two standard errors)."""

    val_accuracy: float  # the best epoch's
    chance: float  # what predicting the most frequent class scores on the validation images
    images: int
    epochs: int


@dataclass
class BatchUpdate:
    """Payload after each training batch (``batch`` counts from 1 within the epoch)."""

    epoch: int
    batch: int
    batches: int
    loss: float
    images_per_second: float


@dataclass
class EpochRecord:
    """Payload after each epoch; one row of history.csv (``is_best``: best.safetensors was rewritten)."""

    epoch: int
    train_loss: float
    val_loss: float
    train_acc: float
    val_acc: float
    lr: float
    seconds: float
    is_best: bool = False
    batch_size: int | None = None  # the global batch: images per step over all processes
    processes: int = 1  # processes that trained this epoch together (torchrun's world size)


@dataclass
class TrainResult:
    """What :func:`train` returns. ``stop_reason``: "completed", "early-stopping" or "cancelled"."""

    run_dir: Path
    best_checkpoint: Path | None
    best_epoch: int | None
    best_val_loss: float | None
    stop_reason: str
    history: list[EpochRecord]
    summary: DatasetSummary | None = None
    test_metrics: dict[str, Any] | None = None  # headline numbers of the test split, when there is one
