"""What training is configured with and what it reports: config, progress payloads, result, live session."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from camviewer.core.data.decode import DecodedSet
from camviewer.core.data.summary import DatasetSummary
from camviewer.core.distributed.world import World
from camviewer.core.model.card import ModelCard
from camviewer.core.model.loaded import LoadedModel
from camviewer.core.training.records import EpochRecord, TrainConfig


@dataclass
class Session:
    """The live state of one training run."""

    config: TrainConfig
    run_dir: Path
    card: ModelCard
    model: LoadedModel
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: Any
    loss_fn: nn.Module
    train_loader: Any
    val_loader: Any
    loader_generator: torch.Generator
    decoded: DecodedSet
    summary: DatasetSummary
    history: list[EpochRecord] = field(default_factory=list)
    best_val_loss: float = math.inf
    best_epoch: int | None = None
    stale_epochs: int = 0
    saved_epochs: int = 0  # epochs kept in last.pt (what a resume would continue after)
    world: World = field(default_factory=World)  # the processes training together (one, unless torchrun)
    network: nn.Module | None = None  # what the training steps run through: the model, or DDP around it

    @property
    def val_images(self) -> int:
        return len(self.val_loader.dataset)

    @property
    def next_epoch(self) -> int:
        return len(self.history) + 1
