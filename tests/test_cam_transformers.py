"""Vision transformers in the CAM engine, against pytorch-grad-cam with its reshape transform at the same layer.

The token layouts below are written by hand from torchvision's and timm's source (how many prefix tokens, how
large the patch grid is, which outputs are channels-last); the engine reads them from the models themselves.
"""

import numpy as np
import pytest
import torch
from pytorch_grad_cam import EigenCAM, GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM, XGradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from pytorch_grad_cam.utils.svd_on_activations import get_2d_projection_with_sign_correction

from camviewer.cli import main
from camviewer.core.cam.display import upsample_map
from camviewer.core.cam.engine import compute_cams
from camviewer.core.cam.layers import auto_layer, candidate_layers
from camviewer.core.errors import CamError
from camviewer.core.model.card import ModelCard
from camviewer.core.model.loading import new_model

pytestmark = [
    pytest.mark.usefixtures("one_thread"),
    pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning"),
]

PGC = {
    "gradcam": GradCAM,
    "gradcam++": GradCAMPlusPlus,
    "xgradcam": XGradCAM,
    "layercam": LayerCAM,
    "hirescam": HiResCAM,
}

SMALL_SWIN = {"embed_dim": 32, "num_heads": [2, 2, 2, 2]}  # swin_tiny's layout and depth, narrower: faster

# name: (arch, arch_options, input size, prefix tokens or "NHWC", patch grid, the automatic layer)
CASES = {
    "torchvision vit_b_16": ("vit_b_16", {}, (64, 64), 1, (4, 4), "encoder.layers.encoder_layer_11.ln_1"),
    "torchvision swin_t": ("swin_t", {}, (128, 128), "NHWC", (4, 4), "norm"),
    "timm vit_tiny": ("timm:vit_tiny_patch16_224", {}, (64, 64), 1, (4, 4), "blocks.11.norm1"),
    "timm deit_tiny_distilled": ("timm:deit_tiny_distilled_patch16_224", {}, (64, 64), 2, (4, 4), "blocks.11.norm1"),
    "timm vit_small, 4 registers": (
        "timm:vit_small_patch16_224",
        {"reg_tokens": 4},
        (64, 64),
        5,
        (4, 4),
        "blocks.11.norm1",
    ),
    "timm vit_tiny, 48x80": ("timm:vit_tiny_patch16_224", {}, (48, 80), 1, (3, 5), "blocks.11.norm1"),
    "timm swin (narrow)": ("timm:swin_tiny_patch4_window7_224", SMALL_SWIN, (128, 128), "NHWC", (4, 4), "norm"),
}


def pearson(a, b):
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def make(arch, options, size, classes=5, seed=0):
    torch.manual_seed(seed)
    model = new_model(ModelCard(arch, [f"c{i}" for i in range(classes)], input_size=size, arch_options=options), "cpu")
    if arch.startswith("vit_"):  # torchvision initialises its ViT classifier to zeros: every gradient would be 0
        torch.nn.init.normal_(model.module.heads.head.weight, std=0.02)
    return model


def reshape_transform(layout, grid):
    if layout == "NHWC":
        return lambda t: t.permute(0, 3, 1, 2)
    return lambda t: t[:, layout:, :].reshape(t.shape[0], *grid, t.shape[2]).permute(0, 3, 1, 2)


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    arch, options, size, layout, grid, expected_layer = CASES[request.param]
    model = make(arch, options, size)
    torch.manual_seed(1)
    batch = torch.randn(2, 3, *size)
    ours = compute_cams(model, batch, [*PGC, "eigencam"], target="pred")
    return request.param, model, batch, ours, reshape_transform(layout, grid), grid, expected_layer


def test_the_automatic_layer_is_the_first_norm_of_the_last_block_or_the_final_norm(case):
    name, _model, _batch, ours, _transform, grid, expected = case
    assert ours.layer == expected, name
    for per_image in ours.raw:
        for per_class in per_image.values():
            assert all(m.shape == grid for m in per_class.values()), name
    assert not any(ours.zero_gradient), name


@pytest.mark.parametrize("method", list(PGC))
def test_gradient_methods_match_pytorch_grad_cam_with_its_reshape_transform(case, method):
    name, model, batch, ours, transform, _grid, _layer = case
    layer = model.module.get_submodule(ours.layer)
    targets = [ClassifierOutputTarget(classes[0]) for classes in ours.targets]
    with PGC[method](model=model.module, target_layers=[layer], reshape_transform=transform) as reference:
        theirs = reference(input_tensor=batch, targets=targets)
    for i, classes in enumerate(ours.targets):
        mine = upsample_map(ours.raw[i][method][classes[0]], batch.shape[2:])
        if np.ptp(theirs[i]) == 0:  # a class with no positive evidence (torch 2.11's initialisation of vit_b_16)
            assert np.ptp(mine) == 0 and np.allclose(mine, theirs[i], atol=1e-6), (name, method, i)
        else:
            assert pearson(mine, theirs[i]) >= 0.999, (name, method, i)


