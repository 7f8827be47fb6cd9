"""Methods that need many forwards per image, run in batches: Score-CAM, AblationCAM, Smooth Grad-CAM++.

Each writes ``raw[i][method][class]`` for every target class of every image. A, the target layer's
activations, is channel-first, ``(N, C, *spatial)``, for images and volumes alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from camviewer.core.cam.inference_copy import memory_format
from camviewer.core.cam.methods import INTERPOLATION, smooth_gradcam_plus_plus
from camviewer.core.cam.names import MethodSettings
from camviewer.core.cam.tail import Tail, repeat_outside, tail_reproduces
from camviewer.core.jobs import CancelToken


def _check(cancel: CancelToken | None) -> None:
    if cancel is not None:
        cancel.raise_if_cancelled()


@dataclass(frozen=True)
class LayerOutput:
    """The target layer's output in its own layout (tokens, channels-last or channel-first) and its channel axis."""

    tensor: torch.Tensor
    channel_axis: int


def score_maps(net: nn.Module, batch, a, targets, raw, chunk: int, cancel: CancelToken | None) -> None:
    """Score-CAM: sum_k softmax_k(Score(x * M_k)) A_k, M_k the upsampled (align_corners) A_k scaled to [0, 1].

    Channels whose masks are the same (all-zero channels above all: their mask is 0) share one forward.
    ``net`` is the fast inference copy of the model.
    """
    mode, layout = INTERPOLATION[a.ndim - 2], memory_format(batch.ndim)
    for i, classes in enumerate(targets):
        flat = a[i].flatten(1)
        low, high = flat.amin(dim=1, keepdim=True), flat.amax(dim=1, keepdim=True)
        _, inverse = torch.unique((flat - low) / (high - low + 1e-8), dim=0, return_inverse=True)
        channels = torch.arange(len(flat), device=a.device)
        first = torch.full((int(inverse.max()) + 1,), len(flat), device=a.device).scatter_reduce(
            0, inverse, channels, "amin"
        )
        masks = F.interpolate(a[i : i + 1, first], size=batch.shape[2:], mode=mode, align_corners=True)[0]
        dims = tuple(range(1, masks.ndim))
        low, high = masks.amin(dim=dims, keepdim=True), masks.amax(dim=dims, keepdim=True)
        masks = (masks - low) / (high - low + 1e-8)
        scores = []
        for start in range(0, len(masks), chunk):
            _check(cancel)
            masked = batch[i][None] * masks[start : start + chunk, None]
            with torch.inference_mode():
                scores.append(net(masked.contiguous(memory_format=layout))[:, classes].clone())
        weights = torch.softmax(torch.cat(scores)[inverse], dim=0)  # channels x classes
        maps = torch.einsum("ck,c...->k...", weights, a[i])
        for j, c in enumerate(classes):
            raw[i]["scorecam"][c] = maps[j]


def ablation_maps(
    module: nn.Module,
    layer: nn.Module,
    tail: Tail | None,
    batch,
    a,
    output: LayerOutput,
    logits,
    targets,
    raw,
    chunk,
    cancel,
) -> None:
    """AblationCAM: sum_k (y - y_k) / y A_k, y_k the score with channel k of the layer's output set to 0.

    Channel k is ablated in the layer's own output (``output``): for transformer tokens in every token,
    class and other prefix tokens included, as pytorch-grad-cam's ``AblationLayerVit`` does. Only the
    layers after the target layer run again, on the ablated outputs (``tail``), when they can be isolated
    and give back the model's scores; else the whole forward, the layer's output replaced. A channel
    that is already 0 everywhere is not ablated: its term is 0 whatever its weight.
    """
    native = output.tensor
    outside = tail.outside(batch) if tail is not None else ()
    if tail is not None and not tail_reproduces(tail, native, outside, logits):
        tail = None
    for i, classes in enumerate(targets):
        original = logits[i, classes]
        drops = torch.zeros(a.shape[1], len(classes), device=a.device)
        per_channel = native[i : i + 1].movedim(output.channel_axis, 1)[0].flatten(1)
        active = torch.nonzero(per_channel.ne(0).any(dim=1))[:, 0]
        for start in range(0, len(active), chunk):
            _check(cancel)
            channels = active[start : start + chunk]
            ablated = native[i : i + 1].repeat(len(channels), *([1] * (native.ndim - 1)))
            ablated.movedim(output.channel_axis, 1)[torch.arange(len(channels)), channels] = 0
            if tail is not None:
                scores = tail.scores(ablated, repeat_outside(outside, i, len(a), len(channels)))
            else:
                scores = _forward_replacing(module, layer, batch[i : i + 1], ablated)
            drops[channels] = original - scores[:, classes]
        maps = torch.einsum("ck,c...->k...", drops / original, a[i])
        for j, c in enumerate(classes):
            raw[i]["ablationcam"][c] = maps[j]


