"""Pixel-level attributions through Captum: Integrated Gradients, Occlusion, Guided Grad-CAM.

These are not layer maps: each input pixel gets its own attribution, so the map is at the model
input's resolution (the display path places it on the image like any other map). The map is the
attribution summed over the input channels. Baselines are 0 on the normalised input: the mean image
of the model's normalisation.

- ``integrated-gradients``: (x - 0) * the mean gradient along the straight path from 0 to x
  (``settings.ig_steps`` Gauss-Legendre steps).
- ``occlusion``: the score drop when a window (``settings.occlusion_window``, every channel) is set to 0,
  averaged over the windows covering each pixel (stride ``settings.occlusion_stride``).
- ``guided-gradcam``: guided backpropagation (ReLU gradients kept only where both the input and the
  gradient are positive) times the ReLU'd Grad-CAM of the target layer, upsampled (linear, bilinear or
  trilinear), as Captum's ``GuidedGradCam``; the Grad-CAM factor comes from the engine's shared pass,
  so it is read through the layer's map wherever Grad-CAM is (transformer tokens included).
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn

from camviewer.core.cam.inference_copy import memory_format
from camviewer.core.cam.methods import INTERPOLATION
from camviewer.core.cam.names import MethodSettings
from camviewer.core.errors import MethodNotApplicable
from camviewer.core.jobs import CancelToken


def check_guided(module: nn.Module, arch: str) -> None:
    """Guided backpropagation changes the gradient of ReLU modules; without any it would be the plain gradient."""
    if not any(isinstance(m, nn.ReLU) for m in module.modules()):
        raise MethodNotApplicable(
            "guided-gradcam",
            arch,
            "ReLU modules (guided backpropagation changes their gradient)",
            "has none (its activations are other functions, or ReLUs called as functions)",
        )


def window(settings: MethodSettings, spatial_size: tuple[int, ...]) -> tuple[int, int]:
    """Occlusion's window side and stride, in input pixels."""
    side = settings.occlusion_window or max(1, min(spatial_size) // 8)
    return side, settings.occlusion_stride or max(1, side // 2)


def pixel_maps(
    method: str,
    module: nn.Module,
    fast: nn.Module,
    batch,
    targets,
    raw,
    settings: MethodSettings,
    cancel: CancelToken | None,
) -> None:
    """``raw[i][method][class]``: the method's map at input resolution for every target class of every image.

    ``module`` is the model (gradients flow through it), ``fast`` its inference copy (Occlusion's forwards).
    Guided Grad-CAM's entries hold their Grad-CAM factor on the way in (see ``backward.gradient_maps``).
    """
    from captum.attr import GuidedBackprop, IntegratedGradients, Occlusion  # loaded only when asked for

    spatial_size = tuple(batch.shape[2:])
    if method == "integrated-gradients":
        explainer = IntegratedGradients(module)
    elif method == "occlusion":
        layout = memory_format(batch.ndim)
        explainer = Occlusion(lambda x: fast(x.contiguous(memory_format=layout)))
    else:
        explainer = GuidedBackprop(module)
    for i, classes in enumerate(targets):
        if cancel is not None:
            cancel.raise_if_cancelled()
        inputs = batch[i : i + 1].expand(len(classes), *batch.shape[1:]).clone().requires_grad_(method != "occlusion")
        if method == "integrated-gradients":
            attribution = explainer.attribute(
                inputs, target=classes, n_steps=settings.ig_steps, internal_batch_size=settings.batch_size
            )
        elif method == "occlusion":
            side, stride = window(settings, spatial_size)
            channels = batch.shape[1]
            with torch.no_grad():
                attribution = explainer.attribute(
                    inputs,
                    sliding_window_shapes=(channels, *[side] * len(spatial_size)),
                    strides=(channels, *[stride] * len(spatial_size)),
                    target=classes,
                    perturbations_per_eval=max(1, settings.batch_size // len(classes)),
                )
        else:
            gradcam = torch.stack([raw[i][method][c] for c in classes]).clamp(min=0)[:, None]
            upsampled = F.interpolate(gradcam, size=spatial_size, mode=INTERPOLATION[len(spatial_size)])
            with warnings.catch_warnings():  # Captum says it hooks the ReLUs, which is what was asked for
                warnings.filterwarnings("ignore", "Setting backward hooks on ReLU", UserWarning)
                attribution = explainer.attribute(inputs, target=classes) * upsampled
        maps = attribution.detach().sum(dim=1)
        for j, c in enumerate(classes):
            raw[i][method][c] = maps[j]
