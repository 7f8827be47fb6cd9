"""Training defaults that learn: what an option left unset becomes, for this architecture and this dataset.

Measured on synthetic malaria cells (600 images of 128 px, two balanced classes; README "Training
defaults, measured") and on the cases the defaults once failed:

- **Input size.** Small nets train at the size they were designed for: TinyVGG at 64 x 64 (the CNN
  Explainer's size, the course implementation's checkpoints load at it). At 224 x 224 a 128 px cell
  was upsampled, the two pooling stages of TinyVGG left a 56 x 56 map, and its flatten head had
  31,360 inputs per class: slow, and the ring-shaped parasite was wider than any unit could see.
  Everything else keeps 224 x 224, the size torchvision's CNNs were built for.
- **Learning rate.** Adam at 1e-3 for nets with batch normalisation; TinyVGG (no batch normalisation,
  ten channels) at 3e-3: at 1e-3 its GAP variant sat at chance for 10-20 epochs, or for good, on
  some seeds. The plain VGG stacks (no batch normalisation: vgg*, without _bn, and vgg16_gap) diverge
  or stall at 1e-3 and take 1e-4. Fine-tuning (an init checkpoint or ImageNet weights) starts at a
  tenth of that.
- **Batch size.** At least 50 optimizer steps per epoch where batch 8 allows it: 8 up to 784
  training images, 16 up to 1,568, then 32. With 48 training images, batch 32 made 2 steps an epoch
  and the model ended predicting one class for everything; batch 8 learned.
- **Schedule.** One epoch of linear warm-up, then a cosine decay to zero at the last epoch, stepped
  every batch: the first updates of a freshly initialised net are not allowed to throw it into a
  dead corner, and the last epochs settle instead of bouncing on a noisy validation loss.
- **Class imbalance.** The loss weighs each class by n / (k * n_class) (scikit-learn's "balanced"),
  measured on the training split, so a 9:1 set does not teach "always the big class". Multi-label
  data weighs each label's positives by negatives / positives.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from camviewer.core.data.index import DatasetIndex
    from camviewer.core.training.records import TrainConfig

SMALL_NETS = {"tinyvgg": (64, 64), "tinyvgg_gap": (64, 64)}
SMALL_NET_LR = 3e-3
DEFAULT_INPUT_SIZE = (224, 224)
BALANCE = ("loss-weights", "none")
SCHEDULES = ("warmup-cosine", "plateau")
WARMUP_EPOCHS = 1
MIN_STEPS_PER_EPOCH = 50


def default_input_size(arch: str) -> tuple[int, int]:
    return SMALL_NETS.get(arch, DEFAULT_INPUT_SIZE)


def default_lr(arch: str, optimizer: str, fine_tuning: bool) -> float:
    """Adam 1e-3 (SGD 1e-2); TinyVGG 3e-3; plain VGG stacks without batch normalisation 1e-4; a tenth to fine-tune."""
    plain_vgg = arch == "vgg16_gap" or (arch.startswith("vgg") and not arch.endswith("_bn"))
    lr = SMALL_NET_LR if arch in SMALL_NETS else 1e-4 if plain_vgg else 1e-3
    lr *= 10 if optimizer == "sgd" else 1
    return lr / 10 if fine_tuning else lr


def default_batch_size(train_images: int) -> int:
    """The largest of 32, 16, 8 that still gives MIN_STEPS_PER_EPOCH steps per epoch (never below 8)."""
    for size in (32, 16):
        if math.ceil(train_images / size) >= MIN_STEPS_PER_EPOCH:
            return size
    return 8


def settle_defaults(config: TrainConfig, arch: str, train_images: int) -> TrainConfig:
    """The options left unset, decided for this architecture and training set (saved so a resume repeats them)."""
    fine_tuning = bool(config.init or config.pretrained)
    return replace(
        config,
        lr=config.lr or default_lr(arch, config.optimizer, fine_tuning),
        batch_size=config.batch_size or default_batch_size(train_images),
    )


def warmup_cosine(step: int, warmup: int, total: int) -> float:
    """The learning rate of optimizer step ``step`` (0-based) over the peak: linear warm-up, then cosine to 0."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * min(step - warmup, total - warmup) / max(total - warmup, 1)))


def loss_weights(config: TrainConfig, index: DatasetIndex, multi_label: bool) -> dict[str, float] | None:
    """Per-class loss weights from the training split (class name -> weight), or None without balancing."""
    if config.balance == "none":
        return None
    counts = index.class_counts("train")
    if multi_label:
        weights = positive_weights(list(counts.values()), len(index.in_split("train")))
    else:
        weights = balanced_class_weights(list(counts.values()))
    return dict(zip(counts, weights))


def balanced_class_weights(counts: Sequence[int]) -> list[float]:
    """n / (k * n_c) per class (scikit-learn's ``compute_class_weight("balanced")``); 0 for an empty class."""
    total, classes = sum(counts), len(counts)
    return [total / (classes * count) if count else 0.0 for count in counts]


def positive_weights(positives: Sequence[int], images: int) -> list[float]:
    """Multi-label: negatives / positives per label (BCE's ``pos_weight``); 1 for a label never seen."""
    return [(images - count) / count if count else 1.0 for count in positives]
