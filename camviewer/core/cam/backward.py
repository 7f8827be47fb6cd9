"""The backwards of the engine's shared pass: one per score per round, each stopping at the target layer.

Round r explains the r-th target class of every image at once: images in eval mode are independent,
so the gradient of sum_i score[i, t_i] with respect to A gives each image its own dScore/dA. The plain
class score feeds every method of ``GRADIENT_METHODS`` (and Guided Grad-CAM's Grad-CAM factor);
FinerCAM and ShapleyCAM differentiate their own scores (``scores``) on the same graph.
"""

from __future__ import annotations

import torch

from camviewer.core.cam.methods import GRADIENT_METHODS, finercam, shapleycam
from camviewer.core.cam.names import MethodSettings
from camviewer.core.cam.scores import class_scores, finer_scores, rest_scores


def gradient_maps(model, logits, activation, targets, methods, raw, zero_gradient, settings: MethodSettings) -> None:
    """``raw[i][method][class]`` for the one-pass methods among ``methods``; ``zero_gradient`` as ``CamBatch``'s.

    ``activation`` is the leaf the backward stops at. Guided Grad-CAM's entry holds its Grad-CAM factor
    (layer resolution) until the pixel step multiplies it with guided backpropagation.
    """
    rounds = max(len(classes) for classes in targets)
    a = activation.detach()
    plain = [m for m in methods if m in GRADIENT_METHODS]
    guided = "guided-gradcam" in methods
    for r in range(rounds):
        chosen = [(i, classes[r]) for i, classes in enumerate(targets) if r < len(classes)]
        rows = torch.tensor([i for i, _ in chosen], device=logits.device)
        cols = torch.tensor([c for _, c in chosen], device=logits.device)
        scores = {}
        if plain or guided:
            scores["plain"] = class_scores(logits[rows], cols)
        if "finercam" in methods:
            probs = model.probabilities(logits[rows])
            similar = min(settings.finer_classes, logits.shape[1] - 1)
            scores["finercam"] = finer_scores(logits[rows], cols, probs, settings.finer_alpha, similar)
        if "shapleycam" in methods:
            scores["shapleycam"] = rest_scores(logits[rows], cols, model.card.head)
        for kind, score in scores.items():
            (grad,) = torch.autograd.grad(score.sum(), activation, retain_graph=True, create_graph=kind == "shapleycam")
            if kind == "plain":
                flat = (grad[rows].flatten(1) == 0).all(dim=1).tolist()
                for (i, c), is_flat in zip(chosen, flat):
                    if is_flat:
                        zero_gradient[i].add(c)
                per_method = {m: GRADIENT_METHODS[m](a[rows], grad[rows]) for m in plain}
                if guided:
                    per_method["guided-gradcam"] = GRADIENT_METHODS["gradcam"](a[rows], grad[rows])
            elif kind == "finercam":
                per_method = {kind: finercam(a[rows], grad[rows])}
            else:
                hvp = hessian_times(grad, activation, a)
                per_method = {kind: shapleycam(a[rows], grad.detach()[rows], hvp[rows])}
            for method, maps in per_method.items():
                for j, (i, c) in enumerate(chosen):
                    raw[i][method][c] = maps[j].detach()


def hessian_times(grad: torch.Tensor, activation: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """H A, H the Hessian of the score w.r.t. the layer's output: 0 where the gradient does not depend on A."""
    if not grad.requires_grad:
        return torch.zeros_like(a)
    (hvp,) = torch.autograd.grad(grad, activation, grad_outputs=a, retain_graph=True, allow_unused=True)
    return torch.zeros_like(a) if hvp is None else hvp
