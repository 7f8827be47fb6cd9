"""The scalar each backward differentiates, per chosen (image, class): the class score and its variants.

``logits`` are the model's outputs for the chosen images (one row per (image, class) pair, the same
image may repeat), ``classes`` the class of each row.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def class_scores(logits: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    return logits.gather(1, classes[:, None])[:, 0]


def finer_scores(logits: torch.Tensor, classes: torch.Tensor, probs: torch.Tensor, alpha: float, similar: int):
    """FinerCAM's contrast (pytorch-grad-cam's ``FinerWeightedTarget``): the class against its nearest classes.

    The ``similar`` classes whose scores are closest to the class's own (by absolute difference) are
    compared with it: sum_j p_j (y_c - alpha y_j) / sum_j p_j, with p the probabilities (differentiated too).
    """
    distance = (logits.detach() - class_scores(logits.detach(), classes)[:, None]).abs()
    distance.scatter_(1, classes[:, None], -1.0)  # the class itself sorts first
    nearest = distance.argsort(dim=1, stable=True)[:, 1 : similar + 1]
    weights = probs.gather(1, nearest)
    contrast = class_scores(logits, classes)[:, None] - alpha * logits.gather(1, nearest)
    return (weights * contrast).sum(dim=1) / (weights.sum(dim=1) + 1e-9)


def rest_scores(logits: torch.Tensor, classes: torch.Tensor, head: str) -> torch.Tensor:
    """ShapleyCAM's ReST target (pytorch-grad-cam's ``ClassifierOutputReST``): the score plus its log-probability.

    y_c - cross_entropy(y, c) = y_c + log softmax(y)_c; for a sigmoid head, y_c + log sigmoid(y_c).
    """
    score = class_scores(logits, classes)
    if head == "sigmoid":
        return score + F.logsigmoid(score)
    return score + class_scores(torch.log_softmax(logits, dim=1), classes)
