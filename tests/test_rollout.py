"""Attention rollout and gradient-weighted rollout against an explicit forward pass written here.

The reference recomputes each ViT by hand from its own sub-modules (patch embedding, q/k/v projections,
softmax, MLPs): no hooks, no fused attention, so the attention probabilities and their gradients come from
a path the engine does not use. The definitions are then applied in numpy.
"""

import numpy as np
import pytest
import torch

from camviewer.core.cam.engine import compute_cams
from camviewer.core.cam.rollout import _rollout
from camviewer.core.errors import CamError
from camviewer.core.model.card import ModelCard
from camviewer.core.model.loading import new_model

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.filterwarnings("ignore::UserWarning")]

TINY_VIT = {"patch_size": 8, "embed_dim": 24, "depth": 3, "num_heads": 2}


def make(arch, options, size=(24, 32), classes=3):
    torch.manual_seed(0)
    model = new_model(ModelCard(arch, [f"c{i}" for i in range(classes)], input_size=size, arch_options=options), "cpu")
    if arch.startswith("vit_"):  # torchvision's fresh ViT classifier is all zeros
        torch.nn.init.normal_(model.module.heads.head.weight, std=0.5)
    return model


def timm_forward(vit, x):
    """timm's VisionTransformer (and DeiT) step by step; returns logits and each block's attention."""
    tokens = vit.norm_pre(vit._pos_embed(vit.patch_embed(x)))
    attentions = []
    for block in vit.blocks:
        n, length, width = tokens.shape
        heads = block.attn.num_heads
        q, k, v = block.attn.qkv(block.norm1(tokens)).reshape(n, length, 3, heads, -1).permute(2, 0, 3, 1, 4)
        attention = (q @ k.transpose(-2, -1) * block.attn.scale).softmax(dim=-1)
        attentions.append(attention)
        mixed = block.attn.proj((attention @ v).transpose(1, 2).reshape(n, length, width))
        tokens = tokens + block.ls1(mixed)
        tokens = tokens + block.ls2(block.mlp(block.norm2(tokens)))
    tokens = vit.norm(tokens)
    if hasattr(vit, "head_dist"):
        return (vit.head(tokens[:, 0]) + vit.head_dist(tokens[:, 1])) / 2, attentions
    if vit.global_pool == "avg":
        return vit.head(vit.fc_norm(tokens[:, vit.num_prefix_tokens :].mean(dim=1))), attentions
    return vit.head(tokens[:, 0]), attentions


