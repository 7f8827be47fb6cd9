"""``load_model`` reads what people have (camviewer checkpoints, bare or nested state_dicts, trusted pickles)
and settles the model card; ``new_model`` builds a fresh one; ``describe_checkpoint`` pre-fills a loading dialog."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from torch import nn

from camviewer.core.errors import (
    ArchitectureConflict,
    ArchitectureInferenceError,
    CheckpointError,
    InvalidModelCard,
    RecipeError,
    SpatialDimsMismatch,
    StateDictMismatchError,
)
from camviewer.core.model.archs import build_model, final_layer_name
from camviewer.core.model.card import GREY_MEAN, GREY_STD, IMAGENET_MEAN, IMAGENET_STD, ModelCard, default_class_names
from camviewer.core.model.files import read_checkpoint
from camviewer.core.model.inference import InferredArchitecture, infer_architecture
from camviewer.core.model.loaded import LoadedModel, resolve_device
from camviewer.core.model.registry import MONAI_PREFIX, spatial_dims
from camviewer.core.model.state_dict import check_compatible, check_finite, normalize_keys, strip_wrapper_prefixes
from camviewer.core.model.timm_models import is_timm, timm_first_conv, timm_preprocessing
from camviewer.core.model.volume_recipe import DEFAULT_SIZE

_OVERRIDES = ("input_size", "mean", "std", "grayscale", "multi_label", "recipe", "volume")


def new_model(
    card: ModelCard, device: str = "auto", pretrained: bool = False, weights_file: str | Path | None = None
) -> LoadedModel:
    """A freshly initialised (or ImageNet-initialised) model for a card, e.g. to train."""
    check_spatial_dims(card)
    module = build_model(
        card.arch, card.num_classes, card.channels, card.arch_options, card.input_size, pretrained, weights_file
    )
    target = resolve_device(device)
    return LoadedModel(module.to(target).eval(), card, target)


def load_model(
    path: str | Path,
    arch: str | None = None,
    num_classes: int | None = None,
    class_names: Sequence[str] | None = None,
    device: str = "auto",
    *,
    trust_pickle: bool = False,
    input_size: tuple[int, int] | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    grayscale: bool | None = None,
    multi_label: bool | None = None,
    recipe: dict | None = None,
    volume: dict | None = None,
    spatial_dims: int | None = None,
) -> LoadedModel:
    """Load a camviewer checkpoint, a bare or nested state_dict, or (trusted) a pickled model.

    For files without a card, the architecture and number of classes are inferred from the
    weights where unambiguous; preprocessing defaults to a 224x224 stretch (no crop), torchvision's
    bilinear resize, ImageNet mean/std, RGB. ``input_size`` is the stretch shorthand; ``recipe``
    sets the whole geometry: ``resize`` (int: shorter side; (h, w): exact), ``crop``, ``letterbox``,
    ``interpolation`` (see :class:`~camviewer.core.model.card.ModelCard`). For a volume model,
    ``input_size`` is (d, h, w) and ``volume`` changes the rest of its recipe (``spacing``, ``intensity``,
    ``window``: see :class:`~camviewer.core.model.volume_recipe.VolumeRecipe`); ``spatial_dims`` builds a
    MONAI network or TinyVGG of a bare state_dict in 2-D or 3-D (3-D weights of TinyVGG are told apart).
    Loading is strict: any missing, unexpected or mis-shaped key is an error listing them.
    """
    raw = read_checkpoint(path, trust_pickle=trust_pickle)
    overrides = dict(zip(_OVERRIDES, (input_size, mean, std, grayscale, multi_label, recipe, volume)))
    if raw.module is not None:
        module, card = raw.module, _card_for_pickled_module(raw.module, class_names, overrides)
    else:
        if raw.card is not None:
            card = _apply_overrides(_checked_card(raw.card, arch, num_classes, class_names), overrides)
            notes: list[str] = []
        else:
            card, notes = _card_for_state_dict(raw.state_dict, arch, num_classes, class_names, overrides, spatial_dims)
        check_spatial_dims(card)
        module = build_model(card.arch, card.num_classes, card.channels, card.arch_options, card.input_size)
        expected = module.state_dict()
        state = normalize_keys(raw.state_dict, expected, notes)
        try:
            check_compatible(state, expected, f"{card.arch} with {card.num_classes} classes")
        except StateDictMismatchError as error:
            looks_like = _other_architecture(raw.state_dict, card.arch)
            raise (error.looking_like(*looks_like) if looks_like else error) from None
        module.load_state_dict(state, strict=False)  # strictness checked above, with readable names
        if notes:
            card.notes = {**card.notes, "loading": notes}
    check_finite(module.state_dict(), str(path))
    target = resolve_device(device)
    return LoadedModel(module.to(target).eval(), card, target, source=str(path))


def _other_architecture(state, arch: str) -> tuple[str, int] | None:
    """(architecture, outputs) the weights look like, when that is not ``arch``."""
    try:
        inferred = infer_architecture(normalize_keys(state))
    except CheckpointError:
        return None
    return None if inferred.arch == arch else (inferred.arch, inferred.num_classes)


def _checked_card(card: ModelCard, arch, num_classes, class_names) -> ModelCard:
    if arch is not None and arch != card.arch:
        raise ArchitectureConflict("the checkpoint (its model card)", card.arch, arch)
    if num_classes is not None and num_classes != card.num_classes:
        raise CheckpointError(f"the checkpoint has {card.num_classes} classes, not {num_classes}")
    if class_names is not None:
        if len(class_names) != card.num_classes:
            raise CheckpointError(f"{len(class_names)} class names given for {card.num_classes} classes")
        positive = card.positive_class
        if positive is not None:  # keep the same class (by index) positive under its new name
            positive = list(class_names)[card.class_names.index(positive)]
        card = replace(card, class_names=list(class_names), positive_class=positive)
    return card


def check_spatial_dims(card: ModelCard) -> None:
    """SpatialDimsMismatch when the card's recipe prepares images for a volume network, or the other way round."""
    network = spatial_dims(card.arch, card.arch_options)
    if not card.arch.startswith("pickled:") and network != card.spatial_dims:
        raise SpatialDimsMismatch(card.arch, network, card.spatial_dims)


