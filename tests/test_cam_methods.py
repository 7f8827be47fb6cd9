"""The CAM methods beyond the first eight against their references: pytorch-grad-cam (AblationCAM, EigenGradCAM,
Grad-CAM element-wise, FinerCAM, ShapleyCAM), torchcam (Smooth Grad-CAM++, same noise), Captum (pixel methods),
and explicit forwards where the engine takes a shortcut (AblationCAM's tail)."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from captum.attr import GuidedGradCam, IntegratedGradients, Occlusion
from pytorch_grad_cam import AblationCAM, EigenGradCAM, FinerCAM, GradCAMElementWise, ShapleyCAM
from pytorch_grad_cam.ablation_layer import AblationLayerVit
from pytorch_grad_cam.utils.image import scale_cam_image
from pytorch_grad_cam.utils.model_targets import ClassifierOutputReST, ClassifierOutputTarget
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torchcam.methods import SmoothGradCAMpp

from camviewer.core.cam.batched import smooth_noise
from camviewer.core.cam.display import upsample_map
from camviewer.core.cam.engine import compute_cams, inapplicable_methods
from camviewer.core.cam.names import METHOD_INFO, METHODS, MethodSettings
from camviewer.core.cam.tail import build_tail
from camviewer.core.errors import Cancelled, MethodNotApplicable
from camviewer.core.jobs import CancelToken
from camviewer.core.model.card import ModelCard
from camviewer.core.model.loaded import LoadedModel
from camviewer.core.model.loading import new_model

SIZE = 64


def make_model(arch, classes=5, size=SIZE, seed=0, **card_options):
    torch.manual_seed(seed)
    card = ModelCard(arch=arch, class_names=[f"c{i}" for i in range(classes)], input_size=(size, size), **card_options)
    return new_model(card, device="cpu")


def pearson(a, b):
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def assert_same_map(raw, theirs, size=(SIZE, SIZE), up_to_sign=False):
    """Our raw map, displayed as pytorch-grad-cam displays its maps, equals theirs (r and max difference)."""
    mine = upsample_map(raw, size)
    if up_to_sign and pearson(mine, theirs) < 0:
        mine = upsample_map(-raw, size)
    assert pearson(mine, theirs) >= 0.999
    assert np.abs(mine - theirs).max() < 1e-3


@pytest.fixture(scope="module")
def resnet_case():
    torch.set_num_threads(1)
    model = make_model("resnet18")
    torch.manual_seed(1)
    batch = torch.randn(2, 3, SIZE, SIZE)
    methods = ["gradcam-elementwise", "eigengradcam", "finercam", "shapleycam"]
    return model, batch, compute_cams(model, batch, methods, target="pred")


def _pgc_targets(method, ours):
    if method == "finercam":
        return None  # FinerCAM's own choice: the top class against the next three by score distance
    if method == "shapleycam":
        return [ClassifierOutputReST(classes[0]) for classes in ours.targets]
    return [ClassifierOutputTarget(classes[0]) for classes in ours.targets]


PGC_ONE_PASS = {
    "gradcam-elementwise": GradCAMElementWise,
    "eigengradcam": EigenGradCAM,
    "finercam": FinerCAM,
    "shapleycam": ShapleyCAM,
}


@pytest.mark.parametrize("method", list(PGC_ONE_PASS))
def test_one_pass_methods_match_pytorch_grad_cam(one_thread, resnet_case, method):
    model, batch, ours = resnet_case
    layer = model.module.get_submodule(ours.layer)
    with PGC_ONE_PASS[method](model=model.module, target_layers=[layer]) as reference:
        theirs = reference(input_tensor=batch, targets=_pgc_targets(method, ours))
    for i, classes in enumerate(ours.targets):
        # pytorch-grad-cam's EigenGradCAM leaves the SVD's sign to chance; ours makes the largest value positive.
        assert_same_map(ours.raw[i][method][classes[0]], theirs[i], up_to_sign=method == "eigengradcam")


def test_finercam_contrasts_with_the_nearest_classes_by_hand(one_thread):
    """FinerCAM's score on a linear head: the gradient is W_c - alpha * sum_j p_j W_j / sum_j p_j (p differentiated)."""
    model = make_model("resnet18", classes=6)
    batch = torch.randn(1, 3, SIZE, SIZE)
    settings = MethodSettings(finer_classes=2, finer_alpha=0.5)
    ours = compute_cams(model, batch, ["finercam"], target=3, settings=settings)
    captured = {}
    handle = model.module.layer4.register_forward_hook(lambda m, i, o: keep(captured, o))
    with torch.no_grad():
        logits = model.module(batch)[0]
    handle.remove()
    a = captured["a"].requires_grad_(True)
    y = model.module.fc(a.mean(dim=(2, 3)))[0]
    nearest = sorted((j for j in range(6) if j != 3), key=lambda j: abs(float(logits[j] - logits[3])))[:2]
    p = torch.softmax(y, dim=0)
    score = sum(p[j] * (y[3] - 0.5 * y[j]) for j in nearest) / sum(p[j] for j in nearest)
    (g,) = torch.autograd.grad(score, a)
    expected = (g.mean(dim=(2, 3))[0, :, None, None] * a.detach()[0]).sum(dim=0)
    np.testing.assert_allclose(ours.raw[0]["finercam"][3], expected.numpy(), rtol=1e-4, atol=1e-6)


