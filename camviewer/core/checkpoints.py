"""Reading and writing checkpoints: camviewer's self-describing files and the state_dicts people have.

A camviewer checkpoint is a ``.safetensors`` file whose metadata holds the model card as JSON
(one file, no code inside). ``.pt``/``.pth`` files are read with ``torch.load(weights_only=True)``;
a file that needs unpickling arbitrary objects is refused unless the caller trusts it.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from camviewer.core.atomic import atomic_path
from camviewer.core.card import ModelCard
from camviewer.core.errors import (
    ArchitectureInferenceError,
    CheckpointError,
    StateDictMismatchError,
    UnsafeCheckpointError,
)

CARD_KEY = "camviewer_card"
NESTING_KEYS = ("state_dict", "model_state_dict", "model", "net", "network", "weights")
_LEGACY_DENSENET = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var|num_batches_tracked))$"
)
# Prefixes that wrap a model without being part of it: DataParallel, torch.compile, common wrappers.
_WRAPPER_PREFIXES = {"module", "_orig_mod", "model", "net", "network", "backbone"}
_RESNET_DEPTHS = {(2, 2, 2, 2): 18, (3, 4, 6, 3): 34, (3, 4, 23, 3): 101, (3, 8, 36, 3): 152}
_DENSENET_BLOCKS = {(6, 12, 24, 16): "densenet121", (6, 12, 32, 32): "densenet169",
                    (6, 12, 48, 32): "densenet201", (6, 12, 36, 24): "densenet161"}
_VGG_CONVS = {8: "vgg11", 10: "vgg13", 13: "vgg16", 16: "vgg19"}


@dataclass
class RawCheckpoint:
    """What a file holds, before any architecture is built."""

    state_dict: dict[str, torch.Tensor]
    card: ModelCard | None = None
    module: nn.Module | None = None  # only for a trusted pickle of a whole model
    extra: dict = field(default_factory=dict)  # other top-level entries (optimizer, epoch...)


@dataclass
class InferredArchitecture:
    arch: str
    num_classes: int
    channels: int
    arch_options: dict
    input_size: tuple[int, int] | None = None


def save_checkpoint(path: str | Path, model: nn.Module, card: ModelCard) -> Path:
    """Write weights + card as one safetensors file, atomically (temporary file, then rename)."""
    from safetensors.torch import save_file

    path = Path(path)
    state = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={CARD_KEY: card.to_json()})
    return path


def save_torch_atomic(obj, path: str | Path) -> Path:
    """``torch.save`` through a temporary file (for resumable training states)."""
    with atomic_path(Path(path)) as tmp:
        torch.save(obj, tmp)
    return Path(path)


def read_checkpoint(path: str | Path, trust_pickle: bool = False) -> RawCheckpoint:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: the file is empty")
    if _is_safetensors(path):
        return _read_safetensors(path)
    obj = _torch_load(path, trust_pickle)
    if isinstance(obj, nn.Module):
        return RawCheckpoint(state_dict=obj.state_dict(), module=obj)
    return _unwrap(obj, path)


def _is_safetensors(path: Path) -> bool:
    if path.suffix == ".safetensors":
        return True
    with open(path, "rb") as handle:  # 8-byte header length, then a JSON header starting with "{"
        head = handle.read(9)
    return len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < 100_000_000


def _read_safetensors(path: Path) -> RawCheckpoint:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            state = {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path}: not a readable safetensors file ({error})") from None
    card = None
    if CARD_KEY in metadata:
        try:
            card = ModelCard.from_json(metadata[CARD_KEY])
        except (ValueError, TypeError) as error:
            raise CheckpointError(f"{path}: the model card inside is invalid ({error})") from None
    return RawCheckpoint(state_dict=state, card=card)


def _torch_load(path: Path, trust_pickle: bool):
    try:
        return torch.load(path, map_location="cpu", weights_only=not trust_pickle)
    except pickle.UnpicklingError as error:
        if trust_pickle:
            raise CheckpointError(f"{path}: cannot unpickle ({error})") from None
        culprit = re.search(r"GLOBAL ([\w.]+)", str(error))
        what = f" (it references {culprit.group(1)})" if culprit else ""
        raise UnsafeCheckpointError(
            f"{path}: refused: the file holds pickled Python objects{what}, not just tensors. "
            "Unpickling would run code from the file. If you trust its source, load it with "
            "--trust-pickle (GUI: 'Trust this file'); better, re-save it as a state_dict."
        ) from None
    except Exception as error:  # the unpickler raises anything from KeyError to RuntimeError on junk
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({type(error).__name__}: {error})") from None


def _unwrap(obj, path: Path) -> RawCheckpoint:
    """Find the state_dict inside the usual nestings: {'state_dict': ...}, {'model': ...}."""
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{path}: expected a dict of tensors, found {type(obj).__name__}")
    card = ModelCard.from_dict(obj[CARD_KEY]) if isinstance(obj.get(CARD_KEY), Mapping) else None
    for key in NESTING_KEYS:
        inner = obj.get(key)
        if isinstance(inner, Mapping) and inner and _is_tensor_dict(inner):
            extra = {k: v for k, v in obj.items() if k not in (key, CARD_KEY)}
            return RawCheckpoint(state_dict=dict(inner), card=card, extra=extra)
    if _is_tensor_dict(obj):
        return RawCheckpoint(state_dict=dict(obj), card=card)
    keys = ", ".join(map(str, list(obj)[:8]))
    raise CheckpointError(f"{path}: no state_dict found (top-level keys: {keys})")


def _is_tensor_dict(obj: Mapping) -> bool:
    tensors = sum(isinstance(v, torch.Tensor) for v in obj.values())
    return tensors > 0 and tensors >= len(obj) // 2


# --- key normalisation -------------------------------------------------------------------------


def strip_wrapper_prefixes(
    state: Mapping[str, torch.Tensor], notes: list[str] | None = None, expected: Mapping | None = None
) -> dict:
    """Remove prefixes shared by every key that wrap the model: DataParallel's ``module.``,
    ``model.``, or an architecture name such as ``densenet121.`` (CheXNet).

    With ``expected`` keys known, any shared prefix is stripped until the names start to match.
    """
    from camviewer.core.archs import available_architectures

    wrappers = _WRAPPER_PREFIXES | set(available_architectures())
    state = dict(state)
    while state and not (expected and set(state) & set(expected)):
        first = {key.split(".", 1)[0] for key in state}
        if len(first) != 1 or any("." not in key for key in state):
            break
        (prefix,) = first
        if expected is None and prefix not in wrappers:
            break
        state = {key[len(prefix) + 1:]: value for key, value in state.items()}
        if notes is not None:
            notes.append(f"stripped key prefix '{prefix}.'")
    return state


def normalize_keys(
    state: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor] | None = None, notes: list[str] | None = None
) -> dict[str, torch.Tensor]:
    """Map the key names people save to the names the architecture expects.

    Handles wrapper prefixes, legacy DenseNet names (``norm.1`` -> ``norm1``) and a classifier
    saved as ``classifier.0.*`` from a ``Sequential(Linear, Sigmoid)`` head.
    """
    state = strip_wrapper_prefixes(state, notes, expected)
    renamed = {_LEGACY_DENSENET.sub(r"\1\2", key): value for key, value in state.items()}
    if notes is not None and renamed.keys() != state.keys():
        notes.append("renamed legacy DenseNet keys (norm.1 -> norm1, conv.2 -> conv2)")
    state = renamed
    if expected is not None:
        for key in set(expected) - set(state):
            prefix, _, leaf = key.rpartition(".")
            nested = f"{prefix}.0.{leaf}"
            if nested in state and f"{prefix}.1.{leaf}" not in state:
                state[key] = state.pop(nested)
                if notes is not None and leaf == "weight":
                    notes.append(f"classifier saved as {prefix}.0.* (a Sequential head) mapped to {prefix}.*")
    return state


def check_compatible(state: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor], what: str) -> None:
    """Raise a readable StateDictMismatchError unless keys and shapes match exactly (strict loading)."""
    # Checkpoints older than PyTorch 0.4.1 have no num_batches_tracked; BatchNorm fills it in.
    missing = sorted(k for k in set(expected) - set(state) if not k.endswith("num_batches_tracked"))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = [
        f"{key}: file {tuple(state[key].shape)} vs model {tuple(expected[key].shape)}"
        for key in sorted(set(state) & set(expected))
        if tuple(state[key].shape) != tuple(expected[key].shape)
    ]
    if not (missing or unexpected or wrong_shape):
        return
    parts = [f"the weights do not fit {what}:"]
    for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong_shape)):
        if items:
            shown = "\n    ".join(items[:8]) + (f"\n    ... and {len(items) - 8} more" if len(items) > 8 else "")
            parts.append(f"  {len(items)} {label} key(s):\n    {shown}")
    raise StateDictMismatchError("\n".join(parts))


# --- architecture inference --------------------------------------------------------------------


def infer_architecture(state: Mapping[str, torch.Tensor]) -> InferredArchitecture:
    """Tell the architecture from key names and shapes where that is unambiguous."""
    keys = set(state)
    if any(key.startswith("conv_block_1.") for key in keys):
        return _infer_tinyvgg(state)
    if "conv.0.weight" in keys and "classifier.weight" in keys and "features.0.weight" in keys:
        return InferredArchitecture(
            "vgg16_gap", state["classifier.weight"].shape[0], state["features.0.weight"].shape[1],
            {"conv_width": state["conv.0.weight"].shape[0]},
        )
    if "layer1.0.conv1.weight" in keys and "fc.weight" in keys:
        return _infer_resnet(state)
    if any(key.startswith("features.denseblock1.") for key in keys):
        blocks = tuple(
            len({k.split(".")[2] for k in keys if k.startswith(f"features.denseblock{b}.")}) for b in range(1, 5)
        )
        if blocks not in _DENSENET_BLOCKS:
            raise ArchitectureInferenceError(f"DenseNet with blocks {blocks} is not a torchvision variant; pass --arch")
        return InferredArchitecture(
            _DENSENET_BLOCKS[blocks], _head_weight(state, "classifier").shape[0],
            state["features.conv0.weight"].shape[1], {},
        )
    if "classifier.6.weight" in keys and "features.0.weight" in keys:
        convs = [k for k in keys if k.startswith("features.") and k.endswith(".weight") and state[k].ndim == 4]
        if len(convs) not in _VGG_CONVS:
            raise ArchitectureInferenceError(f"VGG with {len(convs)} convolutions is not a torchvision variant")
        batch_norm = any(k.endswith("running_mean") for k in keys)
        return InferredArchitecture(
            _VGG_CONVS[len(convs)] + ("_bn" if batch_norm else ""),
            state["classifier.6.weight"].shape[0], state["features.0.weight"].shape[1], {},
        )
    if "classifier.1.weight" in keys and state["classifier.1.weight"].ndim == 4 and "features.0.weight" in keys:
        first = state["features.0.weight"]
        variant = {7: "squeezenet1_0", 3: "squeezenet1_1"}.get(first.shape[-1])
        if variant:
            return InferredArchitecture(variant, state["classifier.1.weight"].shape[0], first.shape[1], {})
    sample = ", ".join(sorted(keys)[:6])
    raise ArchitectureInferenceError(
        f"cannot tell the architecture from the weights (keys start: {sample}, ...). "
        "Pass it explicitly, e.g. --arch resnet50 (see `camviewer info --list-archs`)."
    )


def _head_weight(state: Mapping[str, torch.Tensor], prefix: str) -> torch.Tensor:
    """The classifier weight, also when saved from a ``Sequential(Linear, Sigmoid)`` head."""
    weight = state.get(f"{prefix}.weight", state.get(f"{prefix}.0.weight"))
    if weight is None:
        raise ArchitectureInferenceError(f"no {prefix}.weight in the weights; pass --arch and --num-classes")
    return weight


def _infer_resnet(state: Mapping[str, torch.Tensor]) -> InferredArchitecture:
    keys = set(state)
    blocks = tuple(len({k.split(".")[1] for k in keys if k.startswith(f"layer{i}.")}) for i in range(1, 5))
    bottleneck = "layer1.0.conv3.weight" in keys
    conv2 = state["layer1.0.conv2.weight"]
    groups = conv2.shape[0] // conv2.shape[1] if bottleneck else 1
    width = state["layer1.0.conv1.weight"].shape[0]
    if blocks == (3, 4, 6, 3) and not bottleneck:
        depth = 34
    elif blocks == (3, 4, 6, 3):
        depth = 50
    else:
        depth = _RESNET_DEPTHS.get(blocks)
    if depth is None:
        raise ArchitectureInferenceError(f"ResNet with blocks {blocks} is not a torchvision variant; pass --arch")
    if groups > 1:
        arch = {(50, 32): "resnext50_32x4d", (101, 32): "resnext101_32x8d", (101, 64): "resnext101_64x4d"}.get((depth, groups))
    elif bottleneck and width == 128:
        arch = f"wide_resnet{depth}_2"
    else:
        arch = f"resnet{depth}"
    if arch is None:
        raise ArchitectureInferenceError("grouped ResNet variant not recognised; pass --arch")
    return InferredArchitecture(arch, state["fc.weight"].shape[0], state["conv1.weight"].shape[1], {})


def _infer_tinyvgg(state: Mapping[str, torch.Tensor]) -> InferredArchitecture:
    blocks = sorted({int(k.split(".")[0].rsplit("_", 1)[1]) for k in state if k.startswith("conv_block_")})
    widths = [int(state[f"conv_block_{b}.0.weight"].shape[0]) for b in blocks]
    channels = int(state["conv_block_1.0.weight"].shape[1])
    linear = state.get("classifier.2.weight", state.get("classifier.1.weight"))
    if linear is None:
        raise ArchitectureInferenceError("TinyVGG weights without a classifier.1/classifier.2 linear layer")
    if "classifier.2.weight" in state:
        return InferredArchitecture("tinyvgg_gap", linear.shape[0], channels, {"widths": widths})
    cells = linear.shape[1] // widths[-1]
    side = int(round(cells**0.5))
    input_size = None
    if side * side == cells:  # square input: each block halves the size
        input_size = (side * 2 ** len(widths),) * 2
    return InferredArchitecture("tinyvgg", linear.shape[0], channels, {"widths": widths}, input_size)
