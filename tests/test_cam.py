"""The CAM engine against pytorch-grad-cam and torchcam (same model, same input), and its own contracts."""

import gc

import numpy as np
import pytest
import torch
from pytorch_grad_cam import EigenCAM, GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM, ScoreCAM, XGradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from pytorch_grad_cam.utils.svd_on_activations import get_2d_projection_with_sign_correction
from torch import nn

from camviewer.core.cam.display import upsample_map
from camviewer.core.cam.engine import _pass_network, compute_cams
from camviewer.core.cam.layers import auto_layer, candidate_layers
from camviewer.core.cam.methods import eigen_projection
from camviewer.core.cam.names import MethodSettings
from camviewer.core.errors import CamError
from camviewer.core.model.card import ModelCard
from camviewer.core.model.loaded import LoadedModel
from camviewer.core.model.loading import new_model

PGC_SAME_DEFINITION = {
    "gradcam": GradCAM,
    "gradcam++": GradCAMPlusPlus,
    "xgradcam": XGradCAM,
    "layercam": LayerCAM,
    "hirescam": HiResCAM,
}


def make_model(arch, classes=5, size=224, seed=0, **card_options):
    torch.manual_seed(seed)
    card = ModelCard(arch=arch, class_names=[f"c{i}" for i in range(classes)], input_size=(size, size), **card_options)
    return new_model(card, device="cpu")


def pearson(a, b):
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


@pytest.fixture(scope="module", params=["resnet18", "vgg16", "densenet121"])
def reference_case(request):
    model = make_model(request.param)
    torch.manual_seed(1)
    batch = torch.randn(2, 3, 224, 224)
    ours = compute_cams(model, batch, [*PGC_SAME_DEFINITION, "eigencam"], target="pred")
    return request.param, model, batch, ours


@pytest.mark.parametrize("method", list(PGC_SAME_DEFINITION))
def test_gradient_methods_match_pytorch_grad_cam(reference_case, method):
    arch, model, batch, ours = reference_case
    layer = model.module.get_submodule(ours.layer)
    targets = [ClassifierOutputTarget(classes[0]) for classes in ours.targets]
    with PGC_SAME_DEFINITION[method](model=model.module, target_layers=[layer]) as reference:
        theirs = reference(input_tensor=batch, targets=targets)
    for i, classes in enumerate(ours.targets):
        mine = upsample_map(ours.raw[i][method][classes[0]], (224, 224))
        assert pearson(mine, theirs[i]) >= 0.999, (arch, method, i)
        assert np.abs(mine - theirs[i]).max() < 1e-3


def test_eigencam_matches_sign_corrected_projection(reference_case):
    _arch, model, batch, ours = reference_case
    layer = model.module.get_submodule(ours.layer)
    captured = {}
    handle = layer.register_forward_hook(lambda m, i, o: captured.setdefault("a", o.detach().clone()))
    with torch.no_grad():
        model.module(batch)
    handle.remove()
    theirs = get_2d_projection_with_sign_correction(captured["a"].numpy())
    for i, classes in enumerate(ours.targets):
        assert pearson(ours.raw[i]["eigencam"][classes[0]], theirs[i]) >= 0.999
    # pytorch-grad-cam's EigenCAM leaves the SVD sign to chance; up to sign it is the same map.
    with EigenCAM(model=model.module, target_layers=[layer]) as reference:
        plain = reference(input_tensor=batch, targets=None)
    for i, classes in enumerate(ours.targets):
        raw = ours.raw[i]["eigencam"][classes[0]]
        candidates = [upsample_map(sign * raw, (224, 224)) for sign in (1, -1)]
        assert max(pearson(c, plain[i]) for c in candidates) >= 0.999


@pytest.mark.parametrize("arch", ["resnet18", "densenet121"])
def test_torchcam_agrees_on_shared_definitions(arch):
    import torchcam.methods as torchcam

    model = make_model(arch, size=64)
    torch.manual_seed(2)
    batch = torch.randn(2, 3, 64, 64)
    ours = compute_cams(model, batch, ["gradcam", "layercam", "xgradcam", "cam"], target="pred")
    classes = [c[0] for c in ours.targets]
    fc = model.module.get_submodule("fc" if arch == "resnet18" else "classifier")
    for method, extractor, kwargs in [
        ("gradcam", torchcam.GradCAM, {}),
        ("layercam", torchcam.LayerCAM, {}),
        ("xgradcam", torchcam.XGradCAM, {}),
        ("cam", torchcam.CAM, {"fc_layer": fc}),
    ]:
        with extractor(model.module, ours.layer, input_shape=(3, 64, 64), **kwargs) as cam:
            theirs = cam(classes, model.module(batch))[0].detach().numpy()
        for i, c in enumerate(classes):
            mine = ours.raw[i][method][c]
            mine = mine if method == "cam" else np.maximum(mine, 0)  # torchcam's CAM has no ReLU
            assert pearson(mine, theirs[i]) >= 0.999, (arch, method)


