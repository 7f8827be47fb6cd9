"""timm classification models (``timm:NAME``): built, preprocessed and pretrained through timm's own code.

timm is imported only when a ``timm:`` architecture is used: it takes seconds to import.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from camviewer.core.errors import PretrainedWeightsUnavailable, UnknownArchitecture
from camviewer.core.model.recipe import INTERPOLATIONS

TIMM_PREFIX = "timm:"


def is_timm(arch: str) -> bool:
    return arch.startswith(TIMM_PREFIX)


def timm_architectures() -> list[str]:
    """``timm:NAME`` for every model timm can build."""
    import timm

    return [TIMM_PREFIX + name for name in timm.list_models()]


def _name(arch: str) -> str:
    import timm

    name = arch[len(TIMM_PREFIX) :]
    if not timm.is_model(name.split(".", 1)[0]):  # a pretrained tag may follow the name: vit_x.augreg_in1k
        raise UnknownArchitecture(arch)
    return name


def _pretrained_cfg(arch: str) -> dict:
    import timm

    try:
        cfg = timm.models.get_pretrained_cfg(_name(arch))
    except RuntimeError:  # "Invalid pretrained tag"
        raise UnknownArchitecture(arch) from None
    return cfg.to_dict() if cfg is not None else {}


def size_options(arch: str, input_size: tuple[int, int]) -> dict:
    """``img_size`` for models whose input size is fixed when they are built (ViT, Swin: timm says so)."""
    cfg = _pretrained_cfg(arch)
    default = tuple(cfg.get("input_size", (3, 224, 224))[1:])
    if cfg.get("fixed_input_size") and tuple(input_size) != default:
        return {"img_size": tuple(input_size)}
    return {}


def build_timm(
    arch: str,
    num_classes: int,
    channels: int,
    input_size: tuple[int, int],
    options: dict,
    pretrained: bool = False,
    weights_file: str | Path | None = None,
) -> nn.Module:
    """``timm.create_model`` with our classes, channels and input size; ``options`` go to the model's constructor.

    Pretrained weights come through timm's own loading code (which resizes position embeddings, adapts the
    first convolution to ``channels`` and drops a classifier of another size): from ``weights_file``, else
    from the local Hugging Face or torch hub cache, else downloaded; a typed error when none works.
    """
    import timm

    name = _name(arch)
    kwargs = {"num_classes": num_classes, "in_chans": channels, **size_options(arch, input_size), **options}
    if not (pretrained or weights_file):
        return timm.create_model(name, pretrained=False, **kwargs)
    cfg = _pretrained_cfg(arch)
    source = _weights_source(cfg)
    if source is None and weights_file is None:
        raise PretrainedWeightsUnavailable(arch, "timm has no pretrained weights for it")
    local = weights_file or _cached_file(cfg)
    if local is not None:  # timm's loader, fed a file: no network, and no wait when offline
        overlay = {"file": str(local), "custom_load": str(local).endswith(".npz") and bool(cfg.get("custom_load"))}
        return timm.create_model(name, pretrained=True, pretrained_cfg_overlay=overlay, **kwargs)
    try:
        return timm.create_model(name, pretrained=True, **kwargs)
    except Exception as error:  # no network, proxy, missing file: all mean the same to the user
        cached, url = source
        raise PretrainedWeightsUnavailable(arch, f"{type(error).__name__}: {error}", cached, url) from None


def _weights_source(cfg: dict) -> tuple[Path, str] | None:
    """(where a copy would be found locally, where it is downloaded from), or None when timm has no weights."""
    if cfg.get("hf_hub_id"):
        from huggingface_hub import constants

        repo = cfg["hf_hub_id"]
        return Path(constants.HF_HUB_CACHE) / f"models--{repo.replace('/', '--')}", f"https://huggingface.co/{repo}"
    if cfg.get("url"):
        return Path(torch.hub.get_dir()) / "checkpoints" / cfg["url"].rsplit("/", 1)[-1], cfg["url"]
    return None


def _cached_file(cfg: dict) -> Path | None:
    """The weights file in the Hugging Face cache (timm's file names, in timm's order) or torch's hub cache."""
    if cfg.get("hf_hub_id"):
        from huggingface_hub import try_to_load_from_cache

        names = [cfg["hf_hub_filename"]] if cfg.get("hf_hub_filename") else ["model.safetensors", "pytorch_model.bin"]
        for filename in names:
            found = try_to_load_from_cache(cfg["hf_hub_id"], filename)
            if isinstance(found, str):
                return Path(found)
        return None
    source = _weights_source(cfg)
    return source[0] if source is not None and source[0].is_file() else None


def timm_preprocessing(arch: str) -> dict:
    """The card fields of timm's evaluation transform for ``arch`` (its ``resolve_data_config``).

    timm resizes the shorter side to input / crop_pct and centre-crops the input size ("center"), or
    stretches to input / crop_pct and crops ("squash"), or fits the longer side and pads ("border", here a
    letterbox). Returns ``resize``, ``crop``, ``letterbox``, ``interpolation``, ``mean``, ``std`` and
    ``note`` (None, or what differs from timm's transform).
    """
    from timm.data import resolve_data_config

    config = resolve_data_config({}, pretrained_cfg=_pretrained_cfg(arch))
    height, width = config["input_size"][1:]
    crop_pct = config.get("crop_pct") or 0.875
    scaled = (math.floor(height / crop_pct), math.floor(width / crop_pct))
    mode = config.get("crop_mode") or "center"
    note = None
    if mode == "border":
        geometry = {"resize": scaled, "crop": None, "letterbox": True}
        note = "timm pads with the mean colour and crops to the input size; camviewer letterboxes with black"
    elif mode == "squash" or scaled[0] != scaled[1]:
        geometry = {"resize": scaled, "crop": (height, width), "letterbox": False}
        if mode != "squash":
            note = "timm keeps the aspect ratio when resizing to this non-square size; camviewer stretches"
    else:
        geometry = {"resize": scaled[0], "crop": (height, width), "letterbox": False}
    interpolation = config.get("interpolation", "bicubic")
    if interpolation not in INTERPOLATIONS:
        note, interpolation = f"timm's {interpolation} resize is done as bicubic", "bicubic"
    return {
        **geometry,
        "interpolation": interpolation,
        "mean": tuple(config["mean"]),
        "std": tuple(config["std"]),
        "note": note,
    }


def timm_first_conv(arch: str) -> str | None:
    """The name of the first convolution (timm's ``first_conv``), whose weight tells the input channels."""
    first = _pretrained_cfg(arch).get("first_conv")
    return first[0] if isinstance(first, (list, tuple)) else first
