"""A model ready to use: the network in eval mode on its device, with the card that says how to feed it."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from camviewer.core.errors import DeviceUnavailable, NonFiniteOutput
from camviewer.core.images.common import DecodedImage
from camviewer.core.model.card import ModelCard
from camviewer.core.model.files import save_checkpoint
from camviewer.core.preprocess import to_model_batch
from camviewer.core.preprocess_volume import to_volume_batch
from camviewer.core.volumes.records import Volume


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable(device.type)
    return device


class eval_mode:
    """Put every submodule in eval mode; restore each one's own flag afterwards, even on error.

    Only modules that were training are touched (none, for a loaded model), so a mixed state such
    as a frozen BatchNorm inside a training model comes back exactly, and the common case costs nothing.
    """

    def __init__(self, module: nn.Module) -> None:
        self.module = module

    def __enter__(self):
        self.training = [m for m in self.module.modules() if m.training]
        for module in self.training:
            module.training = False
        return self

    def __exit__(self, *exc) -> None:
        for module in self.training:
            module.training = True


@dataclass
class LoadedModel:
    """A network in eval mode on its device, with the card that says how to feed it."""

    module: nn.Module
    card: ModelCard
    device: torch.device
    source: str | None = None
    _layers: dict = field(default_factory=dict, repr=False)  # cache for camviewer.core.cam.layers
    # One pass at a time: CAM hooks and eval-mode switches of concurrent passes would interfere
    # (the viewer and a folder export share the model; they take turns batch by batch).
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Softmax or sigmoid of the logits; NonFiniteOutput when any is NaN or infinite (nothing is predicted then)."""
        if not bool(torch.isfinite(logits).all()):
            raise NonFiniteOutput(self.source, "probabilities")
        return torch.sigmoid(logits) if self.card.head == "sigmoid" else torch.softmax(logits, dim=1)

    def to_batch(self, images: Sequence[DecodedImage | np.ndarray | Volume]) -> torch.Tensor:
        """The normalised model input: N x C x H x W for images, N x C x D x H x W for a volume model's volumes."""
        if self.card.volume is not None:
            return to_volume_batch(images, self.card).to(self.device)
        return to_model_batch(images, self.card).to(self.device)

    def predict(self, images: Sequence[DecodedImage | np.ndarray | Volume]) -> np.ndarray:
        """Class probabilities, N x K, for decoded images (or arrays: uint8, or float in [0, 1]), or volumes."""
        return self.predict_tensor(self.to_batch(images))

    @torch.no_grad()
    def predict_tensor(self, batch: torch.Tensor) -> np.ndarray:
        """Class probabilities, N x K, for an already normalised batch (eval mode, restored after)."""
        with self.lock, eval_mode(self.module):
            return self.probabilities(self.module(batch.to(self.device))).cpu().numpy()

    def save(self, path: str | Path) -> Path:
        return save_checkpoint(path, self.module, self.card)
