"""Telling the architecture, number of classes and input channels from a state_dict's keys and shapes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

from camviewer.core.errors import (
    ArchitectureInferenceError,
)

_RESNET_DEPTHS = {(2, 2, 2, 2): 18, (3, 4, 6, 3): 34, (3, 4, 23, 3): 101, (3, 8, 36, 3): 152}


_DENSENET_BLOCKS = {
    (6, 12, 24, 16): "densenet121",
    (6, 12, 32, 32): "densenet169",
    (6, 12, 48, 32): "densenet201",
    (6, 12, 36, 24): "densenet161",
}


_VGG_CONVS = {8: "vgg11", 10: "vgg13", 13: "vgg16", 16: "vgg19"}


@dataclass
class InferredArchitecture:
    arch: str
    num_classes: int
    channels: int
    arch_options: dict
    input_size: tuple[int, ...] | None = None


def infer_architecture(state: Mapping[str, torch.Tensor]) -> InferredArchitecture:
    """Tell the architecture from key names and shapes where that is unambiguous."""
    keys = set(state)
    if any(key.startswith("conv_block_1.") for key in keys):
        return _infer_tinyvgg(state)
    if any(getattr(value, "ndim", 0) == 5 for value in state.values()):
        raise ArchitectureInferenceError(
            "3-D convolution kernels: a volume network (such as r3d_18 or monai:resnet18) cannot be told from its "
            "keys alone"
        )
    if "conv.0.weight" in keys and "classifier.weight" in keys and "features.0.weight" in keys:
        return InferredArchitecture(
            "vgg16_gap",
            state["classifier.weight"].shape[0],
            state["features.0.weight"].shape[1],
            {"conv_width": state["conv.0.weight"].shape[0]},
        )
    if "layer1.0.conv1.weight" in keys and "fc.weight" in keys:
        return _infer_resnet(state)
    if any(key.startswith("features.denseblock1.") for key in keys):
        blocks = tuple(
            len({k.split(".")[2] for k in keys if k.startswith(f"features.denseblock{b}.")}) for b in range(1, 5)
        )
        if blocks not in _DENSENET_BLOCKS:
            raise ArchitectureInferenceError(f"DenseNet with blocks {blocks} is not a torchvision variant")
        return InferredArchitecture(
            _DENSENET_BLOCKS[blocks],
            _head_weight(state, "classifier").shape[0],
            state["features.conv0.weight"].shape[1],
            {},
        )
    if "classifier.6.weight" in keys and "features.0.weight" in keys:
        convs = [k for k in keys if k.startswith("features.") and k.endswith(".weight") and state[k].ndim == 4]
        if len(convs) not in _VGG_CONVS:
            raise ArchitectureInferenceError(f"VGG with {len(convs)} convolutions is not a torchvision variant")
        batch_norm = any(k.endswith("running_mean") for k in keys)
        return InferredArchitecture(
            _VGG_CONVS[len(convs)] + ("_bn" if batch_norm else ""),
            state["classifier.6.weight"].shape[0],
            state["features.0.weight"].shape[1],
            {},
        )
    if "classifier.1.weight" in keys and state["classifier.1.weight"].ndim == 4 and "features.0.weight" in keys:
        first = state["features.0.weight"]
        variant = {7: "squeezenet1_0", 3: "squeezenet1_1"}.get(first.shape[-1])
        if variant:
            return InferredArchitecture(variant, state["classifier.1.weight"].shape[0], first.shape[1], {})
    sample = ", ".join(sorted(keys)[:6])
    raise ArchitectureInferenceError(f"the keys (starting {sample}, ...) match no known layout")


def _head_weight(state: Mapping[str, torch.Tensor], prefix: str) -> torch.Tensor:
    """The classifier weight, also when saved from a ``Sequential(Linear, Sigmoid)`` head."""
    weight = state.get(f"{prefix}.weight", state.get(f"{prefix}.0.weight"))
    if weight is None:
        raise ArchitectureInferenceError(f"no {prefix}.weight in the weights", needs_classes=True)
    return weight


def _infer_resnet(state: Mapping[str, torch.Tensor]) -> InferredArchitecture:
    keys = set(state)
    blocks = tuple(len({k.split(".")[1] for k in keys if k.startswith(f"layer{i}.")}) for i in range(1, 5))
    bottleneck = "layer1.0.conv3.weight" in keys
    conv2 = state["layer1.0.conv2.weight"]
    groups = conv2.shape[0] // conv2.shape[1] if bottleneck else 1
    width = state["layer1.0.conv1.weight"].shape[0]
    if blocks == (3, 4, 6, 3) and not bottleneck:
        depth = 34
    elif blocks == (3, 4, 6, 3):
        depth = 50
    else:
        depth = _RESNET_DEPTHS.get(blocks)
    if depth is None:
        raise ArchitectureInferenceError(f"ResNet with blocks {blocks} is not a torchvision variant")
    if groups > 1:
        arch = {(50, 32): "resnext50_32x4d", (101, 32): "resnext101_32x8d", (101, 64): "resnext101_64x4d"}.get(
            (depth, groups)
        )
    elif bottleneck and width == 128:
        arch = f"wide_resnet{depth}_2"
    else:
        arch = f"resnet{depth}"
    if arch is None:
        raise ArchitectureInferenceError(f"grouped ResNet variant (depth {depth}, {groups} groups) not recognised")
    return InferredArchitecture(arch, state["fc.weight"].shape[0], state["conv1.weight"].shape[1], {})


def _infer_tinyvgg(state: Mapping[str, torch.Tensor]) -> InferredArchitecture:
    blocks = sorted({int(k.split(".")[0].rsplit("_", 1)[1]) for k in state if k.startswith("conv_block_")})
    widths = [int(state[f"conv_block_{b}.0.weight"].shape[0]) for b in blocks]
    first = state["conv_block_1.0.weight"]
    channels = int(first.shape[1])
    dims = first.ndim - 2  # (out, in, *kernel): 2-D or 3-D convolutions
    options = {"widths": widths} | ({"spatial_dims": 3} if dims == 3 else {})
    linear = state.get("classifier.2.weight", state.get("classifier.1.weight"))
    if linear is None:
        raise ArchitectureInferenceError("TinyVGG weights without a classifier.1/classifier.2 linear layer")
    if "classifier.2.weight" in state:
        return InferredArchitecture("tinyvgg_gap", linear.shape[0], channels, options)
    cells = linear.shape[1] // widths[-1]
    side = int(round(cells ** (1 / dims)))
    input_size = None
    if side**dims == cells:  # square (cubic) input: each block halves the size
        input_size = (side * 2 ** len(widths),) * dims
    return InferredArchitecture("tinyvgg", linear.shape[0], channels, options, input_size)
