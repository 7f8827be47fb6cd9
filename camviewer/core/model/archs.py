"""Architectures: every torchvision classifier by name (video ResNets included, as 3-D CNNs) and timm model, MONAI's
classification networks (``monai_archs``), plus TinyVGG (2-D or 3-D) and the CAM-ready VGG-16-GAP.

All models return logits; the model card says whether they go through softmax or sigmoid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torchvision.models.vision_transformer import interpolate_embeddings

from camviewer.core.errors import CamviewerError, PretrainedWeightsUnavailable, RecipeError, UnknownArchitecture
from camviewer.core.model.card_checks import TINYVGG_DEFAULT_WIDTHS
from camviewer.core.model.pretrained import pretrained_state_dict
from camviewer.core.model.registry import MONAI_PREFIX, is_known_architecture, spatial_dims
from camviewer.core.model.state_dict import normalize_keys
from camviewer.core.model.timm_models import build_timm, is_timm


class TinyVGG(nn.Module):
    """The small VGG-like net of the CNN Explainer (seed 002): blocks of conv-relu-conv-relu-maxpool.

    Parameter names match the widely used course implementation (``conv_block_1.0.weight``...,
    ``classifier.1.weight``) so its checkpoints load. ``gap=True`` swaps the flatten head for
    global average pooling + one linear layer, which makes the model CAM-ready and size-agnostic.
    ``spatial_dims=3`` makes the same network of 3-D convolutions and pooling, for volumes.

    Convolutions start from He initialisation (normal, fan-out, zero bias), as torchvision's VGG
    does. PyTorch's default for a bare ``Conv2d`` (uniform, a third of He's variance, biases up to
    1/sqrt(fan-in)) let the signal shrink about 2.5x per conv-ReLU layer: by the third convolution the
    activations (rms 0.05 on normalised cell images) were smaller than the biases (up to 0.1), so
    the biases decided which units fired, Adam's first steps switched whole channels off, and the
    GAP variant sat at chance for 10-20 epochs or for good (measured; README "Training defaults").
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 3,
        widths: Sequence[int] = TINYVGG_DEFAULT_WIDTHS,
        gap: bool = False,
        input_size: tuple[int, ...] = (64, 64),
        spatial_dims: int = 2,
    ) -> None:
        super().__init__()
        conv, pool, global_pool = (
            (nn.Conv3d, nn.MaxPool3d, nn.AdaptiveAvgPool3d)
            if spatial_dims == 3
            else (nn.Conv2d, nn.MaxPool2d, nn.AdaptiveAvgPool2d)
        )
        channels = in_channels
        for index, width in enumerate(widths, start=1):
            block = nn.Sequential(
                conv(channels, width, 3, padding=1), nn.ReLU(), conv(width, width, 3, padding=1), nn.ReLU(), pool(2)
            )
            self.add_module(f"conv_block_{index}", block)
            channels = width
        self.blocks = len(widths)
        if gap:
            self.classifier = nn.Sequential(global_pool(1), nn.Flatten(), nn.Linear(channels, num_classes))
        else:
            shrink = 2 ** len(widths)
            cells = math.prod(side // shrink for side in input_size[-spatial_dims:])
            self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(channels * cells, num_classes))

        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Conv3d)):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for index in range(1, self.blocks + 1):
            x = getattr(self, f"conv_block_{index}")(x)
        return self.classifier(x)


class VGG16GAP(nn.Module):
    """VGG-16 convolutions (without the last max-pool), one more conv, global average pooling, one linear layer.

    The CAM-ready head of seed 000 (Zhou et al.): the class map is the linear weights times the
    ``conv`` output, at 1/16 of the input resolution.
    """

    def __init__(self, num_classes: int, in_channels: int = 3, conv_width: int = 1024) -> None:
        super().__init__()
        vgg = torchvision.models.vgg16(weights=None)
        self.features = vgg.features[:-1]
        self.conv = nn.Sequential(nn.Conv2d(512, conv_width, 3, padding=1), nn.ReLU(inplace=True))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(conv_width, num_classes)
        if in_channels != 3:
            replace_first_conv(self, in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.conv(self.features(x)))
        return self.classifier(torch.flatten(x, 1))


