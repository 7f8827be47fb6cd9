"""Class activation maps: one forward and at most one backward pass for most methods, batches for the rest.

All requested gradient methods share the same pass, and the backward stops at the target
layer: the forward runs without recording a graph until the target layer's output, which is
detached into a leaf; ``torch.autograd.grad`` then differentiates the class score with
respect to that leaf only, so no weight gradient is ever computed. FinerCAM and ShapleyCAM
differentiate another score on the same pass (ShapleyCAM twice: the gradient, then its
Hessian-vector product, both only through the layers after the target layer).

Every method receives the activations A and gradients G channel-first, (N, C, *spatial);
``methods`` holds the maths, ``batched`` the methods of many forwards (Score-CAM, AblationCAM,
Smooth Grad-CAM++), ``pixel`` the input-level attributions (Captum). The README's "CAM methods"
table gives every definition.

``raw`` maps are before ReLU and normalisation, at layer resolution (pixel methods: at the model
input's). Display maps (``display``) are ReLU, placed on the original image, min-max to [0, 1].
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from camviewer.core.cam.backward import gradient_maps
from camviewer.core.cam.batched import LayerOutput, ablation_maps, score_maps, smooth_maps
from camviewer.core.cam.inference_copy import has_batchnorm, inference_copy
from camviewer.core.cam.layers import auto_layer, layer_module, layout_of
from camviewer.core.cam.methods import GRADIENT_METHODS, eigen_projection, spatial
from camviewer.core.cam.names import (
    CONTRAST_METHODS,
    METHOD_INFO,
    PIXEL_METHODS,
    MethodSettings,
    MostProbable,
    Target,
    validate_methods,
)
from camviewer.core.cam.pixel import check_guided, pixel_maps
from camviewer.core.cam.rollout import attention_capture, rollout_maps
from camviewer.core.cam.tail import build_tail
from camviewer.core.errors import CamError, MethodNotApplicable, NonFiniteOutput
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

    def __init__(
        self,
        model: LoadedModel,
        name: str,
        input_size,
        with_grad: bool,
        keep_graph: bool = False,
        keep_output: bool = False,
        network: nn.Module | None = None,
    ) -> None:
        self.layer = layer_module(model, name) if network is None else network.get_submodule(name)
        self.name, self.input_size = name, tuple(input_size)
        self.layout = layout_of(model)
        self.with_grad, self.keep_graph, self.keep_output = with_grad, keep_graph, keep_output
        self.activation: torch.Tensor | None = None
        self.output: torch.Tensor | None = None  # with ``keep_output``: the layer's own output (AblationCAM)
        self.view = None
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
        self.view = view
        if self.keep_output:
            self.output = output.detach().clone()
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
    """Maps for a batch: ``raw[i][method][class_index]`` is a float32 array at layer resolution (before ReLU).

    Pixel methods' maps are at the model input's resolution.

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
    settings: MethodSettings | None = None,
    cancel: CancelToken | None = None,
) -> CamBatch:
    """Every requested method for every requested class of a normalised (N, C, *spatial) batch: N x C x H x W
    images, or N x C x D x H x W volumes for a volume model (the maps are then d x h x w)."""
    methods = validate_methods(methods)
    settings = settings or MethodSettings()
    layer = layer or auto_layer(model)
    target_layer = layer_module(model, layer)
    one_pass = [m for m in methods if m in GRADIENT_METHODS or m in CONTRAST_METHODS or m == "guided-gradcam"]
    _check_applicable(model, methods)
    whole_graph = "gradrollout" in methods  # its backward goes through every block
    ablation = "ablationcam" in methods
    network = _pass_network(model, methods, layer, batch.ndim)
    capture = _LayerCapture(model, layer, batch.shape[2:], bool(one_pass), whole_graph, ablation, network)
    batch = batch.to(model.device)
    with model.lock, eval_mode(model.module), capture:
        with (
            torch.set_grad_enabled(whole_graph),
            attention_capture(model, methods) as attentions,
            _differentiable_twice(methods),
        ):
            logits = network(batch)
        activation = capture.activation
        if activation is None:
            raise CamError(f"layer {layer!r} was not used by the forward pass")
        probs = model.probabilities(logits.detach()).cpu().numpy()
        targets = resolve_targets(target, probs, model)
        raw: list[dict[str, dict[int, torch.Tensor]]] = [defaultdict(dict) for _ in targets]
        zero_gradient: list[set[int]] = [set() for _ in targets]
        if attentions:  # first: the gradient methods' last backward frees the graph
            rollout_maps(model, attentions, logits, targets, methods, raw, batch.shape[2:])
        if one_pass:
            gradient_maps(model, logits, activation, targets, one_pass, raw, zero_gradient, settings)
        a, logits = activation.detach(), logits.detach()
        with torch.no_grad():
            _activation_only_maps(model, a, logits, methods, targets, raw)
            if "scorecam" in methods:
                score_maps(
                    inference_copy(model, batch.ndim, layer), batch, a, targets, raw, settings.batch_size, cancel
                )
            if "ablationcam" in methods:
                output = LayerOutput(capture.output, 1 if capture.view.kind == "channels_first" else -1)
                tail, chunk = _tail(model, layer), settings.batch_size
                ablation_maps(model.module, target_layer, tail, batch, a, output, logits, targets, raw, chunk, cancel)
        if "smoothgradcam++" in methods:
            smooth_maps(partial(_forward_to_leaf, model, layer), batch, a, targets, raw, settings, cancel)
        for method in (m for m in methods if m in PIXEL_METHODS):
            fast = inference_copy(model, batch.ndim, layer) if method == "occlusion" else model.module
            pixel_maps(method, model.module, fast, batch, targets, raw, settings, cancel)
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