def keep(captured, output):
    """A forward hook's body that records the first output and returns None (a value would replace the output)."""
    captured.setdefault("a", output.detach().clone())


def explicit_ablation(model, layer_name, batch, classes):
    """AblationCAM by its definition: the whole model once per channel, that channel of the layer's output set to 0."""
    module = model.module
    layer = module.get_submodule(layer_name)
    captured = {}
    handle = layer.register_forward_hook(lambda m, i, o: keep(captured, o))
    with torch.no_grad():
        y = module(batch)[0, classes]
    handle.remove()
    a = captured["a"]
    weights = []
    for k in range(a.shape[1]):

        def ablate(m, i, o, k=k):
            o = o.clone()
            o[:, k] = 0
            return o

        handle = layer.register_forward_hook(ablate)
        with torch.no_grad():
            weights.append((y - module(batch)[0, classes]) / y)
        handle.remove()
    return torch.einsum("ck,c...->k...", torch.stack(weights), a[0]).numpy()


def test_ablationcam_matches_pytorch_grad_cam(one_thread):
    model = make_model("resnet18")
    batch = torch.randn(2, 3, SIZE, SIZE)
    ours = compute_cams(model, batch, ["ablationcam"], target="pred")
    layer = model.module.get_submodule(ours.layer)
    targets = [ClassifierOutputTarget(classes[0]) for classes in ours.targets]
    with AblationCAM(model=model.module, target_layers=[layer], batch_size=64) as reference:
        theirs = reference(input_tensor=batch, targets=targets)
    for i, classes in enumerate(ours.targets):
        assert_same_map(ours.raw[i]["ablationcam"][classes[0]], theirs[i])


@pytest.mark.parametrize(
    ("arch", "layer"), [("resnet18", "layer4.0.bn2"), ("densenet121", "features.denseblock4.denselayer16")]
)
def test_ablationcam_tail_equals_whole_forwards(one_thread, arch, layer):
    """Only the layers after the target layer run again, with what they read from before it: a skip connection's
    input (ResNet), the features a dense layer's output is concatenated with (DenseNet)."""
    model = make_model(arch, size=32)
    assert build_tail(model.module, layer) is not None
    batch = torch.randn(1, 3, 32, 32)
    ours = compute_cams(model, batch, ["ablationcam"], target="all", layer=layer)
    expected = explicit_ablation(model, layer, batch, list(range(5)))
    for c in range(5):
        np.testing.assert_allclose(ours.raw[0]["ablationcam"][c], expected[c], rtol=1e-3, atol=1e-5)