def _card_for_state_dict(state, arch, num_classes, class_names, overrides, dims=None) -> tuple[ModelCard, list[str]]:
    notes: list[str] = []
    stripped = strip_wrapper_prefixes(state)
    inferred = None
    if arch is None or arch.startswith("tinyvgg") or arch == "vgg16_gap":
        inferred = infer_architecture(normalize_keys(stripped))
        if arch is not None and arch != inferred.arch:
            raise ArchitectureConflict("the checkpoint (its weights)", inferred.arch, arch)
        notes.append(f"architecture inferred from the weights: {inferred.arch}")
    arch = arch or inferred.arch
    options = dict(inferred.arch_options) if inferred else {}
    if dims is not None and arch.startswith((MONAI_PREFIX, "tinyvgg")):
        options["spatial_dims"] = int(dims)
    elif arch.startswith(MONAI_PREFIX):
        options["spatial_dims"] = spatial_dims(arch, options)
    if inferred:
        channels, found_classes = inferred.channels, inferred.num_classes
    else:
        channels, found_classes = _channels_and_outputs(stripped, arch, options)
    if num_classes is not None and num_classes != found_classes:
        raise CheckpointError(f"the weights have {found_classes} outputs, not {num_classes}")
    if class_names is not None and len(class_names) != found_classes:
        raise CheckpointError(f"{len(class_names)} class names given, but the weights have {found_classes} outputs")
    sigmoid_head = _has_sequential_head(stripped)
    if sigmoid_head:
        notes.append("classifier saved as a Sequential(Linear, Sigmoid) head: treated as multi-label (sigmoid)")
    input_size = inferred.input_size if inferred else None
    if spatial_dims(arch, options) == 3:
        preprocessing = volume_preprocessing(channels, input_size)
    else:
        preprocessing = default_preprocessing(arch, channels, input_size, notes)
    card = ModelCard(
        arch=arch,
        class_names=list(class_names) if class_names else default_class_names(found_classes),
        channels=channels,
        head="sigmoid" if sigmoid_head else "softmax",
        arch_options=options,
        **preprocessing,
    )
    return _apply_overrides(card, overrides), notes


def default_preprocessing(arch: str, channels: int, input_size=None, notes: list[str] | None = None) -> dict:
    """Card fields for weights that come without a recipe: timm's own evaluation transform for a timm
    model, else a stretch to ``input_size`` (224 x 224) with ImageNet mean/std."""
    if is_timm(arch):
        recipe = timm_preprocessing(arch)
        note, mean, std = recipe.pop("note"), recipe.pop("mean"), recipe.pop("std")
        if note and notes is not None:
            notes.append(f"preprocessing from timm's data config ({note})")
        if channels == 1:  # timm averages the first convolution over RGB: the grey statistics are the averages
            mean, std = (sum(mean) / len(mean),), (sum(std) / len(std),)
        return {**recipe, "mean": mean, "std": std}
    grey = channels == 1
    return {
        "input_size": input_size or (224, 224),
        "mean": GREY_MEAN if grey else IMAGENET_MEAN,
        "std": GREY_STD if grey else IMAGENET_STD,
    }