# Methods whose maps come from the main pass alone (Score-CAM: from its activations and the copy's forwards)
_COPY_PASS = {*GRADIENT_METHODS, *CONTRAST_METHODS, "cam", "eigencam", "scorecam"}


def _pass_network(model: LoadedModel, methods: Sequence[str], layer: str, input_ndim: int) -> nn.Module:
    """The network the main pass runs: for a 2-D CNN with BatchNorm, the folded channels-last copy (the same
    maps, rounding aside, in about 75% of the time on a CPU); else the model. Not for methods that run the model
    itself again (AblationCAM, Smooth Grad-CAM++, the pixel methods, rollout), nor for volumes, where the copy
    gained nothing (r3d_18 on one-channel 16-32 x 64 x 64 volumes: within 5%, either way)."""
    if input_ndim != 4 or layout_of(model).kind != "cnn" or not set(methods) <= _COPY_PASS:
        return model.module
    if not has_batchnorm(model.module):
        return model.module
    try:
        with model.lock:  # one copy made at a time, while no pass runs
            return inference_copy(model, input_ndim, keep=layer)
    except Exception:  # a module that cannot be copied (deepcopy refuses it): the model itself, as before
        return model.module


def _check_applicable(model: LoadedModel, methods: Sequence[str]) -> None:
    """Refuse, before any pass, the methods that cannot explain this model."""
    if "finercam" in methods and model.card.num_classes < 2:
        raise MethodNotApplicable(
            "finercam",
            model.card.arch,
            "at least two classes (it contrasts a class with the most similar ones)",
            f"has {model.card.num_classes}",
            "gradcam",
        )
    if "guided-gradcam" in methods:
        check_guided(model.module, model.card.arch)


def _differentiable_twice(methods: Sequence[str]):
    """ShapleyCAM differentiates the gradient again: attention then runs on PyTorch's plain maths kernel
    (the fused kernels have no second derivative); the same function, rounding aside."""
    if "shapleycam" not in methods:
        return contextlib.nullcontext()
    return sdpa_kernel(SDPBackend.MATH)


def _forward_to_leaf(model: LoadedModel, layer: str, batch: torch.Tensor):
    """Scores of ``batch`` with a graph only from the target layer on, and the layer's map as its leaf."""
    capture = _LayerCapture(model, layer, batch.shape[2:], with_grad=True)
    with capture, torch.no_grad():
        logits = model.module(batch)
    return logits, capture.activation


def _tail(model: LoadedModel, layer: str):
    key = ("tail", layer)
    if key not in model._layers:
        model._layers[key] = build_tail(model.module, layer)
    return model._layers[key]


def _activation_only_maps(model, a, logits, methods, targets, raw) -> None:
    if "cam" in methods:
        _class_activation_maps(model, a, logits, targets, raw)
    if "eigencam" in methods:
        projection = eigen_projection(a)
        for i, classes in enumerate(targets):
            for c in classes:
                raw[i]["eigencam"][c] = projection[i]


def _class_activation_maps(model: LoadedModel, a, logits, targets, raw) -> None:
    name = model._layers.get("final") or model._layers.setdefault("final", final_layer_name(model.module))
    final = model.module.get_submodule(name)
    pooled = a.mean(dim=spatial(a))
    fits = isinstance(final, nn.Linear) and final.in_features == a.shape[1]
    if fits:
        predicted = F.linear(pooled, final.weight, final.bias)
        fits = torch.allclose(predicted, logits, rtol=1e-3, atol=1e-4 * (1 + logits.abs().max().item()))
    if not fits:
        raise MethodNotApplicable(
            "cam",
            model.card.arch,
            "global average pooling and one linear layer right after the target layer",
            f"at this layer has another head (its final layer is {name!r})",
            "gradcam",
        )
    class_maps = torch.einsum("kc,nc...->nk...", final.weight, a)
    for i, classes in enumerate(targets):
        for c in classes:
            raw[i]["cam"][c] = class_maps[i, c]


def inapplicable_methods(model: LoadedModel, methods: Sequence[str], layer: str | None = None) -> dict[str, str]:
    """The methods that cannot explain this model at this layer, each with the reason.

    Probed on one seeded random image: the methods together (one pass), and one by one only if that
    fails. The slow methods (Score-CAM, AblationCAM, Integrated Gradients, Occlusion) need nothing but
    the layer's activations, which every other method reads too, so they are not probed themselves
    (a probe alone would cost one forward per channel or window). A layer that does not exist is not a
    method's fault: that CamError is raised.
    """
    methods = validate_methods(methods)
    layer = layer or auto_layer(model)
    layer_module(model, layer)
    slow = [m for m in methods if METHOD_INFO[m].slow]
    probed = [m for m in methods if m not in slow] or ["eigencam"]
    random = np.random.default_rng(0)
    if model.card.volume is not None:  # the input shape of a volume model: 1 x C x D x H x W
        shape = (1, model.card.channels, *model.card.input_size)
        probe = torch.from_numpy(random.random(shape, dtype=np.float32)).to(model.device)
    else:
        probe = model.to_batch([random.random((*model.card.input_size, model.card.channels), dtype=np.float32)])

    def reason(chosen: Sequence[str]) -> str | None:
        try:
            compute_cams(model, probe, chosen, target=0, layer=layer)
        except CamError as error:
            return str(error)
        return None

    if reason(probed) is None:
        return {}
    reasons = {method: reason([method]) for method in probed}
    if slow:
        activations_only = reasons.get("eigencam") or reason(["eigencam"])
        reasons.update(dict.fromkeys(slow, activations_only))
    return {method: why for method, why in reasons.items() if why is not None and method in methods}
