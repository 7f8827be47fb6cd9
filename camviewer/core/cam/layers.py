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

import math
from collections import defaultdict
from dataclasses import dataclass

import torch
from torch import nn

from camviewer.core.cam.tokens import LayerView, ModelLayout, model_layout
from camviewer.core.errors import CamError
from camviewer.core.model.archs import HEAD_LAYERS
from camviewer.core.model.loaded import LoadedModel, eval_mode


@dataclass(frozen=True)
class LayerInfo:
    name: str
    shape: tuple[int, ...]  # channels, then height, width of its map for the model's input size (depth too: volumes)
    module_type: str


def layout_of(model: LoadedModel) -> ModelLayout:
    """Where the model's layers keep their maps (tokens, channels-last, channel-first); cached on the model."""
    if "layout" not in model._layers:
        model._layers["layout"] = model_layout(model.module)
    return model._layers["layout"]


def candidate_layers(model: LoadedModel) -> list[LayerInfo]:
    """Layers with a spatial map (channel-first, tokens or channels-last; (C, d, h, w) in a volume model), in
    execution order; cached on the model.

    A dry forward at the card's input size records every module's output. Excluded: the model
    itself, adaptive pooling (it only resizes), maps of a single cell, modules called more than once
    (ResNet reuses one ReLU module inside a block: its hook would fire twice), and what runs inside
    attention modules. The same pass finds the head (see :func:`auto_layer`).
    """
    if "candidates" in model._layers:
        return model._layers["candidates"]
    layout = layout_of(model)
    card = model.card
    calls: dict[str, int] = defaultdict(int)
    order: list[tuple[str, tuple, str]] = []
    outputs: dict[str, tuple[torch.Tensor, LayerView]] = {}  # for the gradient probe of transformers
    head: list[int] = []  # position in ``order`` when the last Linear or convolution (the classifier) ran
    head_input: list[torch.Tensor] = []  # what that classifier reads

    def record(name: str):
        def hook(module, inputs, output):
            calls[name] += 1
            if isinstance(module, HEAD_LAYERS):
                head[:], head_input[:] = [len(order)], inputs[:1]
            view = layout.view(name, module, output, card.input_size)
            if view is None:
                return
            shape = tuple(view.to_map(output).shape[1:])
            if math.prod(shape[1:]) > 1:
                order.append((name, shape, type(module).__name__))
                outputs[name] = (output, view)

        return hook

    skip = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.AdaptiveAvgPool3d, nn.AdaptiveMaxPool3d)
    handles = [
        module.register_forward_hook(record(name))
        for name, module in model.module.named_modules()
        if name and not isinstance(module, skip)
    ]
    probe = torch.randn(1, card.channels, *card.input_size, generator=torch.Generator().manual_seed(0))
    probe.requires_grad_(layout.kind != "cnn")  # every output then records its gradient, frozen weights or not
    reached = None
    try:
        with model.lock, eval_mode(model.module), torch.set_grad_enabled(layout.kind != "cnn"):
            model.module(probe.to(model.device))
            if layout.kind != "cnn" and head_input:
                reached = _gradient_reaches_map(head_input[0], outputs)
    finally:
        for handle in handles:
            handle.remove()
    layers = [LayerInfo(name, shape, kind) for name, shape, kind in order if calls[name] == 1]
    if not layers:
        raise CamError(f"{card.arch} has no layer with a spatial map to explain (its maps are {layout.description})")
    features = {name for name, *_ in order[: head[0] if head else len(order)]}
    if reached is not None:
        features &= reached
    model._layers["candidates"] = layers
    model._layers["auto"] = next(
        (layer.name for layer in reversed(layers) if layer.name in features and layer.module_type not in NOT_A_LAYER),
        layers[-1].name,
    )
    return layers


def _gradient_reaches_map(features: torch.Tensor, outputs: dict) -> set[str]:
    """The layers at which what the classifier reads (``features``) has a non-zero gradient on the map.

    In a transformer whose head reads the class token, the last block's output carries gradient on
    that token only (the patch tokens after the last attention feed nothing), so its map is empty;
    the first norm of the last block is the last place where the patch tokens still matter. The
    classifier's input, not its output, is differentiated (a random projection of it): the class
    scores are linear in it, and a fresh torchvision ViT's classifier is all zeros.
    """
    names = [name for name, (output, _view) in outputs.items() if output.requires_grad]
    weights = torch.randn(features.shape, generator=torch.Generator().manual_seed(1)).to(features.device)
    grads = torch.autograd.grad((features * weights).sum(), [outputs[n][0] for n in names], allow_unused=True)
    return {
        name
        for name, grad in zip(names, grads)
        if grad is not None and bool(outputs[name][1].to_map(grad).abs().amax() > 0)
    }


# A map there is the map of the layer before it, and it belongs to the head: identity in eval mode,
# or a change of layout only (torchvision's Swin permutes its channels-last map back before pooling).
NOT_A_LAYER = ("Dropout", "Dropout2d", "Dropout1d", "Dropout3d", "AlphaDropout", "Identity", "Permute")


def auto_layer(model: LoadedModel) -> str:
    """The last spatial layer before the classification head (the outermost module when nested).

    The head starts with the last Linear or convolution to run, the one that computes the class scores:
    a convolutional head (SqueezeNet's ``classifier.1``, NiN) has spatial outputs whose channels are
    the class scores, and a map there is degenerate (one channel per class). Dropout before the head
    is skipped (identity at inference). In a transformer, only layers where the class scores have a
    gradient on the patch map qualify (see :func:`_gradient_reaches_map`): ``blocks[-1].norm1`` in a
    ViT that reads its class token, the last block in one that averages its patch tokens.
    """
    candidate_layers(model)
    return model._layers["auto"]


def layer_module(model: LoadedModel, name: str) -> nn.Module:
    try:
        return model.module.get_submodule(name)
    except AttributeError:
        close = [layer.name for layer in candidate_layers(model)][-5:]
        raise CamError(f"no layer named {name!r} in {model.card.arch}; try one of {close}") from None
