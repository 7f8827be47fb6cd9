"""Freezing part of a model before training: a leading fraction of its parameters, or every module up to one."""

from __future__ import annotations

from torch import nn

from camviewer.core.errors import TrainingOptionError


def freeze_parameters(module: nn.Module, spec: str | float) -> int:
    """Freeze a leading fraction of the parameters (by count, module order) or everything up to a module.

    ``"0.5"`` freezes the first half of the parameter values; ``"layer3"`` freezes every module
    registered before ``layer3`` and ``layer3`` itself. Returns the number of frozen values.
    """
    try:
        fraction = float(spec)
    except (TypeError, ValueError):
        covered = _modules_up_to(module, str(spec))
        frozen = [p for m in covered for p in m.parameters(recurse=False)]
    else:
        if not 0.0 <= fraction < 1.0:
            raise TrainingOptionError("freeze", "a fraction must be in [0, 1)", spec)
        budget, frozen, count = fraction * sum(p.numel() for p in module.parameters()), [], 0
        for parameter in module.parameters():
            count += parameter.numel()
            if count > budget:
                break
            frozen.append(parameter)
    for parameter in frozen:
        parameter.requires_grad_(False)
    if all(not p.requires_grad for p in module.parameters()):
        raise TrainingOptionError("freeze", "leaves no parameter to train", spec)
    return sum(p.numel() for p in frozen)


def _modules_up_to(module: nn.Module, name: str) -> list[nn.Module]:
    order = list(module.named_modules())
    names = [n for n, _ in order]
    if name not in names or not name:
        top = ", ".join(n for n, _ in module.named_children())
        raise TrainingOptionError("freeze", f"no such module; top-level modules are {top}", name)
    target = order[names.index(name)][1]
    return [m for _, m in order[: names.index(name) + 1]] + list(target.modules())
