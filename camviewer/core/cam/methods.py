"""The maths of each map from activations ``A`` and gradients ``G`` (channel-first, any spatial rank).

``A`` and ``G`` are ``(N, C, *spatial)``: ``(N, C, H, W)`` for images, ``(N, C, D, H, W)`` for volumes,
whatever the layer's own layout (the engine hands every method this one). Every function reduces over
``spatial(A)`` and writes its sums with ``...``, so one definition serves every rank. Definitions follow
pytorch-grad-cam (torchcam for Smooth Grad-CAM++), the references our tests compare with; the README's
"CAM methods" table states each one.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

# F.interpolate's smooth mode for maps of 1, 2 or 3 spatial dimensions.
INTERPOLATION = {1: "linear", 2: "bilinear", 3: "trilinear"}


def spatial(x: torch.Tensor) -> tuple[int, ...]:
    """The spatial dimensions of a channel-first tensor: everything after N and C."""
    return tuple(range(2, x.ndim))


def weighted_sum(weights: torch.Tensor, activations: torch.Tensor) -> torch.Tensor:
    """sum_k w_k A_k: (N, C) weights and (N, C, *spatial) activations give (N, *spatial)."""
    return torch.einsum("nc,nc...->n...", weights, activations)


def _gradcam(a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    return weighted_sum(g.mean(dim=spatial(g)), a)


def _gradcam_plus_plus(a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    g2 = g.pow(2)
    alpha = g2 / (2 * g2 + a.sum(dim=spatial(a), keepdim=True) * g2 * g + 1e-6)
    alpha = torch.where(g != 0, alpha, torch.zeros_like(alpha))
    return weighted_sum((g.clamp(min=0) * alpha).sum(dim=spatial(g)), a)


def _xgradcam(a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    return weighted_sum((g * a).sum(dim=spatial(a)) / (a.sum(dim=spatial(a)) + 1e-7), a)


def _layercam(a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    return (g.clamp(min=0) * a).sum(dim=1)


def _hirescam(a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    return (g * a).sum(dim=1)


def _gradcam_elementwise(a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    return (g * a).clamp(min=0).sum(dim=1)


def _eigengradcam(a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    return eigen_projection(g * a)


# Maps from A and G = dScore/dA alone: every one of them comes from the engine's single backward.
GRADIENT_METHODS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "gradcam": _gradcam,
    "gradcam++": _gradcam_plus_plus,
    "xgradcam": _xgradcam,
    "layercam": _layercam,
    "hirescam": _hirescam,
    "gradcam-elementwise": _gradcam_elementwise,
    "eigengradcam": _eigengradcam,
}


def finercam(a: torch.Tensor, g_contrast: torch.Tensor) -> torch.Tensor:
    """Grad-CAM of the contrastive score (the engine differentiates it; see ``finer_scores``)."""
    return _gradcam(a, g_contrast)


def shapleycam(a: torch.Tensor, g: torch.Tensor, hvp: torch.Tensor) -> torch.Tensor:
    """sum_k mean(G_k - 1/2 (H A)_k) A_k, with H A the Hessian of the score (w.r.t. A) times A."""
    return weighted_sum((g - 0.5 * hvp).mean(dim=spatial(g)), a)


def smooth_gradcam_plus_plus(
    a: torch.Tensor, g2: torch.Tensor, g3: torch.Tensor, a_last: torch.Tensor, g_last: torch.Tensor
) -> torch.Tensor:
    """torchcam's Smooth Grad-CAM++ from the noisy copies' mean G^2 and G^3 and the last copy's A and G.

    alpha = mean(G^2) / (2 mean(G^2) + sum(mean(G^3) A) + 1e-8) with A the clean activations;
    w_k = sum(alpha_k relu(G_last,k)); map = sum_k w_k A_last,k (torchcam 0.5 reads the weights' gradient and
    the summed activations from its hooks, which the last noisy forward filled).
    """
    alpha = g2 / (2 * g2 + (g3 * a).sum(dim=spatial(a), keepdim=True) + 1e-8)
    return weighted_sum((alpha * g_last.clamp(min=0)).sum(dim=spatial(g_last)), a_last)


def eigen_projection(a: torch.Tensor) -> torch.Tensor:
    """First principal component of each item's activations, (N, *spatial), sign-corrected.

    The SVD leaves the sign to chance; it is chosen so that the largest magnitude is positive
    (Seg-Eigen-CAM, eq. 13).
    """
    x = torch.nan_to_num(a).flatten(2).transpose(1, 2)  # N x positions x C
    x = x - x.mean(dim=1, keepdim=True)
    _, _, vh = torch.linalg.svd(x, full_matrices=False)
    projection = (x @ vh[:, 0, :, None]).squeeze(-1)
    flip = projection.amin(dim=1).abs() > projection.amax(dim=1).abs()
    return torch.where(flip[:, None], -projection, projection).view(a.shape[0], *a.shape[2:])