def test_scorecam_matches_pytorch_grad_cam():
    model = make_model("resnet18", size=32)
    torch.manual_seed(3)
    batch = torch.randn(1, 3, 32, 32)
    ours = compute_cams(model, batch, ["scorecam"], target="pred", settings=MethodSettings(batch_size=128))
    layer = model.module.get_submodule(ours.layer)
    with ScoreCAM(model=model.module, target_layers=[layer]) as reference:
        reference.batch_size = 128
        theirs = reference(input_tensor=batch, targets=[ClassifierOutputTarget(ours.targets[0][0])])
    mine = upsample_map(ours.raw[0]["scorecam"][ours.targets[0][0]], (32, 32))
    assert pearson(mine, theirs[0]) >= 0.999


class TwoChannelNet(nn.Module):
    """A hand-checkable net: 2 activation channels at 2x2, global average pooling, linear head."""

    def __init__(self):
        super().__init__()
        self.features = nn.Identity()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2, 2, bias=False)
        with torch.no_grad():
            self.fc.weight.copy_(torch.tensor([[1.0, -2.0], [0.5, 3.0]]))

    def forward(self, x):
        return self.fc(self.pool(self.features(x)).flatten(1))


def hand_model():
    card = ModelCard(arch="hand", class_names=["a", "b"], input_size=(8, 8), channels=3)
    return LoadedModel(TwoChannelNet(), card, torch.device("cpu"))


def test_hand_checked_values_for_every_gradient_method():
    # Activations A (2 channels, 2x2); logit_a = mean(A0) - 2 mean(A1), so dlogit_a/dA0 = 1/4, dA1 = -1/2.
    a = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [1.0, 2.0]]]])
    model = hand_model()
    out = compute_cams(
        model, a, ["gradcam", "gradcam++", "xgradcam", "layercam", "hirescam", "cam"], target="a", layer="features"
    )
    raw = {m: out.raw[0][m][0] for m in out.raw[0]}
    a0, a1 = a[0, 0].numpy(), a[0, 1].numpy()
    np.testing.assert_allclose(raw["gradcam"], 0.25 * a0 - 0.5 * a1, rtol=1e-6)
    np.testing.assert_allclose(raw["hirescam"], 0.25 * a0 - 0.5 * a1, rtol=1e-6)
    np.testing.assert_allclose(raw["layercam"], 0.25 * a0, rtol=1e-6)  # relu drops the negative gradient
    np.testing.assert_allclose(raw["cam"], a0 - 2 * a1, rtol=1e-6)
    # XGrad-CAM: w_k = sum(G_k * A_k) / sum(A_k) = G_k here (G constant per channel).
    np.testing.assert_allclose(raw["xgradcam"], 0.25 * a0 - 0.5 * a1, rtol=1e-5)
    # Grad-CAM++ (paper eq. 19, pytorch-grad-cam's definition; torchcam uses sum(G^3 A) instead of
    # sum(A) G^3 and differs): channel 0, g = 1/4, sum(A0) = 10:
    # alpha = g^2 / (2 g^2 + 10 g^3) = 0.0625 / (0.125 + 0.15625); w0 = 4 * g * alpha. Channel 1: relu(g) = 0.
    alpha0 = 0.0625 / (0.125 + 0.15625 + 1e-6)
    np.testing.assert_allclose(raw["gradcam++"], 4 * 0.25 * alpha0 * a0, rtol=1e-5)


def test_eigencam_sign_rule_on_hand_values():
    # One dominant direction; the centred projection is antisymmetric, so the sign rule decides.
    a = torch.tensor([[[[3.0, 0.0], [0.0, 0.0]], [[3.0, 0.0], [0.0, 0.0]]]])
    projection = eigen_projection(a)[0].numpy()
    assert projection[0, 0] > 0 and abs(projection[0, 0]) >= abs(projection.min())
    np.testing.assert_allclose(projection[0, 0] / projection[0, 1], -3.0, rtol=1e-5)