def torchvision_forward(vit, x):
    tokens = vit.conv_proj(x).flatten(2).transpose(1, 2)
    tokens = torch.cat([vit.class_token.expand(len(x), -1, -1), tokens], dim=1) + vit.encoder.pos_embedding
    attentions = []
    for block in vit.encoder.layers:
        n, length, width = tokens.shape
        mha = block.self_attention
        heads = mha.num_heads
        qkv = torch.nn.functional.linear(block.ln_1(tokens), mha.in_proj_weight, mha.in_proj_bias)
        q, k, v = qkv.reshape(n, length, 3, heads, -1).permute(2, 0, 3, 1, 4)
        attention = (q @ k.transpose(-2, -1) / (width // heads) ** 0.5).softmax(dim=-1)
        attentions.append(attention)
        tokens = tokens + mha.out_proj((attention @ v).transpose(1, 2).reshape(n, length, width))
        tokens = tokens + block.mlp(block.ln_2(tokens))
    return vit.heads(vit.encoder.ln(tokens)[:, 0]), attentions


def expected_maps(attentions, logits, readout, prefix, grid, target):
    """Rollout (Abnar & Zuidema) and gradient-weighted rollout (Chefer et al. 2021), image 0, in numpy."""
    grads = torch.autograd.grad(logits[0, target], attentions, retain_graph=True)
    a = [t[0].detach().double().numpy() for t in attentions]
    g = [t[0].double().numpy() for t in grads]
    eye = np.eye(a[0].shape[-1])
    rollout, weighted = eye, eye
    for attention, grad in zip(a, g):
        mixed = 0.5 * attention.mean(axis=0) + 0.5 * eye
        rollout = (mixed / mixed.sum(axis=1, keepdims=True)) @ rollout
        weighted = weighted + np.maximum(grad * attention, 0).mean(axis=0) @ weighted
    rows = readout if readout is not None else list(range(prefix, a[0].shape[-1]))
    return [m[rows][:, prefix:].mean(axis=0).reshape(grid) for m in (rollout, weighted)]


@pytest.mark.parametrize(
    "arch, options, prefix, readout",
    [
        ("timm:vit_tiny_patch16_224", TINY_VIT, 1, [0]),
        ("timm:deit_tiny_distilled_patch16_224", TINY_VIT, 2, [0, 1]),  # the head averages both tokens
        ("timm:vit_tiny_patch16_224", {**TINY_VIT, "class_token": False, "global_pool": "avg"}, 0, None),
        ("timm:vit_small_patch16_224", {**TINY_VIT, "reg_tokens": 2}, 3, [0]),
        ("vit_b_16", {}, 1, [0]),
    ],
)
def test_rollout_and_gradient_rollout_match_an_explicit_forward(arch, options, prefix, readout):
    size = (32, 32) if arch == "vit_b_16" else (24, 32)
    grid = (2, 2) if arch == "vit_b_16" else (3, 4)
    model = make(arch, options, size)
    torch.manual_seed(1)
    batch = torch.randn(2, *(3, *size))
    forward = torchvision_forward if arch == "vit_b_16" else timm_forward
    logits, attentions = forward(model.module, batch[:1])
    with torch.no_grad():
        assert torch.allclose(logits, model.module(batch[:1]), atol=1e-5)  # the reference is the model
    ours = compute_cams(model, batch, ["rollout", "gradrollout", "gradcam"], target="all")
    for target in range(3):
        rollout, weighted = expected_maps(attentions, logits, readout, prefix, grid, target)
        np.testing.assert_allclose(ours.raw[0]["rollout"][target], rollout, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(ours.raw[0]["gradrollout"][target], weighted, rtol=1e-3, atol=1e-6)
    assert not np.allclose(ours.raw[0]["gradrollout"][0], ours.raw[0]["gradrollout"][1])  # class-conditioned


def test_rollout_on_hand_computed_attention():
    # One head, a class token and two patches. Block 1: the class token looks half at itself, a quarter
    # at each patch; block 2: 0.2 at itself, 0.8 at the first patch. With the identity mixed in:
    # rows [0.75, 0.125, 0.125] then [0.6, 0.4, 0]; the class row of the product is
    # 0.6 * [0.75, 0.125, 0.125] + 0.4 * [0, 1, 0] = [0.45, 0.475, 0.075].
    first = torch.tensor([[[[0.5, 0.25, 0.25], [0, 1, 0], [0, 0, 1]]]])
    second = torch.tensor([[[[0.2, 0.8, 0], [0, 1, 0], [0, 0, 1]]]])
    np.testing.assert_allclose(_rollout([first, second])[0, 0].numpy(), [0.45, 0.475, 0.075], rtol=1e-6)


def test_fused_attention_and_hooks_are_restored_even_on_error():
    model = make("timm:vit_tiny_patch16_224", TINY_VIT)
    attention = [m for m in model.module.modules() if hasattr(m, "fused_attn")]
    before = [m.fused_attn for m in attention]
    with pytest.raises(CamError, match="not a feature map"):  # raised inside the forward, hooks in place
        compute_cams(model, torch.randn(1, 3, 24, 32), ["rollout"], layer="blocks.0.attn.qkv")
    assert [m.fused_attn for m in attention] == before
    assert all(not m._forward_hooks for m in model.module.modules())
    out = compute_cams(model, torch.randn(1, 3, 24, 32), ["rollout", "scorecam"])  # Score-CAM's forwards run after
    assert out.raw[0]["rollout"][out.targets[0][0]].shape == (3, 4)


@pytest.mark.parametrize("arch, size", [("swin_t", (64, 64)), ("resnet18", (32, 32))])
def test_rollout_is_refused_without_global_token_attention(arch, size):
    with pytest.raises(CamError, match="rollout needs a ViT-like transformer"):
        compute_cams(make(arch, {}, size), torch.randn(1, 3, *size), ["rollout"])
