"""Attention rollout for ViT-like models, and its class-conditioned, gradient-weighted variant.

- ``rollout`` (Abnar & Zuidema, "Quantifying Attention Flow in Transformers", ACL 2020): each block's
  attention averaged over its heads, with the residual connection as the identity, A' = 0.5 A + 0.5 I
  (rows renormalised), multiplied from the first block to the last: R = A'_L ... A'_1. The map is the
  row of the token(s) the classifier reads, over the patch tokens. Class-agnostic.
- ``gradrollout``: Chefer, Gur & Wolf's gradient-weighted rollout ("Generic Attention-model
  Explainability for Interpreting Bi-Modal and Encoder-Decoder Transformers", ICCV 2021, eqs. 5-6, the
  rule their code applies to ViT): R = I, then for each block R <- R + mean_h((dScore/dA * A)^+) R.
  Class-conditioned: one backward per round of target classes, through every block.

The token(s) the classifier reads: the class token (and the distillation token, which DeiT's head
averages with it); the patch tokens when the model pools them (``global_pool`` "avg", no class token).
Attention probabilities are hooked where the model computes them: timm's attention modules after their
softmax (their fused kernel is switched off for the pass and switched back), torchvision's
``nn.MultiheadAttention`` asked for its per-head weights. Windowed attention (Swin) has no token-to-token
matrix over the whole image: rollout is refused there.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from camviewer.core.cam.layers import layout_of
from camviewer.core.errors import CamError
from camviewer.core.model.loaded import LoadedModel

ROLLOUT_METHODS = ("rollout", "gradrollout")


def supports_rollout(model: LoadedModel) -> bool:
    """Whether the model's attention spans every token (ViT-like), so that rollout applies."""
    return layout_of(model).kind == "tokens" and bool(_hookable_attention(model))


def _hookable_attention(model: LoadedModel) -> list[nn.Module]:
    return [
        module
        for module in model.module.modules()
        if isinstance(module, nn.MultiheadAttention)
        or (hasattr(module, "fused_attn") and isinstance(getattr(module, "attn_drop", None), nn.Module))
    ]


def _attention_modules(model: LoadedModel) -> list[nn.Module]:
    layout = layout_of(model)
    modules = _hookable_attention(model)
    if layout.kind != "tokens" or not modules:
        raise CamError(
            f"attention rollout needs a ViT-like transformer whose attention spans every token; "
            f"{model.card.arch} has {layout.description}"
        )
    return modules


@contextmanager
def attention_capture(model: LoadedModel, methods: Sequence[str]) -> Iterator[list[torch.Tensor]]:
    """Collects each block's attention probabilities (N, heads, L, L), in order, during one forward."""
    attentions: list[torch.Tensor] = []
    if not any(method in ROLLOUT_METHODS for method in methods):
        yield attentions
        return
    handles, fused = [], []
    try:
        for module in _attention_modules(model):
            if isinstance(module, nn.MultiheadAttention):
                handles.append(module.register_forward_hook(_explicit_attention(attentions)))
            else:  # timm: the softmax output passes through attn_drop, unless the fused kernel skips it
                fused.append((module, module.fused_attn))
                module.fused_attn = False
                handles.append(module.attn_drop.register_forward_hook(lambda _m, _i, out: attentions.append(out)))
        yield attentions
    finally:
        for handle in handles:
            handle.remove()
        for module, flag in fused:
            module.fused_attn = flag


