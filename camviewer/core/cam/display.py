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

import cv2
import numpy as np

from camviewer.core.preprocess import crop_box


def upsample_map(raw: np.ndarray, image_size: tuple[int, int], border_crop: float = 0.0) -> np.ndarray:
    """ReLU, bilinear resize onto the image region the model saw, min-max to [0, 1] (H x W float32)."""
    return normalised(placed_map(raw, image_size, border_crop))[0]


def placed_map(raw: np.ndarray, image_size: tuple[int, int], border_crop: float = 0.0) -> np.ndarray:
    """ReLU and bilinear resize onto the image region the model saw, in the raw map's units (H x W float32)."""
    height, width = image_size
    top, left, crop_h, crop_w = crop_box(height, width, border_crop)
    resized = cv2.resize(np.maximum(raw, 0).astype(np.float32), (crop_w, crop_h), interpolation=cv2.INTER_LINEAR)
    if (crop_h, crop_w) != (height, width):
        canvas = np.zeros((height, width), np.float32)
        canvas[top : top + crop_h, left : left + crop_w] = resized
        resized = canvas
    return resized


def normalised(placed: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """Min-max to [0, 1], in place; also the (low, high) that became 0 and 1, so raw = low + map * (high - low)."""
    low = float(placed.min())
    placed -= low
    span = float(placed.max())
    placed /= span + 1e-7
    return placed, (low, low + span + 1e-7)