def _forward_replacing(module: nn.Module, layer: nn.Module, image, activations) -> torch.Tensor:
    """The whole forward of ``image`` repeated, the layer's output replaced by ``activations``."""
    handle = layer.register_forward_hook(lambda _module, _inputs, _output: activations)
    try:
        return module(image.expand(len(activations), *image.shape[1:]))
    finally:
        handle.remove()


def smooth_noise(image_shape: tuple[int, ...], settings: MethodSettings, device) -> torch.Tensor:
    """The noise of Smooth Grad-CAM++ for one image: (samples, *image_shape), the same for every image and call.

    Drawn on the CPU, then moved: a CUDA generator gives other numbers for the same seed, and the map of an
    image must not depend on the device that computes it.
    """
    generator = torch.Generator().manual_seed(settings.smooth_seed)
    noise = torch.randn((settings.smooth_samples, *image_shape), generator=generator)
    return noise.to(device) * settings.smooth_std


def smooth_maps(
    forward_to_leaf: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    batch,
    a,
    targets,
    raw,
    settings: MethodSettings,
    cancel: CancelToken | None,
) -> None:
    """Smooth Grad-CAM++ (torchcam's): noisy copies of each image, batched; the backward stops at the layer.

    ``forward_to_leaf(x)`` runs the model on ``x`` and returns its scores and the target layer's
    activations as the leaf the backward stops at.
    """
    samples, images = settings.smooth_samples, len(batch)
    noise = torch.stack([smooth_noise(tuple(batch.shape[1:]), settings, batch.device) for _ in range(images)], 1)
    noisy = (batch[None] + noise).flatten(0, 1)  # sample-major: row m * images + i
    rounds = max(len(classes) for classes in targets)
    g2 = [torch.zeros_like(a) for _ in range(rounds)]
    g3 = [torch.zeros_like(a) for _ in range(rounds)]
    g_last = [torch.zeros_like(a) for _ in range(rounds)]
    a_last = torch.zeros_like(a)
    for start in range(0, len(noisy), settings.batch_size):
        _check(cancel)
        rows = torch.arange(start, min(start + settings.batch_size, len(noisy)), device=batch.device)
        logits, leaf = forward_to_leaf(noisy[rows])
        image, last = rows % images, rows // images == samples - 1
        a_last[image[last]] = leaf.detach()[last]
        for r in range(rounds):
            wanted = torch.tensor([r < len(targets[int(i)]) for i in image], device=batch.device)
            classes = torch.tensor([targets[int(i)][r] if r < len(targets[int(i)]) else 0 for i in image])
            score = logits[wanted, classes.to(logits.device)[wanted]].sum()
            (grad,) = torch.autograd.grad(score, leaf, retain_graph=r < rounds - 1)
            g2[r].index_add_(0, image, grad.pow(2))
            g3[r].index_add_(0, image, grad.pow(3))
            g_last[r][image[last]] = grad[last]
    for r in range(rounds):
        maps = smooth_gradcam_plus_plus(a, g2[r] / samples, g3[r] / samples, a_last, g_last[r])
        for i, classes in enumerate(targets):
            if r < len(classes):
                raw[i]["smoothgradcam++"][classes[r]] = maps[i]
