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

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from camviewer.core.cam.layers import auto_layer, layer_module, layout_of
from camviewer.core.cam.methods import GRADIENT_METHODS, eigen_projection
from camviewer.core.cam.names import MostProbable, Target, validate_methods
from camviewer.core.cam.rollout import attention_capture, rollout_maps
from camviewer.core.errors import CamError, NonFiniteOutput
from camviewer.core.jobs import CancelToken
from camviewer.core.model.archs import final_layer_name
from camviewer.core.model.loaded import LoadedModel, eval_mode


class _LayerCapture:
    """Hooks one layer for one forward: its map becomes a leaf so the backward stops there.

    The layer's output is turned into a channel-first map (tokens and channels-last maps through
    :mod:`camviewer.core.cam.tokens`), which is what every method sees, and rebuilt from that map for
    the layers after it. The hook switches grad recording on (the surrounding ``torch.no_grad``
    restores the mode when it exits), so layers before the target build no graph at all. With
    ``keep_graph`` the map stays connected to the layers before it (a method that also needs their
    gradients, e.g. gradient-weighted rollout). The rebuilt output is a copy: a later in-place op
    (DenseNet's ``relu_``, ResNet's ``+=``) must not change the activation we read.
    """

    def __init__(self, model: LoadedModel, name: str, input_size, with_grad: bool, keep_graph: bool = False) -> None:
        self.layer, self.name, self.input_size = layer_module(model, name), name, tuple(input_size)
        self.layout = layout_of(model)
        self.with_grad, self.keep_graph = with_grad, keep_graph
        self.activation: torch.Tensor | None = None
        self.enabled = True

    def __enter__(self):
        self.handle = self.layer.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc) -> None:
        self.handle.remove()

    def _hook(self, module, _inputs, output):
        if not self.enabled:
            return None
        view = self.layout.view(self.name, module, output, self.input_size)
        if view is None:
            raise CamError(
                f"layer {self.name!r} outputs {_describe(output)}, not a feature map "
                f"(this model's maps are {self.layout.description})"
            )
        self.enabled = False  # later forwards (Score-CAM's masked inputs) pass through untouched
        if not self.with_grad:
            self.activation = view.to_map(output.detach()).clone()
            return None
        if self.keep_graph:
            self.activation = view.to_map(output)
            return view.restore(self.activation, output).clone()
        torch.set_grad_enabled(True)
        self.activation = view.to_map(output.detach()).requires_grad_(True)
        return view.restore(self.activation, output.detach()).clone()


def _describe(output) -> str:
    return f"shape {tuple(output.shape)}" if isinstance(output, torch.Tensor) else type(output).__name__


@dataclass
class CamBatch:
    """Maps for a batch: ``raw[i][method][class_index]`` is an h x w float32 array (before ReLU).

    ``zero_gradient[i]``: the classes of image i whose score has an all-zero gradient at the layer
    (their gradient maps are empty: e.g. a ReLU after the classifier cut the score to 0).
    """

    layer: str
    logits: np.ndarray
    probs: np.ndarray
    targets: list[list[int]]
    raw: list[dict[str, dict[int, np.ndarray]]]
    zero_gradient: list[set[int]] = field(default_factory=list)


def resolve_targets(target: Target, probs: np.ndarray, model: LoadedModel) -> list[list[int]]:
    """Class indices to explain per image.

    "pred": the predicted class; for a sigmoid head every label with p >= 0.5 (the top one if
    none is). "all": every class. A class name or index: that class for every image. A
    sequence: one choice per image (a class, "pred", a ``MostProbable`` group, or a list of them).
    """
    if not isinstance(target, (str, int)):
        if len(target) != len(probs):
            raise CamError(f"{len(target)} targets given for {len(probs)} images")
        return [_resolve_choice(one, probs[i : i + 1], model) for i, one in enumerate(target)]
    if target == "pred":
        if model.card.head == "sigmoid":
            return [[int(i) for i in np.flatnonzero(p >= 0.5)] or [int(p.argmax())] for p in probs]
        return [[int(p.argmax())] for p in probs]
    if target == "all":
        return [list(range(probs.shape[1])) for _ in probs]
    try:
        index = model.card.class_index(target)
    except KeyError as error:
        raise CamError(str(error.args[0])) from None
    return [[index] for _ in probs]