def test_eigencam_matches_the_sign_corrected_projection_of_the_reshaped_activations(case):
    name, model, batch, ours, transform, _grid, _layer = case
    layer = model.module.get_submodule(ours.layer)
    captured = {}
    handle = layer.register_forward_hook(lambda m, i, o: captured.update(a=transform(o.detach())))
    with torch.no_grad():
        model.module(batch)
    handle.remove()
    theirs = get_2d_projection_with_sign_correction(captured["a"].numpy())
    with EigenCAM(model=model.module, target_layers=[layer], reshape_transform=transform) as reference:
        plain = reference(input_tensor=batch, targets=None)  # its SVD sign is left to chance
    for i, classes in enumerate(ours.targets):
        raw = ours.raw[i]["eigencam"][classes[0]]
        assert pearson(raw, theirs[i]) >= 0.999, name
        assert max(pearson(upsample_map(s * raw, batch.shape[2:]), plain[i]) for s in (1, -1)) >= 0.999, name


def patch_gradient(model, layer: str, transform, size) -> float:
    """Norm of dScore/d(layer output) on the patch map, found with hooks and a full backward (no engine)."""
    captured = {}
    module = model.module.get_submodule(layer)
    handle = module.register_forward_hook(lambda m, i, o: captured.update(out=o))
    torch.manual_seed(2)
    logits = model.module(torch.randn(1, 3, *size))
    handle.remove()
    (grad,) = torch.autograd.grad(logits[0].sum(), captured["out"])
    return float(transform(grad).norm())


@pytest.mark.parametrize(
    "arch, options, layout, silent, chosen",
    [
        # The head reads the class token: after the last block's attention, patch tokens feed nothing.
        (
            "timm:vit_tiny_patch16_224",
            {},
            1,
            ["blocks.11", "norm", "blocks.11.norm2", "blocks.11.attn"],
            "blocks.11.norm1",
        ),
        # DeiT's head averages the class and distillation tokens: the same holds for both.
        ("timm:deit_tiny_distilled_patch16_224", {}, 2, ["blocks.11", "norm", "blocks.11.mlp"], "blocks.11.norm1"),
        ("vit_b_16", {}, 1, ["encoder", "encoder.layers.encoder_layer_11"], "encoder.layers.encoder_layer_11.ln_1"),
        # Average pooling over the patch tokens: the last block's output itself carries the gradient.
        ("timm:vit_tiny_patch16_224", {"class_token": False, "global_pool": "avg"}, 0, [], "blocks"),
        ("swin_t", {}, "NHWC", [], "norm"),
    ],
)
def test_the_automatic_layer_is_the_last_one_whose_patch_map_the_score_depends_on(
    arch, options, layout, silent, chosen
):
    size = (128, 128) if "swin" in arch else (64, 64)
    model = make(arch, options, size)
    transform = reshape_transform(layout, (4, 4))
    for layer in silent:
        assert patch_gradient(model, layer, transform, size) == 0.0, layer
    assert patch_gradient(model, chosen, transform, size) > 0.0
    assert auto_layer(model) == chosen
    assert {layer.name for layer in candidate_layers(model)} >= {*silent, chosen}


def test_cam_applies_where_the_head_averages_the_map_and_is_refused_on_a_class_token_head():
    swin = make("swin_t", {}, (128, 128))
    batch = torch.randn(1, 3, 128, 128)
    out = compute_cams(swin, batch, ["cam", "gradcam"], target="all")
    for c in range(5):  # W[c] . A = (H * W) * Grad-CAM for a GAP + linear head
        np.testing.assert_allclose(out.raw[0]["cam"][c], 16 * out.raw[0]["gradcam"][c], rtol=1e-3, atol=1e-4)
    with pytest.raises(CamError, match="global average pooling"):
        compute_cams(make("timm:vit_tiny_patch16_224", {}, (64, 64)), torch.randn(1, 3, 64, 64), ["cam"])


def test_dynamic_image_size_vit_reads_the_grid_of_each_input():
    model = make("timm:vit_tiny_patch16_224", {"dynamic_img_size": True}, (64, 64))
    for size, grid in (((64, 64), (4, 4)), ((48, 96), (3, 6))):
        out = compute_cams(model, torch.randn(1, 3, *size), ["gradcam", "eigencam"])
        assert out.raw[0]["gradcam"][out.targets[0][0]].shape == grid


def test_a_layer_inside_attention_or_with_another_layout_is_refused_by_name():
    model = make("timm:vit_tiny_patch16_224", {}, (64, 64))
    names = {layer.name for layer in candidate_layers(model)}
    assert "blocks.11.attn" in names and "blocks.11.attn.qkv" not in names and "blocks.11.attn.attn_drop" not in names
    with pytest.raises(CamError, match="not a feature map"):
        compute_cams(model, torch.randn(1, 3, 64, 64), ["gradcam"], layer="blocks.11.attn.q_norm")


def test_torchvision_transformers_are_no_longer_refused(tmp_path, capsys):
    maxvit = make("maxvit_t", {}, (224, 224), classes=2)
    out = compute_cams(maxvit, torch.randn(1, 3, 224, 224), ["gradcam"])
    assert out.raw[0]["gradcam"][out.targets[0][0]].shape == (7, 7)
    path = make("timm:deit_tiny_distilled_patch16_224", {}, (64, 64), classes=2).save(tmp_path / "deit.safetensors")
    assert main(["info", str(path), "--layers"]) == 0
    text = capsys.readouterr().out
    assert (
        '"auto_layer": "blocks.11.norm1"' in text and '"shape": [\n        192,\n        4,\n        4\n      ]' in text
    )
