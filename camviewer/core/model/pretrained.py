"""ImageNet weights from a file, torch's cache, or a download; a clear error offline."""

from __future__ import annotations

from pathlib import Path

import torch
import torchvision

from camviewer.core.errors import PretrainedWeightsUnavailable


def pretrained_state_dict(arch: str, weights_file: str | Path | None = None) -> dict[str, torch.Tensor]:
    """ImageNet weights from a given file, torch's cache, or a download; a clear error when none works."""
    if weights_file is not None:
        return torch.load(weights_file, map_location="cpu", weights_only=True)
    try:
        weights = torchvision.models.get_model_weights(arch).DEFAULT
    except (ValueError, KeyError):
        raise PretrainedWeightsUnavailable(arch, "torchvision has none for this architecture") from None
    filename = weights.url.rsplit("/", 1)[-1]
    cached = Path(torch.hub.get_dir()) / "checkpoints" / filename
    if cached.is_file():
        return torch.load(cached, map_location="cpu", weights_only=True)
    try:
        return torch.hub.load_state_dict_from_url(weights.url, map_location="cpu", progress=False, check_hash=True)
    except Exception as error:  # no network, proxy, bad hash: all mean the same to the user
        raise PretrainedWeightsUnavailable(arch, f"{type(error).__name__}: {error}", cached, weights.url) from None