def volume_preprocessing(channels: int, input_size=None) -> dict:
    """Card fields for 3-D weights without a recipe: the default volume grid; one channel as the recipe scales
    it, three (video ResNets) with ImageNet's statistics."""
    grey = channels == 1
    return {
        "input_size": input_size or DEFAULT_SIZE,
        "mean": (0.0,) if grey else IMAGENET_MEAN,
        "std": (1.0,) if grey else IMAGENET_STD,
    }


def _channels_and_outputs(state, arch: str, options: dict) -> tuple[int, int]:
    """(input channels, outputs) of weights for ``arch``: its first convolution's and its final layer's shapes.

    The layers are found by name in a template of ``arch`` (timm names its stem); a first convolution missing from
    the weights counts as 3 channels, and the strict load then names what is missing.
    """
    size = DEFAULT_SIZE if spatial_dims(arch, options) == 3 else (224, 224)
    template = build_model(arch, 1000, 3, options, size)
    state = normalize_keys(state, template.state_dict())
    convolutions = (name for name, module in template.named_modules() if isinstance(module, (nn.Conv2d, nn.Conv3d)))
    first = (timm_first_conv(arch) if is_timm(arch) else None) or next(convolutions, None)
    final = final_layer_name(template)
    first_weights, final_weights = state.get(f"{first}.weight"), state.get(f"{final}.weight")
    if final_weights is None:
        raise CheckpointError(f"no '{final}.weight' in the weights: they do not look like {arch}")
    return 3 if first_weights is None else int(first_weights.shape[1]), int(final_weights.shape[0])


def _has_sequential_head(state) -> bool:
    return any(k.startswith("classifier.0.") for k in state) and not any(k.startswith("classifier.1.") for k in state)


def _apply_overrides(card: ModelCard, overrides: dict) -> ModelCard:
    changes = dict(overrides["recipe"] or {})
    if overrides["input_size"] is not None:
        changes["input_size"] = tuple(overrides["input_size"])
    if overrides["grayscale"] is not None:
        changes["grayscale"] = bool(overrides["grayscale"])
    if overrides["mean"] is not None:
        changes["mean"] = tuple(overrides["mean"])
    if overrides["std"] is not None:
        changes["std"] = tuple(overrides["std"])
    if overrides["multi_label"] is not None:
        changes["head"] = "sigmoid" if overrides["multi_label"] else "softmax"
    if overrides["volume"] and card.volume is None:
        raise SpatialDimsMismatch(card.arch, 2, 3)
    try:
        if overrides["volume"]:
            changes["volume"] = replace(card.volume, **overrides["volume"])
        return card.with_recipe(**changes) if changes else card
    except InvalidModelCard:
        raise
    except ValueError as error:
        raise RecipeError(str(error)) from None


def _card_for_pickled_module(module: nn.Module, class_names, overrides) -> ModelCard:
    final = module.get_submodule(final_layer_name(module))
    outputs = final.out_features if isinstance(final, nn.Linear) else final.out_channels
    card = ModelCard(
        arch=f"pickled:{type(module).__name__}",
        class_names=list(class_names) if class_names else default_class_names(outputs),
        notes={"loading": ["whole pickled model loaded because the user trusted the file"]},
    )
    return _apply_overrides(card, overrides)


@dataclass
class CheckpointSummary:
    """What a file says about itself, before loading: a card, or a guess from its keys."""

    path: str
    card: ModelCard | None
    inferred: InferredArchitecture | None
    problem: str | None  # why nothing could be inferred (the user must then choose)
    num_tensors: int


def describe_checkpoint(path: str | Path, trust_pickle: bool = False) -> CheckpointSummary:
    """Read a checkpoint's card or infer its architecture, to pre-fill a loading dialog.

    Only names and shapes are read, never the tensors' data (see ``read_checkpoint(shapes_only=True)``):
    describing a file and then loading it reads it about once, not twice.
    """
    raw = read_checkpoint(path, trust_pickle=trust_pickle, shapes_only=True)
    if raw.card is not None or raw.module is not None:
        card = raw.card or _card_for_pickled_module(raw.module, None, dict.fromkeys(_OVERRIDES))
        return CheckpointSummary(str(path), card, None, None, len(raw.state_dict))
    try:
        inferred = infer_architecture(normalize_keys(strip_wrapper_prefixes(raw.state_dict)))
        problem = None
    except ArchitectureInferenceError as error:
        inferred, problem = None, error.reason
    return CheckpointSummary(str(path), None, inferred, problem, len(raw.state_dict))