def _explicit_attention(attentions: list[torch.Tensor]):
    """A hook that recomputes torchvision's self-attention with its probabilities in the graph.

    ``nn.MultiheadAttention`` returns its weights as a copy outside the graph (no gradient reaches them),
    so the block's output is recomputed from the module's own projections, checked against the module's
    output, and used in its place.
    """

    def hook(module: nn.MultiheadAttention, args, output):
        x = args[0]
        if not (module.batch_first and module._qkv_same_embed_dim and args[1] is x and args[2] is x):
            raise CamError("attention rollout reads batch-first self-attention only")
        n, length, width = x.shape
        heads = module.num_heads
        q, k, v = (
            t.reshape(n, length, heads, width // heads).transpose(1, 2)
            for t in F.linear(x, module.in_proj_weight, module.in_proj_bias).chunk(3, dim=-1)
        )
        attention = (q @ k.transpose(-2, -1) / math.sqrt(width // heads)).softmax(dim=-1)
        result = module.out_proj((attention @ v).transpose(1, 2).reshape(n, length, width))
        if not torch.allclose(result, output[0], rtol=1e-4, atol=1e-5 * (1 + float(output[0].detach().abs().max()))):
            raise CamError("attention rollout could not reproduce this self-attention (masks or dropout?)")
        attentions.append(attention)
        return result, attention

    return hook


def readout_rows(model: LoadedModel) -> list[int] | None:
    """The tokens the classifier reads (None: the patch tokens, averaged)."""
    module, prefix = model.module, layout_of(model).prefix
    pool = getattr(module, "global_pool", "token")
    if prefix == 0 or pool not in ("token", ""):
        return None
    if isinstance(getattr(module, "head_dist", None), nn.Module):  # DeiT: the mean of two heads
        return [0, 1]
    return [0]


def rollout_maps(model: LoadedModel, attentions, logits, targets, methods, raw, input_size) -> None:
    """``raw[i][method][class]``: (h, w) maps of the requested rollout methods."""
    layout = layout_of(model)
    grid = layout.grid(tuple(input_size))
    tokens = layout.prefix + grid[0] * grid[1]
    for attention in attentions:
        if attention.ndim != 4 or attention.shape[-2:] != (tokens, tokens):
            raise CamError(f"attention of shape {tuple(attention.shape)} does not cover the {tokens} tokens")
    rows = readout_rows(model)
    if "gradrollout" in methods:
        rounds = max(len(classes) for classes in targets)
        for r in range(rounds):
            chosen = [(i, classes[r]) for i, classes in enumerate(targets) if r < len(classes)]
            images = torch.tensor([i for i, _ in chosen], device=logits.device)
            score = logits[images, torch.tensor([c for _, c in chosen], device=logits.device)].sum()
            grads = torch.autograd.grad(score, attentions, retain_graph=True)
            relevance = _gradient_rollout([a.detach()[images] for a in attentions], [g[images] for g in grads])
            maps = _read_out(relevance, rows, layout.prefix, grid)
            for j, (i, c) in enumerate(chosen):
                raw[i]["gradrollout"][c] = maps[j]
    if "rollout" in methods:
        maps = _read_out(_rollout([a.detach() for a in attentions]), rows, layout.prefix, grid)
        for i, classes in enumerate(targets):
            for c in classes:
                raw[i]["rollout"][c] = maps[i]


def _rollout(attentions: list[torch.Tensor]) -> torch.Tensor:
    eye = torch.eye(attentions[0].shape[-1], device=attentions[0].device)
    result = eye.expand(attentions[0].shape[0], -1, -1)
    for attention in attentions:
        mixed = 0.5 * attention.mean(dim=1) + 0.5 * eye
        mixed = mixed / mixed.sum(dim=-1, keepdim=True)
        result = mixed @ result
    return result


def _gradient_rollout(attentions: list[torch.Tensor], grads: list[torch.Tensor]) -> torch.Tensor:
    eye = torch.eye(attentions[0].shape[-1], device=attentions[0].device)
    result = eye.expand(attentions[0].shape[0], -1, -1)
    for attention, grad in zip(attentions, grads):
        weighted = (grad * attention).clamp(min=0).mean(dim=1)
        result = result + weighted @ result
    return result


def _read_out(relevance: torch.Tensor, rows: list[int] | None, prefix: int, grid) -> torch.Tensor:
    """The readout rows' relevance of the patch tokens, as (N, h, w) maps."""
    patches = relevance[:, :, prefix:]
    read = patches[:, prefix:].mean(dim=1) if rows is None else patches[:, rows].mean(dim=1)
    return read.reshape(-1, *grid)
