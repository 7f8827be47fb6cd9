"""Class activation maps from one forward and (at most) one backward pass.

All requested gradient methods share the same pass, and the backward stops at the target
layer: the forward runs without recording a graph until the target layer's output, which is
detached into a leaf; ``torch.autograd.grad`` then differentiates the class score with
respect to that leaf only, so no weight gradient is ever computed.

Definitions (A: activations N x C x h x w at the target layer, G = dScore/dA, Score = the
class logit) follow pytorch-grad-cam, which our tests use as the reference:

- ``cam`` (Zhou et al.): W[c] . A with the classifier weights of class c; needs a global
  average pooling + linear head right after the layer (checked numerically).
- ``gradcam``: sum_k mean(G_k) A_k.
- ``gradcam++``: sum_k (sum_ij relu(G_kij) a_kij) A_k, a = G^2 / (2 G^2 + sum(A_k) G^3).
- ``xgradcam``: sum_k (sum_ij G_kij A_kij / sum_ij A_kij) A_k.
- ``layercam``: sum_k relu(G_k) * A_k.
- ``hirescam``: sum_k G_k * A_k.
- ``eigencam``: projection of the centred activations on their first principal component,
  sign chosen so that the largest magnitude is positive (Seg-Eigen-CAM, eq. 13); class-agnostic.
- ``scorecam``: sum_k softmax_k(Score(x * M_k)) A_k with M_k the upsampled (align_corners)
  min-max normalised A_k; one masked forward per channel, batched.

``raw`` maps are these sums before ReLU, at layer resolution. Display maps are ReLU, bilinear
upsampling to the original image (``cv2.resize``), then min-max to [0, 1].
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import torch
from torch import nn

from camviewer.core.errors import CamError
from camviewer.core.model.loaded import LoadedModel, eval_mode
from camviewer.core.model.registry import NO_SPATIAL_FEATURES


@dataclass(frozen=True)
class LayerInfo:
    name: str
    shape: tuple[int, int, int]  # channels, height, width for the model's input size
    module_type: str


def candidate_layers(model: LoadedModel) -> list[LayerInfo]:
    """Layers with a spatial (C, h, w) output, in execution order; cached on the model.

    A dry forward at the card's input size records every module's output. Excluded: the model
    itself, adaptive pooling (it only resizes), outputs of size 1x1, and modules called more
    than once (ResNet reuses one ReLU module inside a block: its hook would fire twice).
    The same pass finds the head (see :func:`auto_layer`).
    """
    if "candidates" in model._layers:
        return model._layers["candidates"]
    if model.card.arch.startswith(NO_SPATIAL_FEATURES):
        raise CamError(f"{model.card.arch} is a transformer without (N, C, H, W) feature maps; CAMs need a CNN")
    calls: dict[str, int] = defaultdict(int)
    order: list[tuple[str, tuple, str]] = []
    head: list[int] = []  # position in ``order`` when the last Linear/Conv2d (the classifier) ran

    def record(name: str):
        def hook(module, _inputs, output):
            calls[name] += 1
            if isinstance(module, (nn.Linear, nn.Conv2d)):
                head[:] = [len(order)]
            if isinstance(output, torch.Tensor) and output.ndim == 4 and output.shape[2] * output.shape[3] > 1:
                order.append((name, tuple(output.shape[1:]), type(module).__name__))

        return hook

    skip = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
    handles = [
        module.register_forward_hook(record(name))
        for name, module in model.module.named_modules()
        if name and not isinstance(module, skip)
    ]
    card = model.card
    probe = torch.zeros(1, card.channels, *card.input_size, device=model.device)
    try:
        with model.lock, eval_mode(model.module), torch.no_grad():
            model.module(probe)
    finally:
        for handle in handles:
            handle.remove()
    layers = [LayerInfo(name, shape, kind) for name, shape, kind in order if calls[name] == 1]
    if not layers:
        raise CamError(f"{card.arch} has no layer with a spatial (N, C, H, W) output to explain")
    features = {name for name, *_ in order[: head[0] if head else len(order)]}
    model._layers["candidates"] = layers
    model._layers["auto"] = next(
        (layer.name for layer in reversed(layers) if layer.name in features and layer.module_type not in EVAL_IDENTITY),
        layers[-1].name,
    )
    return layers


# Identity in eval mode: a map there is the map of the layer before it, and it belongs to the head.
EVAL_IDENTITY = ("Dropout", "Dropout2d", "Dropout1d", "AlphaDropout", "Identity")


def auto_layer(model: LoadedModel) -> str:
    """The last spatial layer before the classification head (the outermost module when nested).

    The head starts with the last Linear or Conv2d to run, the one that computes the class scores:
    a convolutional head (SqueezeNet's ``classifier.1``, NiN) has spatial outputs whose channels are
    the class scores, and a map there is degenerate (one channel per class). Dropout before the head
    is skipped (identity at inference).
    """
    candidate_layers(model)
    return model._layers["auto"]


def layer_module(model: LoadedModel, name: str) -> nn.Module:
    try:
        return model.module.get_submodule(name)
    except AttributeError:
        close = [layer.name for layer in candidate_layers(model)][-5:]
        raise CamError(f"no layer named {name!r} in {model.card.arch}; try one of {close}") from None
