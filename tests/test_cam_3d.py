"""3-D CAMs on random-init MONAI DenseNet121, torchvision's r3d_18 and a 3-D TinyVGG: every method against a plain
PyTorch implementation on 5-D tensors written here, Grad-CAM against pytorch-grad-cam's, CAM against Grad-CAM."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pytorch_grad_cam import GradCAM, GradCAMPlusPlus
from pytorch_grad_cam.utils.image import scale_cam_image
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

from camviewer.core.cam.engine import compute_cams
from camviewer.core.cam.layers import auto_layer, candidate_layers
from camviewer.core.cam.names import MethodSettings
from camviewer.core.model.card import ModelCard
from camviewer.core.model.loading import new_model
from camviewer.core.model.volume_recipe import VolumeRecipe

GRADIENT_METHODS = ("gradcam", "gradcam++", "xgradcam", "layercam", "hirescam")
# (architecture, options, input size, the automatic layer: the last spatial layer before the head)
MODELS = [
    ("monai:DenseNet121", {}, (64, 96, 96), "class_layers.relu"),
    ("r3d_18", {}, (16, 64, 64), "layer4"),
]


def volume_model(arch, options, size, classes=3):
    torch.manual_seed(0)
    card = ModelCard(arch, [f"c{i}" for i in range(classes)], channels=1, mean=(0.0,), std=(1.0,), arch_options=options)
    model = new_model(card.with_recipe(volume=VolumeRecipe(size)), device="cpu")
    for module in model.module.modules():  # random BatchNorm statistics: maps with some structure
        if isinstance(module, torch.nn.BatchNorm3d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    return model


def reference_maps(module, layer_name: str, volume: torch.Tensor, target: int) -> dict[str, np.ndarray]:
    """Plain PyTorch: hook the layer, back-propagate the class logit through the whole network, apply each
    definition over the three spatial dimensions (d, h, w)."""
    stored = {}
    handle = module.get_submodule(layer_name).register_forward_hook(lambda _m, _i, out: stored.update(a=out))
    module.eval()
    with torch.enable_grad():
        logits = module(volume)
        (g,) = torch.autograd.grad(logits[0, target], stored["a"])
    handle.remove()
    a, g = stored["a"].detach()[0].double(), g[0].double()  # C x d x h x w
    cells = (1, 2, 3)

    def weighted(weights):
        return (weights[:, None, None, None] * a).sum(0)

    alpha = g**2 / (2 * g**2 + a.sum(cells, keepdim=True) * g**3 + 1e-6)
    alpha = torch.where(g != 0, alpha, torch.zeros_like(alpha))
    return {
        "gradcam": weighted(g.mean(cells)),
        "gradcam++": weighted((g.clamp(min=0) * alpha).sum(cells)),
        "xgradcam": weighted((g * a).sum(cells) / (a.sum(cells) + 1e-7)),
        "layercam": (g.clamp(min=0) * a).sum(0),
        "hirescam": (g * a).sum(0),
    } | {"activations": a}


def pearson(a, b) -> float:
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


@pytest.fixture(scope="module", params=MODELS, ids=[m[0] for m in MODELS])
def setting(request):
    arch, options, size, layer = request.param
    model = volume_model(arch, options, size)
    torch.manual_seed(1)
    volume = torch.randn(1, 1, *size)
    return model, volume, layer


def test_the_automatic_layer_of_a_3d_network_is_its_last_spatial_layer_before_the_head(setting, one_thread):
    model, _volume, expected = setting
    assert auto_layer(model) == expected
    shapes = {layer.name: layer.shape for layer in candidate_layers(model)}
    assert len(shapes[expected]) == 4 and np.prod(shapes[expected][1:]) > 1  # (C, d, h, w), more than one cell


def test_every_gradient_method_equals_plain_pytorch_on_5d_tensors(setting, one_thread):
    model, volume, layer = setting
    cams = compute_cams(model, volume, (*GRADIENT_METHODS, "cam"), target=2)
    assert cams.layer == layer
    reference = reference_maps(model.module, layer, volume, 2)
    for method in GRADIENT_METHODS:
        ours = cams.raw[0][method][2]
        assert ours.shape == tuple(reference["activations"].shape[1:])
        assert pearson(ours, reference[method]) >= 0.999, method
        np.testing.assert_allclose(ours, reference[method].numpy(), rtol=1e-3, atol=1e-4 * np.abs(ours).max())
    # CAM (classifier weights times the activations) is Grad-CAM times the voxel count under a GAP + linear head
    cells = int(np.prod(cams.raw[0]["cam"][2].shape))
    np.testing.assert_allclose(
        cams.raw[0]["cam"][2],
        cams.raw[0]["gradcam"][2] * cells,
        rtol=1e-3,
        atol=1e-3 * np.abs(cams.raw[0]["cam"][2]).max(),
    )


def test_grad_cam_equals_pytorch_grad_cams_on_volumes(setting, one_thread):
    model, volume, layer = setting
    # Grad-CAM++ on r3d_18 only: pytorch-grad-cam back-propagates through the whole of DenseNet (slow)
    for library_method in [GradCAM] + ([GradCAMPlusPlus] if model.card.arch == "r3d_18" else []):
        name = "gradcam" if library_method is GradCAM else "gradcam++"
        ours = compute_cams(model, volume, (name,), target="all").raw[0][name]
        target = max(ours, key=lambda c: ours[c].max())  # a class with positive evidence (random weights)
        with library_method(model=model.module, target_layers=[model.module.get_submodule(layer)]) as cam:
            theirs = cam(input_tensor=volume, targets=[ClassifierOutputTarget(target)])[0]
        # their post-processing (ReLU, min-max, spline zoom to the input) applied to our raw map
        expected = scale_cam_image(np.maximum(ours[target], 0)[None], volume.shape[2:][::-1])[0]
        assert theirs.shape == tuple(volume.shape[2:]) and theirs.max() > 0
        assert pearson(theirs, expected) >= 0.999, name


def test_eigen_and_score_cam_in_3d_equal_their_definitions(one_thread):
    model = volume_model("tinyvgg_gap", {"spatial_dims": 3, "widths": [4, 6]}, (12, 16, 20), classes=2)
    torch.manual_seed(3)
    volume = torch.randn(2, 1, 12, 16, 20)
    cams = compute_cams(model, volume, ("eigencam", "scorecam"), target="all", settings=MethodSettings(batch_size=4))
    stored = {}
    layer = model.module.get_submodule(cams.layer)
    handle = layer.register_forward_hook(lambda _m, _i, out: stored.update(a=out.detach()))
    with torch.no_grad():
        model.module(volume)
    handle.remove()
    for i in range(2):
        a = stored["a"][i]  # C x d x h x w
        # Score-CAM: one masked forward per channel, the mask the upsampled min-max normalised channel
        masks = F.interpolate(a[None], size=volume.shape[2:], mode="trilinear", align_corners=True)[0]
        flat = masks.flatten(1)
        masks = (masks - flat.min(1).values[:, None, None, None]) / (flat.max(1).values - flat.min(1).values + 1e-8)[
            :, None, None, None
        ]
        with torch.no_grad():
            scores = torch.cat([model.module(volume[i : i + 1] * mask[None, None]) for mask in masks])
        for c in range(2):
            weights = torch.softmax(scores[:, c], dim=0)
            expected = (weights[:, None, None, None] * a).sum(0)
            np.testing.assert_allclose(cams.raw[i]["scorecam"][c], expected.numpy(), rtol=1e-4, atol=1e-5)
        # EigenCAM: the centred activations projected on their first principal component (numpy's SVD)
        x = a.flatten(1).T.double().numpy()
        x = x - x.mean(0)
        projection = x @ np.linalg.svd(x, full_matrices=False)[2][0]
        projection *= -1 if abs(projection.min()) > abs(projection.max()) else 1
        np.testing.assert_allclose(cams.raw[i]["eigencam"][0].ravel(), projection, rtol=1e-4, atol=1e-5)
