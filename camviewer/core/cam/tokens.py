"""Where a layer's feature map is: channel-first CNN maps, transformer tokens, channels-last maps.

The CAM engine hands every method activations and gradients as channel-first maps (N, C, *spatial).
A CNN's layers output that already. A vision transformer's blocks output tokens (N, L, C): the prefix
tokens (class, distillation, register) and then the patch grid, row by row. Swin's stages output
channels-last maps (N, H, W, C). The layout is read from the model's own attributes, never guessed from
shapes; shapes only have to agree with it:

- timm ViT-like models (VisionTransformer, DeiT, EVA, BEiT, ...): ``num_prefix_tokens`` tokens, then the
  patch embedding's ``grid_size`` (``dynamic_feat_size(input size)`` when built with ``dynamic_img_size``);
- torchvision's VisionTransformer: one class token (``class_token``), a grid of input size / ``patch_size``
  (the stride of ``conv_proj``);
- timm models that declare ``output_fmt == "NHWC"`` (Swin, Swin V2, ...): every 4-D output but a
  convolution's is channels-last;
- torchvision's SwinTransformer: ``features`` and ``norm`` are channels-last (its ``permute`` turns them back).

Inside an attention module (attention logits, per-head queries and keys) nothing is a feature map of the
image; the attention module's own output is, where the model's layout is known.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torchvision
from torch import nn

# Ranks of channel-first maps, batch included: (N, C, H, W) and (N, C, D, H, W).
CHANNELS_FIRST_RANKS = (4, 5)  # 2-D and 3-D maps


@dataclass(frozen=True)
class LayerView:
    """How one layer's output holds its channel-first map; ``restore`` puts a map back in the output's layout."""

    kind: str  # "channels_first", "tokens" or "channels_last"
    prefix: int = 0  # tokens before the patch grid (class, distillation, register)
    grid: tuple[int, int] = (0, 0)  # patch rows and columns

    def to_map(self, output: torch.Tensor) -> torch.Tensor:
        if self.kind == "tokens":
            n, _, channels = output.shape
            return output[:, self.prefix :].reshape(n, *self.grid, channels).permute(0, 3, 1, 2)
        if self.kind == "channels_last":
            return output.permute(0, 3, 1, 2)
        return output

    def restore(self, fmap: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        """The layer's output with ``fmap`` in place of its map; prefix tokens taken from ``output``."""
        if self.kind == "tokens":
            return torch.cat([output[:, : self.prefix], fmap.flatten(2).transpose(1, 2)], dim=1)
        if self.kind == "channels_last":
            return fmap.permute(0, 2, 3, 1)
        return fmap


@dataclass(frozen=True)
class ModelLayout:
    """The layout of a model's layer outputs (see the module's docstring)."""

    kind: str  # "cnn", "tokens" or "channels_last"
    description: str
    prefix: int = 0
    grid: Callable[[tuple[int, int]], tuple[int, int]] | None = None  # patch grid for an input (H, W)
    channels_last_roots: tuple[str, ...] | None = None  # None: every module (convolutions aside)
    inside_attention: frozenset[str] = frozenset()  # modules within an attention module
    attention: frozenset[str] = frozenset()  # the attention modules themselves

    def view(self, name: str, module: nn.Module, output, input_size: tuple[int, int]) -> LayerView | None:
        """How ``output`` (of the module ``name``, for an input of ``input_size``) holds a map; None if it holds none."""
        if not isinstance(output, torch.Tensor) or name in self.inside_attention:
            return None
        if self.kind == "cnn":
            fits = output.ndim in CHANNELS_FIRST_RANKS and name not in self.attention
            return LayerView("channels_first") if fits else None
        if output.ndim == 4 and isinstance(module, nn.Conv2d):  # a patch embedding's projection
            return LayerView("channels_first")
        if self.kind == "channels_last":
            if output.ndim != 4:
                return None
            roots = self.channels_last_roots
            inside = roots is None or any(name == root or name.startswith(f"{root}.") for root in roots)
            return LayerView("channels_last" if inside else "channels_first")
        if output.ndim != 3:
            return None
        grid = self.grid(input_size)
        area = grid[0] * grid[1]
        if output.shape[1] == self.prefix + area:
            return LayerView("tokens", self.prefix, grid)
        if output.shape[1] == area:  # patch tokens before the prefix is added (the patch embedding, CaiT)
            return LayerView("tokens", 0, grid)
        return None


def model_layout(model: nn.Module) -> ModelLayout:
    """The layout of ``model``'s outputs, from its own attributes."""
    attention = {name: module for name, module in model.named_modules() if name and _is_attention(module)}
    inside = frozenset(
        f"{parent}.{sub}" for parent, module in attention.items() for sub, _ in module.named_modules() if sub
    )
    common = {"inside_attention": inside, "attention": frozenset(attention)}
    embed = getattr(model, "patch_embed", None)
    if hasattr(model, "num_prefix_tokens") and hasattr(embed, "grid_size"):
        prefix = int(model.num_prefix_tokens)
        if getattr(model, "dynamic_img_size", False):

            def grid(size, embed=embed):
                return tuple(int(s) for s in embed.dynamic_feat_size(tuple(size)))
        else:

            def grid(_size, fixed=tuple(int(s) for s in embed.grid_size)):
                return fixed

        what = f"{type(model).__name__} tokens: {prefix} prefix token(s), then the patch grid"
        return ModelLayout("tokens", what, prefix, grid, **common)
    if isinstance(model, torchvision.models.VisionTransformer):
        patch = model.patch_size

        def tv_grid(size):
            return (size[0] // patch, size[1] // patch)

        what = "torchvision VisionTransformer tokens: the class token, then the patch grid"
        return ModelLayout("tokens", what, model.class_token.shape[1], tv_grid, **common)
    if getattr(model, "output_fmt", None) == "NHWC":
        return ModelLayout("channels_last", f"{type(model).__name__} channels-last (N, H, W, C) maps", **common)
    if isinstance(model, torchvision.models.SwinTransformer):
        what = "torchvision SwinTransformer channels-last (N, H, W, C) maps"
        return ModelLayout("channels_last", what, channels_last_roots=("features", "norm"), **common)
    return ModelLayout("cnn", "channel-first (N, C, H, W) maps", **common)


def _is_attention(module: nn.Module) -> bool:
    return isinstance(module, nn.MultiheadAttention) or "Attention" in type(module).__name__
