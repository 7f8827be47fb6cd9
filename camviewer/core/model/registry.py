"""The architecture names camviewer knows: every torchvision classifier, its video ResNets, MONAI's
classification networks (``monai:NAME``), every timm model (``timm:NAME``), our own; and how many spatial
dimensions each one has."""

from __future__ import annotations

import torchvision

from camviewer.core.model.timm_models import TIMM_PREFIX, timm_architectures

CUSTOM_ARCHS = ("tinyvgg", "tinyvgg_gap", "vgg16_gap")

# torchvision's video ResNets, used as generic 3-D CNNs: (N, C, D, H, W) in, where video has (T, H, W).
VIDEO_ARCHS = ("r3d_18", "mc3_18", "r2plus1d_18")

# MONAI's classification networks, by class or factory name, built with ``spatial_dims`` (3 unless told).
MONAI_PREFIX = "monai:"
MONAI_ARCHS = (
    "DenseNet121",
    "DenseNet169",
    "DenseNet201",
    "DenseNet264",
    "resnet10",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnet200",
    "SEResNet50",
    "SEResNet101",
    "SEResNet152",
    "SEResNext50",
    "SEResNext101",
)


def torchvision_architectures() -> list[str]:
    """torchvision's classifiers and video ResNets, and our own (no timm: importing it takes seconds)."""
    return sorted(set(torchvision.models.list_models(module=torchvision.models)) | set(CUSTOM_ARCHS) | set(VIDEO_ARCHS))


def monai_architectures() -> list[str]:
    return [MONAI_PREFIX + name for name in MONAI_ARCHS]


def available_architectures() -> list[str]:
    """Every name :func:`~camviewer.core.model.archs.build_model` accepts (``monai:`` and ``timm:`` names last)."""
    return torchvision_architectures() + monai_architectures() + timm_architectures()


def is_known_architecture(arch: str) -> bool:
    if arch.startswith(TIMM_PREFIX):
        import timm

        return timm.is_model(arch[len(TIMM_PREFIX) :].split(".", 1)[0])
    return arch in torchvision_architectures() or arch in monai_architectures()


def spatial_dims(arch: str, arch_options: dict | None = None) -> int:
    """3 for a network that takes volumes (N, C, D, H, W), 2 for images (N, C, H, W).

    Video ResNets are 3-D; MONAI networks are what ``arch_options["spatial_dims"]`` says (3 by default, as
    MONAI's ResNets); TinyVGG is 2-D unless ``spatial_dims`` is 3.
    """
    options = arch_options or {}
    if arch in VIDEO_ARCHS:
        return 3
    if arch.startswith(MONAI_PREFIX):
        return int(options.get("spatial_dims", 3))
    return int(options.get("spatial_dims", 2))