def _resolve_choice(choice, probs: np.ndarray, model: LoadedModel) -> list[int]:
    if isinstance(choice, list):
        return list(dict.fromkeys(index for one in choice for index in _resolve_choice(one, probs, model)))
    if isinstance(choice, MostProbable):
        indices = [resolve_targets(one, probs, model)[0][0] for one in choice.classes]
        return [max(indices, key=lambda index: probs[0, index])]
    return resolve_targets(choice, probs, model)[0]


def compute_cams(
    model: LoadedModel,
    batch: torch.Tensor,
    methods: Sequence[str] = ("gradcam",),
    target: Target = "pred",
    layer: str | None = None,
    scorecam_batch_size: int = 32,
    cancel: CancelToken | None = None,
) -> CamBatch:
    """Every requested method for every requested class of a normalised N x C x H x W batch."""
    methods = validate_methods(methods)
    layer = layer or auto_layer(model)
    gradient_methods = [m for m in methods if m in GRADIENT_METHODS]
    whole_graph = "gradrollout" in methods  # its backward goes through every block
    capture = _LayerCapture(model, layer, batch.shape[2:], bool(gradient_methods), keep_graph=whole_graph)
    batch = batch.to(model.device)
    with model.lock, eval_mode(model.module), capture:
        with torch.set_grad_enabled(whole_graph), attention_capture(model, methods) as attentions:
            logits = model.module(batch)
        activation = capture.activation
        if activation is None:
            raise CamError(f"layer {layer!r} was not used by the forward pass")
        probs = model.probabilities(logits.detach()).cpu().numpy()
        targets = resolve_targets(target, probs, model)
        raw: list[dict[str, dict[int, torch.Tensor]]] = [defaultdict(dict) for _ in targets]
        zero_gradient: list[set[int]] = [set() for _ in targets]
        if attentions:  # first: the gradient methods' last backward frees the graph
            rollout_maps(model, attentions, logits, targets, methods, raw, batch.shape[2:])
        if gradient_methods:
            _gradient_maps(logits, activation, targets, gradient_methods, raw, zero_gradient)
        with torch.no_grad():
            _activation_only_maps(
                model, activation.detach(), logits.detach(), batch, methods, targets, raw, scorecam_batch_size, cancel
            )
    as_numpy = [
        {
            method: {c: m.detach().float().cpu().numpy() for c, m in per_class.items()}
            for method, per_class in image.items()
        }
        for image in raw
    ]
    if not all(np.isfinite(m).all() for image in as_numpy for per_class in image.values() for m in per_class.values()):
        raise NonFiniteOutput(model.source, "maps")
    return CamBatch(layer, logits.detach().cpu().numpy(), probs, targets, as_numpy, zero_gradient)


def _gradient_maps(logits, activation, targets, methods, raw, zero_gradient) -> None:
    """One backward per 'round': round r explains the r-th target class of every image at once.

    Images in eval mode are independent, so the gradient of sum_i logit[i, t_i] with respect
    to A gives each image its own dScore/dA.
    """
    rounds = max(len(classes) for classes in targets)
    a = activation.detach()
    for r in range(rounds):
        chosen = [(i, classes[r]) for i, classes in enumerate(targets) if r < len(classes)]
        rows = torch.tensor([i for i, _ in chosen], device=logits.device)
        cols = torch.tensor([c for _, c in chosen], device=logits.device)
        score = logits[rows, cols].sum()
        (grad,) = torch.autograd.grad(score, activation, retain_graph=r < rounds - 1)
        flat = (grad[rows].flatten(1) == 0).all(dim=1).tolist()
        for (i, c), is_flat in zip(chosen, flat):
            if is_flat:
                zero_gradient[i].add(c)
        for method in methods:
            maps = GRADIENT_METHODS[method](a[rows], grad[rows])
            for j, (i, c) in enumerate(chosen):
                raw[i][method][c] = maps[j]