class DenseNetWithFinalReLU(torchvision.models.DenseNet):
    """torchvision's DenseNet with its final ReLU as a module, ``final_relu``.

    torchvision applies ``F.relu(features, inplace=True)`` in ``forward``: a hook on ``features``
    sees activations that the in-place ReLU then overwrites, so libraries disagree on what
    "the last feature map" is. We read CAMs at ``final_relu``: the exact tensor that is pooled
    and fed to the classifier. There, Grad-CAM equals CAM up to 1/(H*W), as the maths says.
    Parameter names and outputs are unchanged.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.final_relu(self.features(x))
        pooled = F.adaptive_avg_pool2d(features, (1, 1))
        return self.classifier(torch.flatten(pooled, 1))


def build_model(
    arch: str,
    num_classes: int,
    channels: int = 3,
    arch_options: dict | None = None,
    input_size: tuple[int, ...] = (224, 224),
    pretrained: bool = False,
    weights_file: str | Path | None = None,
) -> nn.Module:
    """A fresh model of ``arch`` with ``num_classes`` outputs and ``channels`` input channels.

    ``input_size`` (only a TinyVGG without GAP needs it) is (h, w), or (d, h, w) for a 3-D network. With ``pretrained`` (or a ``weights_file``), ImageNet weights are loaded first and the
    classifier is then replaced; with one channel, the first convolution's pretrained weights
    are summed over RGB so a grey image gives the response its RGB copy would. ``timm:NAME``
    models are built by timm (``arch_options`` go to their constructor), which does the same.
    Models whose input size is fixed when built (ViT, MaxViT) are built for ``input_size``.
    """
    options = dict(arch_options or {})
    if not is_known_architecture(arch):
        raise UnknownArchitecture(arch)
    if is_timm(arch):
        return build_timm(arch, num_classes, channels, input_size, options, pretrained, weights_file)
    dims = spatial_dims(arch, options)
    if arch in ("tinyvgg", "tinyvgg_gap"):
        if pretrained or weights_file:
            raise PretrainedWeightsUnavailable(arch, "it is one of camviewer's own architectures")
        widths = options.get("widths", TINYVGG_DEFAULT_WIDTHS)
        return TinyVGG(num_classes, channels, widths, arch == "tinyvgg_gap", input_size, dims)
    if arch.startswith(MONAI_PREFIX):
        from camviewer.core.model.monai_archs import build_monai

        return build_monai(arch, num_classes, channels, dims, pretrained or weights_file is not None)
    if arch == "vgg16_gap":
        model = VGG16GAP(num_classes, 3, options.get("conv_width", 1024))
        if pretrained or weights_file:
            vgg_state = pretrained_state_dict("vgg16", weights_file)
            features = {k[len("features.") :]: v for k, v in vgg_state.items() if k.startswith("features.")}
            model.features.load_state_dict(features)
    elif pretrained or weights_file:
        model = torchvision.models.get_model(arch, weights=None, **_size_options(arch, input_size))
        state = normalize_keys(pretrained_state_dict(arch, weights_file), model.state_dict())
        if isinstance(model, torchvision.models.VisionTransformer):  # trained at 224: resample the positions
            state = interpolate_embeddings(model.image_size, model.patch_size, state)
        model.load_state_dict(state)
        replace_classifier(model, num_classes)
    else:
        model = torchvision.models.get_model(
            arch, weights=None, num_classes=num_classes, **_size_options(arch, input_size)
        )
    if isinstance(model, torchvision.models.DenseNet):
        model.__class__ = DenseNetWithFinalReLU
        model.final_relu = nn.ReLU()
    if channels != 3:
        replace_first_conv(model, channels)
    return model


def _size_options(arch: str, input_size: tuple[int, int]) -> dict:
    """torchvision's ViT and MaxViT build their position tables for one input size."""
    if arch.startswith("vit_"):
        if input_size[0] != input_size[1]:
            raise RecipeError(f"torchvision's {arch} takes square inputs, not {input_size[0]}x{input_size[1]}")
        return {"image_size": input_size[0]}
    if arch.startswith("maxvit_"):
        return {"input_size": tuple(input_size)}
    return {}


# Layers that can compute class scores: the head of a classifier is the last of them.
HEAD_LAYERS = (nn.Linear, nn.Conv2d, nn.Conv3d)


def final_layer_name(model: nn.Module) -> str:
    """Name of the layer that produces the logits: the last Linear or convolution in module order."""
    last = None
    for name, module in model.named_modules():
        if isinstance(module, HEAD_LAYERS):
            last = name
    if last is None:
        raise CamviewerError("the model has no Linear or convolution layer")
    return last


def replace_classifier(model: nn.Module, num_classes: int) -> None:
    """Swap the final layer for a freshly initialised one with ``num_classes`` outputs."""
    name = final_layer_name(model)
    old = model.get_submodule(name)
    if isinstance(old, nn.Linear):
        new = nn.Linear(old.in_features, num_classes, bias=old.bias is not None)
    else:
        new = type(old)(old.in_channels, num_classes, old.kernel_size, old.stride, old.padding)
    _set_submodule(model, name, new)


def replace_first_conv(model: nn.Module, channels: int) -> None:
    """Make the first convolution (2-D or 3-D) take ``channels`` inputs, keeping its RGB weights' response."""
    convolutions = [(name, m) for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Conv3d))]
    if not convolutions:
        raise CamviewerError("the model has no convolution to adapt to the number of channels")
    name, module = convolutions[0]
    new = type(module)(
        channels,
        module.out_channels,
        module.kernel_size,
        module.stride,
        module.padding,
        module.dilation,
        module.groups,
        module.bias is not None,
        module.padding_mode,
    )
    with torch.no_grad():
        if channels == 1:
            new.weight.copy_(module.weight.sum(dim=1, keepdim=True))
        if module.bias is not None:
            new.bias.copy_(module.bias)
    _set_submodule(model, name, new)


def _set_submodule(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)