class BranchesOnValues(nn.Module):
    """fx cannot trace a branch on a tensor's value: AblationCAM runs the whole forward instead."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU())
        self.fc = nn.Linear(6, 3)

    def forward(self, x):
        a = self.features(x)
        if a.sum() > 0:
            a = a * 2
        return self.fc(a.mean(dim=(2, 3)))


def test_ablationcam_without_tail_runs_whole_forwards(one_thread):
    torch.manual_seed(0)
    module = BranchesOnValues().eval()
    card = ModelCard(arch="tinyvgg", class_names=["a", "b", "c"], input_size=(16, 16))
    model = LoadedModel(module, card, torch.device("cpu"))
    assert build_tail(module, "features") is None
    batch = torch.randn(1, 3, 16, 16)
    ours = compute_cams(model, batch, ["ablationcam"], target="all", layer="features")
    expected = explicit_ablation(model, "features", batch, [0, 1, 2])
    for c in range(3):
        np.testing.assert_allclose(ours.raw[0]["ablationcam"][c], expected[c], rtol=1e-4, atol=1e-6)


def test_smooth_gradcam_plus_plus_matches_torchcam_with_the_same_noise(one_thread):
    model = make_model("resnet18")
    batch = torch.randn(2, 3, SIZE, SIZE)
    settings = MethodSettings(smooth_samples=3, smooth_std=0.2, batch_size=4)  # two chunks of noisy copies
    ours = compute_cams(model, batch, ["smoothgradcam++"], target="pred", settings=settings)
    noise = smooth_noise(tuple(batch.shape[1:]), settings, batch.device)
    for i, classes in enumerate(ours.targets):
        samples = iter(noise)
        with SmoothGradCAMpp(model.module, ours.layer, num_samples=3, std=0.2, input_shape=(3, SIZE, SIZE)) as ref:
            ref._distrib.sample = lambda shape, samples=samples: next(samples).expand(shape)
            scores = model.module(batch[i : i + 1])
            (theirs,) = ref(classes[0], scores, normalized=False)
        np.testing.assert_allclose(ours.raw[i]["smoothgradcam++"][classes[0]], theirs[0].numpy(), rtol=1e-3, atol=1e-6)


def test_integrated_gradients_match_captum_and_complete(one_thread):
    model = make_model("resnet18", size=32)
    batch = torch.randn(2, 3, 32, 32)
    settings = MethodSettings(ig_steps=64, batch_size=32)
    ours = compute_cams(model, batch, ["integrated-gradients"], target="all", settings=settings)
    with torch.no_grad():
        logits = model.module(batch)
        baseline = model.module(torch.zeros(1, 3, 32, 32))[0]
    for i in range(2):
        for c in (0, 3):
            theirs = IntegratedGradients(model.module).attribute(batch[i : i + 1], target=c, n_steps=64)
            np.testing.assert_allclose(ours.raw[i]["integrated-gradients"][c], theirs[0].sum(0).numpy(), atol=1e-5)
            # Completeness: the attributions add up to the score's change from the baseline.
            total = float(ours.raw[i]["integrated-gradients"][c].sum())
            assert total == pytest.approx(float(logits[i, c] - baseline[c]), rel=0.05, abs=0.02)


def test_occlusion_matches_captum_on_the_original_model(one_thread):
    """Our Occlusion runs on the folded, channels-last copy of the network; Captum on the model as it is."""
    model = make_model("resnet18", size=32)
    batch = torch.randn(1, 3, 32, 32)
    settings = MethodSettings(occlusion_window=8, occlusion_stride=4)
    ours = compute_cams(model, batch, ["occlusion"], target="all", settings=settings)
    with torch.no_grad():
        for c in range(5):
            theirs = Occlusion(model.module).attribute(
                batch, sliding_window_shapes=(3, 8, 8), strides=(3, 4, 4), target=c
            )
            np.testing.assert_allclose(ours.raw[0]["occlusion"][c], theirs[0].sum(0).numpy(), rtol=1e-3, atol=1e-4)


def test_guided_gradcam_matches_captum(one_thread):
    model = make_model("resnet18")
    batch = torch.randn(2, 3, SIZE, SIZE)
    ours = compute_cams(model, batch, ["guided-gradcam"], target="pred")
    layer = model.module.get_submodule(ours.layer)
    for i, classes in enumerate(ours.targets):
        theirs = GuidedGradCam(model.module, layer).attribute(
            batch[i : i + 1].clone().requires_grad_(), target=classes[0], interpolate_mode="bilinear"
        )
        expected = theirs[0].sum(0).detach().numpy()
        mine = ours.raw[i]["guided-gradcam"][classes[0]]
        assert mine.shape == (SIZE, SIZE)
        assert pearson(mine, expected) >= 0.999
        np.testing.assert_allclose(mine, expected, atol=1e-4 * np.abs(expected).max())


def test_new_methods_give_each_image_its_own_map_in_a_batch(one_thread):
    model = make_model("resnet18", size=32)
    batch = torch.randn(3, 3, 32, 32)
    methods = ["ablationcam", "finercam", "shapleycam", "smoothgradcam++", "guided-gradcam"]
    together = compute_cams(model, batch, methods, target="all")
    alone = compute_cams(model, batch[1:2], methods, target="all")
    for method in methods:
        for c in range(5):
            np.testing.assert_allclose(
                together.raw[1][method][c], alone.raw[0][method][c], rtol=1e-3, atol=1e-5, err_msg=method
            )


def test_ablationcam_can_be_cancelled(one_thread):
    model = make_model("resnet18", size=32)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        compute_cams(model, torch.randn(1, 3, 32, 32), ["ablationcam"], cancel=token)


def test_methods_that_cannot_apply_are_refused_with_their_reason(one_thread):
    binary = make_model("resnet18", classes=1, size=32, head="sigmoid")
    with pytest.raises(MethodNotApplicable) as refused:
        compute_cams(binary, torch.randn(1, 3, 32, 32), ["finercam"])
    assert (refused.value.method, refused.value.alternative) == ("finercam", "gradcam")
    gelu = make_model("convnext_tiny", size=32)  # GELU, no ReLU module: guided backpropagation changes nothing
    reasons = inapplicable_methods(gelu, ["gradcam", "guided-gradcam", "ablationcam"])
    assert set(reasons) == {"guided-gradcam"}
    assert "ReLU" in reasons["guided-gradcam"]


def test_every_method_says_what_it_costs():
    assert set(METHOD_INFO) == set(METHODS)
    assert {info.family for info in METHOD_INFO.values()} <= {
        "gradient",
        "contrast",
        "activation",
        "batched",
        "pixel",
        "attention",
    }
    assert {name for name, info in METHOD_INFO.items() if info.slow} == {
        "scorecam",
        "ablationcam",
        "integrated-gradients",
        "occlusion",
    }


def test_pixel_maps_are_placed_like_layer_maps(one_thread):
    """A pixel method's map is at input resolution; display places it on the image as any other map."""
    model = make_model("resnet18", size=32)
    out = compute_cams(model, torch.randn(1, 3, 32, 32), ["occlusion", "gradcam"], target="pred")
    c = out.targets[0][0]
    assert out.raw[0]["occlusion"][c].shape == (32, 32)
    assert out.raw[0]["gradcam"][c].shape != (32, 32)  # layer resolution
    shown = upsample_map(out.raw[0]["occlusion"][c], (48, 40))
    assert shown.shape == (48, 40)
    positive = torch.from_numpy(out.raw[0]["occlusion"][c]).clamp(min=0)  # display shows the positive part
    direct = F.interpolate(positive[None, None], size=(48, 40), mode="bilinear")
    assert pearson(shown, direct.numpy()) > 0.999