def test_cam_equals_gradcam_up_to_a_positive_factor_for_gap_linear_heads():
    for arch in ("resnet18", "densenet121", "tinyvgg_gap"):
        model = make_model(arch, size=64)
        batch = torch.randn(3, 3, 64, 64)
        out = compute_cams(model, batch, ["cam", "gradcam"], target="all")
        h, w = next(iter(out.raw[0]["cam"].values())).shape
        for image in out.raw:
            for c in range(5):
                np.testing.assert_allclose(image["gradcam"][c] * h * w, image["cam"][c], rtol=1e-4, atol=1e-5)


def test_cam_uses_the_explained_class_weights():
    # Seed 000/001 bug: a CAM built from the wrong weights is the same for every class.
    model = make_model("resnet18", size=64)
    out = compute_cams(model, torch.randn(1, 3, 64, 64), ["cam"], target="all")
    maps = out.raw[0]["cam"]
    assert pearson(maps[0], maps[1]) < 0.99
    fc = model.module.fc.weight.detach()
    assert not torch.allclose(fc[0], fc[1])


def test_cam_refuses_a_head_that_is_not_gap_plus_linear():
    model = make_model("vgg16", size=64)
    with pytest.raises(CamError, match="global average pooling"):
        compute_cams(model, torch.randn(1, 3, 64, 64), ["cam"])


def test_targets_pred_all_name_and_index():
    model = make_model("tinyvgg_gap", classes=3, size=32)
    batch = torch.randn(4, 3, 32, 32)
    pred = compute_cams(model, batch, ["gradcam"], target="pred")
    assert pred.targets == [[int(p.argmax())] for p in pred.probs]
    everything = compute_cams(model, batch, ["gradcam"], target="all")
    assert all(sorted(image["gradcam"]) == [0, 1, 2] for image in everything.raw)
    by_name = compute_cams(model, batch, ["gradcam"], target="c2")
    by_index = compute_cams(model, batch, ["gradcam"], target=2)
    for x, y in zip(by_name.raw, by_index.raw):
        np.testing.assert_array_equal(x["gradcam"][2], y["gradcam"][2])
    # The "all" pass gives each class the same map a single-class pass gives (rounds don't leak).
    for x, y in zip(everything.raw, by_index.raw):
        np.testing.assert_allclose(x["gradcam"][2], y["gradcam"][2], rtol=1e-5, atol=1e-7)
    with pytest.raises(CamError, match="unknown class"):
        compute_cams(model, batch, ["gradcam"], target="nope")


def test_sigmoid_pred_explains_every_positive_label():
    model = make_model("tinyvgg_gap", classes=4, size=32, head="sigmoid")
    with torch.no_grad():  # biases decide the labels: 0 and 2 positive, 1 and 3 negative
        model.module.classifier[2].weight.zero_()
        model.module.classifier[2].bias.copy_(torch.tensor([2.0, -2.0, 3.0, -1.0]))
    out = compute_cams(model, torch.randn(2, 3, 32, 32), ["gradcam"], target="pred")
    assert out.targets == [[0, 2], [0, 2]]


def test_batch_results_equal_single_image_results():
    model = make_model("resnet18", size=64)
    batch = torch.randn(3, 3, 64, 64)
    together = compute_cams(
        model, batch, ["gradcam", "scorecam"], target="all", settings=MethodSettings(batch_size=256)
    )
    alone = compute_cams(
        model, batch[1:2], ["gradcam", "scorecam"], target="all", settings=MethodSettings(batch_size=256)
    )
    for method in ("gradcam", "scorecam"):
        for c in range(5):
            np.testing.assert_allclose(together.raw[1][method][c], alone.raw[0][method][c], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("arch", ["vgg11", "resnet18"])  # the model itself runs; its folded copy runs (BatchNorm)
def test_backward_stops_at_the_target_layer(arch):
    model = make_model(arch, size=64)
    network = _pass_network(model, ["gradcam", "layercam"], auto_layer(model), 4)
    assert (network is model.module) == (arch == "vgg11")
    calls = []
    first_conv = next(m for m in network.modules() if isinstance(m, nn.Conv2d))
    first_conv.register_full_backward_hook(lambda *args: calls.append("first conv"))
    compute_cams(model, torch.randn(1, 3, 64, 64), ["gradcam", "layercam"])
    assert calls == []
    assert all(p.grad is None for p in [*model.module.parameters(), *network.parameters()])


def _randomise_batchnorm(module: nn.Module) -> None:
    """Running statistics and affine weights far from the identity, so that folding changes a convolution's output."""
    with torch.no_grad():
        for norm in (m for m in module.modules() if isinstance(m, nn.BatchNorm2d)):
            norm.running_mean.uniform_(-0.5, 0.5)
            norm.running_var.uniform_(0.5, 2.0)
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.2, 0.2)