def _activation_only_maps(model, a, logits, batch, methods, targets, raw, scorecam_batch_size, cancel) -> None:
    if "cam" in methods:
        _class_activation_maps(model, a, logits, targets, raw)
    if "eigencam" in methods:
        projection = eigen_projection(a)
        for i, classes in enumerate(targets):
            for c in classes:
                raw[i]["eigencam"][c] = projection[i]
    if "scorecam" in methods:
        _score_maps(model.module, batch, a, targets, raw, scorecam_batch_size, cancel)


def _class_activation_maps(model: LoadedModel, a, logits, targets, raw) -> None:
    name = model._layers.get("final") or model._layers.setdefault("final", final_layer_name(model.module))
    final = model.module.get_submodule(name)
    pooled = a.mean(dim=(2, 3))
    fits = isinstance(final, nn.Linear) and final.in_features == a.shape[1]
    if fits:
        predicted = F.linear(pooled, final.weight, final.bias)
        fits = torch.allclose(predicted, logits, rtol=1e-3, atol=1e-4 * (1 + logits.abs().max().item()))
    if not fits:
        raise CamError(
            "method 'cam' needs global average pooling and one linear layer right after the target "
            f"layer; {model.card.arch} at this layer has another head (its final layer is {name!r}). "
            "Use 'gradcam', which gives the same map wherever CAM applies."
        )
    class_maps = torch.einsum("kc,nchw->nkhw", final.weight, a)
    for i, classes in enumerate(targets):
        for c in classes:
            raw[i]["cam"][c] = class_maps[i, c]


def _score_maps(module, batch, a, targets, raw, chunk: int, cancel: CancelToken | None) -> None:
    for i, classes in enumerate(targets):
        masks = F.interpolate(a[i : i + 1], size=batch.shape[-2:], mode="bilinear", align_corners=True)[0]
        low = masks.amin(dim=(1, 2), keepdim=True)
        high = masks.amax(dim=(1, 2), keepdim=True)
        masks = (masks - low) / (high - low + 1e-8)
        scores = []
        for start in range(0, masks.shape[0], chunk):
            if cancel is not None:
                cancel.raise_if_cancelled()
            scores.append(module(batch[i][None] * masks[start : start + chunk, None]))
        weights = torch.softmax(torch.cat(scores)[:, classes], dim=0)  # channels x classes
        maps = torch.einsum("ck,chw->khw", weights, a[i])
        for j, c in enumerate(classes):
            raw[i]["scorecam"][c] = maps[j]


def inapplicable_methods(model: LoadedModel, methods: Sequence[str], layer: str | None = None) -> dict[str, str]:
    """The methods that cannot explain this model at this layer, each with the reason.

    Probed on one seeded random image: the methods together (one pass), and one by one only if that
    fails. Score-CAM needs nothing but the layer's activations, which every other method reads too,
    so it is not probed itself (its probe alone would cost one forward per channel). A layer that
    does not exist is not a method's fault: that CamError is raised.
    """
    methods = validate_methods(methods)
    layer = layer or auto_layer(model)
    layer_module(model, layer)
    probed = [m for m in methods if m != "scorecam"] or ["eigencam"]
    shape = (*model.card.input_size, model.card.channels)
    probe = model.to_batch([np.random.default_rng(0).random(shape, dtype=np.float32)])

    def reason(chosen: Sequence[str]) -> str | None:
        try:
            compute_cams(model, probe, chosen, target=0, layer=layer)
        except CamError as error:
            return str(error)
        return None

    if reason(probed) is None:
        return {}
    reasons = {method: reason([method]) for method in probed}
    if "scorecam" in methods:
        reasons["scorecam"] = reasons.get("eigencam") or reason(["eigencam"])
    return {method: why for method, why in reasons.items() if why is not None and method in methods}
