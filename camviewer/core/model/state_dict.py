"""State-dict key normalisation: the names people save mapped to the names an architecture expects."""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch

from camviewer.core.errors import (
    NonFiniteWeights,
    StateDictMismatchError,
)

_LEGACY_DENSENET = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var|num_batches_tracked))$"
)


# Prefixes that wrap a model without being part of it: DataParallel, torch.compile, common wrappers.
_WRAPPER_PREFIXES = {"module", "_orig_mod", "model", "net", "network", "backbone"}


def strip_wrapper_prefixes(
    state: Mapping[str, torch.Tensor], notes: list[str] | None = None, expected: Mapping | None = None
) -> dict:
    """Remove prefixes shared by every key that wrap the model: DataParallel's ``module.``,
    ``model.``, or an architecture name such as ``densenet121.`` (CheXNet).

    With ``expected`` keys known, any shared prefix is stripped until the names start to match.
    """
    from camviewer.core.model.registry import torchvision_architectures

    wrappers = _WRAPPER_PREFIXES | set(torchvision_architectures())
    state = dict(state)
    while state and not (expected and set(state) & set(expected)):
        first = {key.split(".", 1)[0] for key in state}
        if len(first) != 1 or any("." not in key for key in state):
            break
        (prefix,) = first
        if expected is None and prefix not in wrappers:
            break
        state = {key[len(prefix) + 1 :]: value for key, value in state.items()}
        if notes is not None:
            notes.append(f"stripped key prefix '{prefix}.'")
    return state


def normalize_keys(
    state: Mapping[str, torch.Tensor],
    expected: Mapping[str, torch.Tensor] | None = None,
    notes: list[str] | None = None,
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
    if missing or unexpected or wrong_shape:
        raise StateDictMismatchError(what, missing, unexpected, wrong_shape)


def check_finite(state: Mapping[str, torch.Tensor], source: str) -> None:
    """NonFiniteWeights naming the tensors that hold NaN or infinite values (a diverged or damaged checkpoint)."""
    bad = [
        name
        for name, tensor in state.items()
        if tensor.is_floating_point() and tensor.device.type != "meta" and not _finite(tensor)
    ]
    if bad:
        raise NonFiniteWeights(source, bad)


def _finite(tensor: torch.Tensor) -> bool:
    # A finite sum proves every value finite, at half the cost of isfinite() over the whole tensor.
    return bool(torch.isfinite(tensor.sum(dtype=torch.float64))) or bool(torch.isfinite(tensor).all())
