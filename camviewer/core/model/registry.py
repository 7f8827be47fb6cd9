"""The architecture names camviewer knows: every torchvision classifier, every timm model (``timm:NAME``), our own."""

from __future__ import annotations

import torchvision

from camviewer.core.model.timm_models import TIMM_PREFIX, timm_architectures

CUSTOM_ARCHS = ("tinyvgg", "tinyvgg_gap", "vgg16_gap")


def torchvision_architectures() -> list[str]:
    """torchvision's classifiers and our own (no timm: importing it takes seconds)."""
    return sorted(set(torchvision.models.list_models(module=torchvision.models)) | set(CUSTOM_ARCHS))


def available_architectures() -> list[str]:
    """Every name :func:`~camviewer.core.model.archs.build_model` accepts (``timm:`` names after the others)."""
    return torchvision_architectures() + timm_architectures()


def is_known_architecture(arch: str) -> bool:
    if arch.startswith(TIMM_PREFIX):
        import timm

        return timm.is_model(arch[len(TIMM_PREFIX) :].split(".", 1)[0])
    return arch in torchvision_architectures()
