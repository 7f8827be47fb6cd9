"""The architecture names camviewer knows: every torchvision classifier, plus our own."""

from __future__ import annotations

import torchvision

CUSTOM_ARCHS = ("tinyvgg", "tinyvgg_gap", "vgg16_gap")


# Transformers have no (N, C, H, W) feature map to hook without a reshape transform.
NO_SPATIAL_FEATURES = ("vit_", "swin_", "maxvit_")


def available_architectures() -> list[str]:
    """Every name :func:`build_model` accepts."""
    return sorted(set(torchvision.models.list_models(module=torchvision.models)) | set(CUSTOM_ARCHS))