def plain_gradcam(module: nn.Module, layer: str, batch: torch.Tensor, class_index: int) -> np.ndarray:
    """Grad-CAM before ReLU in plain PyTorch on the model itself: sum_k mean(dScore/dA_k) A_k. The layers after
    the hook get a copy of the output, as a later in-place op (ResNet's ``out += identity`` after ``bn2``) would
    change it (pytorch-grad-cam keeps the tensor itself, so at ``bn2`` it reads the sum)."""
    saved = {}

    def hook(_module, _inputs, output):
        saved["a"] = output.clone()
        return saved["a"].clone()  # what the layers after it read (and may change in place)

    handle = module.get_submodule(layer).register_forward_hook(hook)
    try:
        with torch.enable_grad():
            score = module.eval()(batch.clone().requires_grad_(True))[:, class_index].sum()
            (gradient,) = torch.autograd.grad(score, saved["a"])
    finally:
        handle.remove()
    return (gradient.mean(dim=(2, 3), keepdim=True) * saved["a"]).sum(1).detach().numpy()


@pytest.mark.parametrize(
    ("layer", "unfolded"),
    [
        ("layer4", []),  # a block: called as one module, folded inside
        ("layer4.1.conv2", ["layer4.1.bn2"]),
        ("layer4.1.bn2", ["layer4.1.bn2"]),
        ("layer3.0.downsample.0", ["layer3.0.downsample.1"]),
    ],
)
def test_folded_pass_reads_the_output_the_model_has_at_the_layer(layer, unfolded):
    """The gradient pass runs a copy with BatchNorm folded into the convolutions; a target convolution or
    BatchNorm must still give its own output (its pair is left unfolded), so the maps are the model's own."""
    model = make_model("resnet18", size=96)
    _randomise_batchnorm(model.module)
    torch.manual_seed(2)
    batch = torch.randn(2, 3, 96, 96)
    ours = compute_cams(model, batch, ["gradcam"], target=0, layer=layer)
    copy = model._layers["inference_copy"][1]
    assert isinstance(copy, torch.fx.GraphModule)  # the folded copy ran, with every other pair folded
    norms = [
        n.target
        for n in copy.graph.nodes
        if n.op == "call_module" and isinstance(copy.get_submodule(n.target), nn.BatchNorm2d)
    ]
    assert norms == unfolded
    with torch.no_grad():
        expected = model.module.eval()(batch).softmax(1).numpy()
    assert np.abs(ours.probs - expected).max() < 1e-5
    reference = plain_gradcam(model.module, layer, batch, 0)
    for i in range(2):
        assert pearson(ours.raw[i]["gradcam"][0], reference[i]) >= 0.99999, (layer, i)
        assert np.abs(ours.raw[i]["gradcam"][0] - reference[i]).max() <= 1e-4 * np.abs(reference[i]).max()


