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

from collections.abc import Sequence
from dataclasses import dataclass

from camviewer.core.errors import CamError

METHODS = (
    "gradcam",
    "gradcam++",
    "xgradcam",
    "layercam",
    "hirescam",
    "cam",
    "eigencam",
    "scorecam",
    "rollout",
    "gradrollout",
)


@dataclass(frozen=True)
class MostProbable:
    """Per image: the most probable of these classes (a data label that stands for a group of model classes)."""

    classes: tuple[str | int, ...]


# Per image: a class name or index, "pred", a MostProbable group, or a list of these (several maps).
Choice = str | int | MostProbable | list[str | int | MostProbable]
# "pred", "all", a class name or index for every image, or one Choice per image.
Target = str | int | Sequence[Choice]


def validate_methods(methods: Sequence[str]) -> tuple[str, ...]:
    methods = tuple(dict.fromkeys(m.strip().lower() for m in methods))
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise CamError(f"unknown CAM method(s) {unknown}; choose from {', '.join(METHODS)}")
    return methods
