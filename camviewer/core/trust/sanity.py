"""Model-randomization sanity check (Adebayo et al., 2018).

A map that explains the model must change when the model's weights are replaced by random
ones. We re-run the method on a copy of the model randomized cascading from the top (the
classifier first, then ever earlier layers) and all at once, and compare each map with the
original by Spearman rank correlation and SSIM. A method whose maps barely change (an edge
detector, say) fails.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
from scipy.stats import spearmanr
from torch import nn

from camviewer.core.cam.display import upsample_map
from camviewer.core.cam.engine import compute_cams
from camviewer.core.jobs import CancelToken, Progress
from camviewer.core.model.loaded import LoadedModel

# (model, normalised batch, classes per image) -> maps N x H x W at input resolution
MapFunction = Callable[[LoadedModel, torch.Tensor, Sequence[int]], np.ndarray]
PASS_THRESHOLD = 0.5  # mean rank correlation with the fully randomized model must fall below this


@dataclass
class SanityStage:
    name: str  # "top 2/5 of layers randomized" or "all layers randomized"
    spearman: float
    ssim: float


@dataclass
class SanityReport:
    method: str
    stages: list[SanityStage] = field(default_factory=list)

    @property
    def fully_randomized(self) -> SanityStage:
        return self.stages[-1]

    @property
    def passed(self) -> bool:
        return self.fully_randomized.spearman < PASS_THRESHOLD


def cam_map_function(method: str, layer: str | None = None) -> MapFunction:
    def maps(model: LoadedModel, batch: torch.Tensor, classes: Sequence[int]) -> np.ndarray:
        out = compute_cams(model, batch, [method], target=list(classes), layer=layer)
        size = tuple(batch.shape[-2:])
        return np.stack([upsample_map(raw[method][c], size) for raw, c in zip(out.raw, classes)])

    return maps


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> float:
    """Mean structural similarity (Wang et al. 2004): 7x7 uniform window, K1 = 0.01, K2 = 0.03.

    The same choices as scikit-image's ``structural_similarity`` defaults, which the tests check against.
    """
    a, b = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    window, count = (7, 7), 49

    def mean(x):
        return cv2.blur(x, window, borderType=cv2.BORDER_REFLECT)

    mu_a, mu_b = mean(a), mean(b)
    correction = count / (count - 1)  # sample (co)variances, as scikit-image
    var_a = (mean(a * a) - mu_a**2) * correction
    var_b = (mean(b * b) - mu_b**2) * correction
    cov = (mean(a * b) - mu_a * mu_b) * correction
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    pad = (window[0] - 1) // 2
    return float(s[pad:-pad, pad:-pad].mean())


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman correlation of two maps; 0 when either is constant (no ranking to compare)."""
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(spearmanr(a.ravel(), b.ravel()).statistic)


def _parametrized_layers(module: nn.Module) -> list[nn.Module]:
    """Modules with their own parameters or buffers, in forward-definition order."""
    return [
        m for m in module.modules() if hasattr(m, "reset_parameters") and any(True for _ in m.parameters(recurse=False))
    ]


def _randomize(layers: Sequence[nn.Module], generator_seed: int) -> None:
    torch.manual_seed(generator_seed)
    for layer in layers:
        layer.reset_parameters()
        if isinstance(layer, nn.modules.batchnorm._BatchNorm):  # reset makes BN an identity: randomize it
            with torch.no_grad():
                layer.weight.normal_(1.0, 0.5)
                layer.bias.normal_(0.0, 0.5)


def sanity_check(
    model: LoadedModel,
    batch: torch.Tensor,
    method: str | MapFunction = "gradcam",
    classes: Sequence[int] | None = None,
    stages: int = 4,
    seed: int = 0,
    cancel: CancelToken | None = None,
) -> Iterator[Progress]:
    """Yield a Progress per stage; return a SanityReport. The caller's model is never modified."""
    maps_of = cam_map_function(method) if isinstance(method, str) else method
    name = method if isinstance(method, str) else getattr(method, "__name__", "custom")
    if classes is None:
        classes = model.predict_tensor(batch).argmax(1).tolist()
    original = maps_of(model, batch, classes)
    layer_count = len(_parametrized_layers(model.module))
    cut_points = np.linspace(0, layer_count, stages + 1).round().astype(int)[1:-1]  # the last stage: all at once
    report = SanityReport(name)
    plan = [(f"top {k}/{stages} of layers randomized (cascading)", cut) for k, cut in enumerate(cut_points, 1)]
    for done, (stage_name, cut) in enumerate(plan, 1):
        if cancel is not None:
            cancel.raise_if_cancelled()
        randomized = _randomized_copy(model, cut, seed)
        report.stages.append(_compare(stage_name, original, maps_of(randomized, batch, classes)))
        yield Progress(done, len(plan) + 1, stage_name, report.stages[-1])
    randomized = _randomized_copy(model, None, seed)
    report.stages.append(_compare("all layers randomized at once", original, maps_of(randomized, batch, classes)))
    yield Progress(len(plan) + 1, len(plan) + 1, report.stages[-1].name, report.stages[-1])
    return report


def _randomized_copy(model: LoadedModel, top_layers: int | None, seed: int) -> LoadedModel:
    """A copy with its top ``top_layers`` parametrized layers (all of them for None) re-initialised."""
    module = copy.deepcopy(model.module)
    layers = list(reversed(_parametrized_layers(module)))
    _randomize(layers if top_layers is None else layers[:top_layers], seed)
    return LoadedModel(module.eval(), model.card, model.device)


def _compare(name: str, original: np.ndarray, randomized: np.ndarray) -> SanityStage:
    spearman = np.mean([rank_correlation(a, b) for a, b in zip(original, randomized)])
    similarity = np.mean([ssim(a, b) for a, b in zip(original, randomized)])
    return SanityStage(name, float(spearman), float(similarity))