class BranchingNet(nn.Module):
    """A CNN with BatchNorm that torch.fx cannot trace (its forward branches on a tensor's value)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU())
        self.head = nn.Linear(6, 2)

    def forward(self, x):
        x = self.features(x if x.mean() > -10 else -x)
        return self.head(x.mean(dim=(2, 3)))


def test_untraceable_model_runs_an_unfolded_copy():
    torch.manual_seed(0)
    card = ModelCard(arch="branching", class_names=["a", "b"], input_size=(16, 16), channels=3)
    model = LoadedModel(BranchingNet().eval(), card, torch.device("cpu"))
    _randomise_batchnorm(model.module)
    batch = torch.randn(2, 3, 16, 16)
    ours = compute_cams(model, batch, ["gradcam"], target=1, layer="features.2")
    copy = model._layers["inference_copy"][1]
    assert not isinstance(copy, torch.fx.GraphModule) and isinstance(copy.features[1], nn.BatchNorm2d)
    reference = plain_gradcam(model.module, "features.2", batch, 1)
    for i in range(2):
        np.testing.assert_allclose(ours.raw[i]["gradcam"][1], reference[i], rtol=1e-4, atol=1e-6)


def test_hooks_removed_and_modes_restored_even_on_error():
    model = make_model("resnet18", size=64)
    model.module.train()
    model.module.layer1.eval()  # a mixed state (frozen block) must come back exactly
    before = {name: m.training for name, m in model.module.named_modules()}
    requires = [p.requires_grad for p in model.module.parameters()]

    def hook_count():
        return sum(len(m._forward_hooks) + len(m._backward_hooks) for m in model.module.modules())

    compute_cams(model, torch.randn(2, 3, 64, 64), ["gradcam", "cam"])
    with pytest.raises(CamError):
        compute_cams(model, torch.randn(2, 3, 64, 64), ["gradcam"], target="no-such-class")
    with pytest.raises(CamError):
        compute_cams(model, torch.randn(2, 3, 64, 64), ["gradcam"], layer="fc")  # not a spatial layer
    assert hook_count() == 0
    assert {name: m.training for name, m in model.module.named_modules()} == before
    assert [p.requires_grad for p in model.module.parameters()] == requires
    assert torch.is_grad_enabled()


def test_no_memory_growth_over_many_calls():
    model = make_model("tinyvgg_gap", size=32)
    batch = torch.randn(2, 3, 32, 32)

    def rss_mb():
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * 4096 / 2**20

    for _ in range(100):
        compute_cams(model, batch, ["gradcam", "gradcam++", "cam"], target="all")
    gc.collect()
    start = rss_mb()
    for _ in range(1000):
        compute_cams(model, batch, ["gradcam", "gradcam++", "cam"], target="all")
    gc.collect()
    assert rss_mb() - start < 20


def test_auto_layer_choices():
    expected = {
        "resnet18": "layer4",
        "densenet121": "final_relu",
        "vgg16": "features",
        "tinyvgg_gap": "conv_block_2",
        "vgg16_gap": "conv",
        "squeezenet1_1": "features",  # not the class-score map of its conv head
        "mobilenet_v3_small": "features",
    }
    for arch, layer in expected.items():
        assert auto_layer(make_model(arch, size=64)) == layer, arch
    names = [layer.name for layer in candidate_layers(make_model("resnet18", size=64))]
    assert "layer4.0.relu" not in names  # called twice per block: excluded


def test_layer_override_by_name_and_unknown_layer():
    model = make_model("resnet18", size=64)
    out = compute_cams(model, torch.randn(1, 3, 64, 64), ["gradcam"], layer="layer3")
    assert out.layer == "layer3" and out.raw[0]["gradcam"][out.targets[0][0]].shape == (4, 4)
    with pytest.raises(CamError, match="no layer named"):
        compute_cams(model, torch.randn(1, 3, 64, 64), ["gradcam"], layer="layer9")


def test_upsample_map_sizes_range_and_border_crop():
    raw = np.array([[0.0, 1.0], [-3.0, 2.0]], np.float32)
    up = upsample_map(raw, (50, 80))
    assert up.shape == (50, 80) and up.dtype == np.float32
    assert up.min() == 0.0 and abs(up.max() - 1.0) < 1e-6
    assert up[-1, -1] == up.max() and up[-1, 0] == 0.0  # negative evidence clipped by the ReLU
    card = ModelCard(arch="x", class_names=["a"], input_size=(8, 8), border_crop=0.1)
    cropped = upsample_map(raw, (100, 100), card.placement((100, 100)))
    # the border the model never saw is "not seen" (NaN), not cold (0)
    assert np.isnan(cropped[:10]).all() and np.isnan(cropped[:, -10:]).all()
    assert np.isfinite(cropped[10:90, 10:90]).all() and cropped[10:90, 10:90].max() > 0.99


def test_concurrent_passes_on_one_model_take_turns():
    """The viewer and an export may explain with the same model from two threads at once."""
    from concurrent.futures import ThreadPoolExecutor

    model = make_model("resnet18", size=64)
    batches = [torch.randn(2, 3, 64, 64) for _ in range(6)]
    expected = [compute_cams(model, b, ["gradcam", "cam"]).raw for b in batches]
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda b: compute_cams(model, b, ["gradcam", "cam"]).raw, batches))
    for ours, reference in zip(results, expected):
        for image, ref in zip(ours, reference):
            for method in ("gradcam", "cam"):
                for c in ref[method]:
                    np.testing.assert_allclose(image[method][c], ref[method][c], rtol=1e-5, atol=1e-6)
