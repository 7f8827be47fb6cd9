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

from collections.abc import Callable

import torch


def _weighted_sum(weights: torch.Tensor, activations: torch.Tensor) -> torch.Tensor:
    return torch.einsum("nc,nchw->nhw", weights, activations)


def _gradcam(a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    return _weighted_sum(g.mean(dim=(2, 3)), a)


def _gradcam_plus_plus(a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    g2 = g.pow(2)
    alpha = g2 / (2 * g2 + a.sum(dim=(2, 3), keepdim=True) * g2 * g + 1e-6)
    alpha = torch.where(g != 0, alpha, torch.zeros_like(alpha))
    return _weighted_sum((g.clamp(min=0) * alpha).sum(dim=(2, 3)), a)


def _xgradcam(a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    return _weighted_sum((g * a).sum(dim=(2, 3)) / (a.sum(dim=(2, 3)) + 1e-7), a)


def _layercam(a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    return (g.clamp(min=0) * a).sum(dim=1)


def _hirescam(a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    return (g * a).sum(dim=1)


GRADIENT_METHODS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "gradcam": _gradcam,
    "gradcam++": _gradcam_plus_plus,
    "xgradcam": _xgradcam,
    "layercam": _layercam,
    "hirescam": _hirescam,
}


def eigen_projection(a: torch.Tensor) -> torch.Tensor:
    """First principal component of each image's activations (N x h x w), sign-corrected."""
    n, _c, h, w = a.shape
    x = torch.nan_to_num(a).flatten(2).transpose(1, 2)  # N x hw x C
    x = x - x.mean(dim=1, keepdim=True)
    _, _, vh = torch.linalg.svd(x, full_matrices=False)
    projection = (x @ vh[:, 0, :, None]).squeeze(-1)
    flip = projection.amin(dim=1).abs() > projection.amax(dim=1).abs()
    return torch.where(flip[:, None], -projection, projection).view(n, h, w)