# ------------------------------------------------------------------ transformers: the same methods through the token layout
DEIT = "timm:deit_tiny_distilled_patch16_224"  # two prefix tokens (class, distillation), a 4x4 grid at 64x64


def deit_tokens_to_map(tokens):
    """pytorch-grad-cam's reshape transform for this DeiT, written by hand: drop 2 prefix tokens, 4x4 grid."""
    return tokens[:, 2:, :].reshape(tokens.shape[0], 4, 4, tokens.shape[2]).permute(0, 3, 1, 2)


class ZeroAblationVit(AblationLayerVit):
    """pytorch-grad-cam's ViT ablation with the paper's value, 0 (it uses min - 1e7 where activations go negative)."""

    def __call__(self, x):
        output = self.activations.transpose(1, self.activations.ndim - 1)
        for i in range(output.size(0)):
            output[i, self.indices[i], :] = 0
        return output.transpose(self.activations.ndim - 1, 1)


@pytest.fixture(scope="module")
def deit_case():
    torch.set_num_threads(1)
    model = make_model(DEIT)
    torch.manual_seed(1)
    batch = torch.randn(2, 3, SIZE, SIZE)
    methods = ["gradcam-elementwise", "eigengradcam", "finercam", "shapleycam", "ablationcam"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model, batch, compute_cams(model, batch, methods, target="pred")


@pytest.mark.parametrize("method", ["gradcam-elementwise", "eigengradcam", "finercam", "ablationcam"])
def test_methods_on_a_vit_match_pytorch_grad_cam_with_its_reshape_transform(one_thread, deit_case, method):
    model, batch, ours = deit_case
    assert ours.layer == "blocks.11.norm1"
    layer = model.module.get_submodule(ours.layer)
    options = {"ablation_layer": ZeroAblationVit(), "batch_size": 64} if method == "ablationcam" else {}
    reference_class = {**PGC_ONE_PASS, "ablationcam": AblationCAM}[method]
    reference = reference_class(
        model=model.module, target_layers=[layer], reshape_transform=deit_tokens_to_map, **options
    )
    theirs = reference(input_tensor=batch, targets=_pgc_targets(method, ours))
    for i, classes in enumerate(ours.targets):
        assert_same_map(ours.raw[i][method][classes[0]], theirs[i], up_to_sign=method == "eigengradcam")


def test_shapleycam_on_a_vit_by_hand(one_thread, deit_case):
    """pytorch-grad-cam's ShapleyCAM cannot take a reshape transform; the definition, through a hand-made map:
    w_k = mean(G_k - 1/2 (H A)_k) with G and H the gradient and Hessian of the ReST score at the patch map A."""
    model, batch, ours = deit_case
    layer = model.module.get_submodule(ours.layer)
    for i, classes in enumerate(ours.targets):
        image, c = batch[i : i + 1], classes[0]
        captured = {}
        handle = layer.register_forward_hook(lambda m, inputs, out, captured=captured: keep(captured, out))
        with torch.no_grad():
            model.module(image)
        handle.remove()
        tokens = captured["a"]
        patch_map = deit_tokens_to_map(tokens)

        def rest_score(fmap, tokens=tokens, image=image, c=c):
            replaced = torch.cat([tokens[:, :2], fmap.flatten(2).transpose(1, 2)], dim=1)
            handle = layer.register_forward_hook(lambda m, inputs, out: replaced)
            try:
                logits = model.module(image)
            finally:
                handle.remove()
            return logits[0, c] + torch.log_softmax(logits, dim=1)[0, c]

        with sdpa_kernel(SDPBackend.MATH):  # the fused attention kernels have no second derivative
            (g,) = torch.autograd.grad(rest_score(patch_map.requires_grad_()), patch_map)
            _, hvp = torch.autograd.functional.hvp(rest_score, patch_map.detach(), patch_map.detach())
        weights = (g - 0.5 * hvp).mean(dim=(2, 3))[0]
        expected = torch.einsum("k,khw->hw", weights, patch_map.detach()[0])
        np.testing.assert_allclose(ours.raw[i]["shapleycam"][c], expected.numpy(), rtol=1e-3, atol=1e-5)


# ------------------------------------------------------------------ volumes: the same definitions over (d, h, w)
class Tiny3d(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv3d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool3d(2), nn.Conv3d(4, 8, 3, padding=1), nn.ReLU()
        )
        self.classifier = nn.Linear(8, 3)

    def forward(self, x):
        return self.classifier(self.features(x).mean(dim=(2, 3, 4)))


@pytest.fixture(scope="module")
def volume_case():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    card = ModelCard(
        arch="tinyvgg", class_names=["a", "b", "c"], input_size=(16, 16), channels=1, mean=(0.0,), std=(1.0,)
    )
    model = LoadedModel(Tiny3d().eval(), card, torch.device("cpu"))
    torch.manual_seed(1)
    volume = torch.randn(1, 1, 8, 16, 16)
    methods = [*PGC_ONE_PASS, "ablationcam", "smoothgradcam++", "integrated-gradients", "occlusion", "guided-gradcam"]
    settings = MethodSettings(occlusion_window=4, occlusion_stride=2, smooth_samples=3)
    return model, volume, compute_cams(model, volume, methods, target="pred", layer="features", settings=settings)


@pytest.mark.parametrize("method", list(PGC_ONE_PASS))
def test_one_pass_methods_on_a_volume_match_pytorch_grad_cam(one_thread, volume_case, method):
    model, volume, ours = volume_case
    (c,) = ours.targets[0]
    assert ours.raw[0][method][c].shape == (4, 8, 8)
    with PGC_ONE_PASS[method](model=model.module, target_layers=[model.module.features]) as reference:
        theirs = reference(input_tensor=volume, targets=_pgc_targets(method, ours))

    def displayed(raw):  # pytorch-grad-cam's 3-D display: ReLU, min-max, spline zoom to (w, h, d), ReLU, min-max
        zoomed = scale_cam_image(np.maximum(raw, 0)[None], tuple(reversed(volume.shape[2:])))
        return scale_cam_image(np.maximum(zoomed, 0))

    raw = ours.raw[0][method][c]
    if method == "eigengradcam":  # its sign is left to chance
        raw = max((raw, -raw), key=lambda r: pearson(displayed(r), theirs))
    mine = displayed(raw)
    assert pearson(mine, theirs) >= 0.999
    assert np.abs(mine - theirs).max() < 1e-3


def test_many_pass_and_pixel_methods_on_a_volume(one_thread, volume_case):
    model, volume, ours = volume_case
    module, (c,) = model.module, ours.targets[0]
    np.testing.assert_allclose(
        ours.raw[0]["ablationcam"][c], explicit_ablation(model, "features", volume, [c])[0], rtol=1e-4, atol=1e-6
    )
    samples = iter(smooth_noise((1, 8, 16, 16), MethodSettings(smooth_samples=3), volume.device))
    with SmoothGradCAMpp(module, "features", num_samples=3, input_shape=(1, 8, 16, 16)) as reference:
        reference._distrib.sample = lambda shape: next(samples).expand(shape)
        (smooth,) = reference(c, module(volume), normalized=False)
    np.testing.assert_allclose(ours.raw[0]["smoothgradcam++"][c], smooth[0].numpy(), rtol=1e-3, atol=1e-6)
    image = volume.clone().requires_grad_()
    captum = {
        "integrated-gradients": IntegratedGradients(module).attribute(image, target=c, n_steps=50),
        "occlusion": Occlusion(module).attribute(
            image, sliding_window_shapes=(1, 4, 4, 4), strides=(1, 2, 2, 2), target=c
        ),
        "guided-gradcam": GuidedGradCam(module, module.features).attribute(
            image, target=c, interpolate_mode="trilinear"
        ),
    }
    for method, attribution in captum.items():
        expected = attribution[0].sum(0).detach().numpy()
        assert ours.raw[0][method][c].shape == (8, 16, 16)
        np.testing.assert_allclose(ours.raw[0][method][c], expected, atol=1e-5 * np.abs(expected).max(), err_msg=method)
