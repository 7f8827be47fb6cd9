"""The automatic target layer on every torchvision CNN family, and maps that have nothing to show."""

import numpy as np
import pytest
import torch
from PIL import Image
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn

import camviewer
from camviewer.cli import main
from camviewer.core.cam.display import upsample_map
from camviewer.core.cam.engine import compute_cams
from camviewer.core.cam.layers import auto_layer
from camviewer.core.model.card import ModelCard
from camviewer.core.model.loaded import LoadedModel
from camviewer.core.model.loading import new_model

CLASSES = [f"c{i}" for i in range(3)]

# arch: (input size, the expected automatic layer, the first module of the head), written by hand from
# torchvision's source. SqueezeNet's head is Dropout, a 1x1 conv to the class scores, ReLU, pooling: the
# layer before it is `features`, not the 3-channel class-score map `classifier.2`.
FAMILIES = {
    "alexnet": (128, "features", "avgpool"),
    "vgg11": (64, "features", "avgpool"),
    "resnet18": (64, "layer4", "fc"),
    "resnext50_32x4d": (64, "layer4", "fc"),
    "wide_resnet50_2": (64, "layer4", "fc"),
    "densenet121": (64, "final_relu", "classifier"),
    "squeezenet1_0": (64, "features", "classifier"),
    "squeezenet1_1": (64, "features", "classifier"),
    "mobilenet_v2": (64, "features", "classifier"),
    "mobilenet_v3_small": (64, "features", "avgpool"),
    "mobilenet_v3_large": (64, "features", "avgpool"),
    "efficientnet_b0": (64, "features", "avgpool"),
    "efficientnet_v2_s": (64, "features", "avgpool"),
    "convnext_tiny": (64, "features", "avgpool"),
    "regnet_y_400mf": (64, "trunk_output", "avgpool"),
    "shufflenet_v2_x0_5": (64, "conv5", "fc"),
    "mnasnet0_5": (64, "layers", "classifier"),
    "googlenet": (64, "inception5b", "avgpool"),
    "inception_v3": (107, "Mixed_7c", "avgpool"),
}

pytestmark = [
    pytest.mark.usefixtures("one_thread"),
    pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning"),  # torchvision init notices
]


def pearson(a, b):
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def execution_order(module: nn.Module, batch: torch.Tensor) -> list[str]:
    order = []
    handles = [
        m.register_forward_hook(lambda *_, n=name: order.append(n)) for name, m in module.named_modules() if name
    ]
    with torch.no_grad():
        module(batch)
    for handle in handles:
        handle.remove()
    return order


@pytest.mark.parametrize("arch", list(FAMILIES))
def test_auto_layer_is_the_last_spatial_layer_before_the_head_and_matches_pytorch_grad_cam(arch):
    size, expected, head = FAMILIES[arch]
    torch.manual_seed(0)
    model = new_model(ModelCard(arch, CLASSES, input_size=(size, size)), "cpu")
    batch = torch.randn(2, 3, size, size)
    layer = auto_layer(model)
    assert layer == expected
    order = execution_order(model.module, batch)
    assert order.index(layer) < order.index(head)  # before the head starts
    ours = compute_cams(model, batch, ["gradcam"], target="all")
    assert ours.layer == layer
    activation = {}
    hook = model.module.get_submodule(layer).register_forward_hook(lambda m, i, o: activation.setdefault("a", o))
    with torch.no_grad():
        model.module(batch)
    hook.remove()
    channels, height, width = activation["a"].shape[1:]
    assert height * width > 1 and channels != len(CLASSES)  # spatial, and not the class scores
    compared = 0
    for c in range(len(CLASSES)):  # every class: a random-init net's predicted class may have an empty map
        with GradCAM(model=model.module, target_layers=[model.module.get_submodule(layer)]) as reference:
            theirs = reference(input_tensor=batch, targets=[ClassifierOutputTarget(c)] * len(batch))
        for i in range(len(batch)):
            mine = upsample_map(ours.raw[i]["gradcam"][c], (size, size))
            if mine.max() == 0:  # empty here: empty there too
                assert theirs[i].max() < 1e-6, (arch, i, c)
                continue
            assert pearson(mine, theirs[i]) >= 0.999, (arch, i, c)
            compared += 1
    assert compared >= 2


def dead_class_squeezenet():
    """SqueezeNet whose class c2 always scores 0: its head's ReLU cuts a very negative conv output."""
    torch.manual_seed(0)
    model = new_model(ModelCard("squeezenet1_1", CLASSES, input_size=(64, 64)), "cpu")
    with torch.no_grad():
        model.module.get_submodule("classifier.1").bias[2] = -1e4
    return model


def test_a_class_cut_to_zero_by_the_heads_relu_gives_an_empty_map_that_says_why():
    model = dead_class_squeezenet()
    pixels = np.random.default_rng(0).integers(0, 256, (80, 90, 3), dtype=np.uint8)
    (result,) = camviewer.explain(model, [pixels], methods=("gradcam", "layercam"), target="all")
    assert set(result.empty) == {("gradcam", "c2"), ("layercam", "c2")}
    assert "zero gradient" in result.empty[("gradcam", "c2")]
    assert not np.nanmax(result.maps["gradcam"]["c2"]) > 0  # nothing to show, and it says so


class NegativeEvidence(nn.Module):
    """Two channels at 2x2, pooled, a linear head whose class 0 only weighs channel 1 negatively."""

    def __init__(self):
        super().__init__()
        self.features = nn.Conv2d(3, 2, 1, bias=False)
        self.fc = nn.Linear(2, 2, bias=False)
        with torch.no_grad():
            self.features.weight.copy_(torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]).view(2, 3, 1, 1))
            self.fc.weight.copy_(torch.tensor([[1.0, -2.0], [0.5, 3.0]]))

    def forward(self, x):
        return self.fc(self.features(x).mean(dim=(2, 3)))


def test_a_map_with_no_positive_value_is_flagged_as_empty():
    # Channel 0 is zero, channel 1 positive: Grad-CAM of class 0 is -2 * A1 <= 0 everywhere.
    model = LoadedModel(NegativeEvidence(), ModelCard("hand", ["a", "b"], input_size=(8, 8)), torch.device("cpu"))
    (result,) = camviewer.explain(model, [np.full((4, 4, 3), 0.8, np.float32)], methods=("gradcam",), target="all")
    assert list(result.empty) == [("gradcam", "a")] and "no positive evidence" in result.empty[("gradcam", "a")]


def test_explain_prints_empty_maps_on_stderr(tmp_path, capsys):
    checkpoint = dead_class_squeezenet().save(tmp_path / "squeeze.safetensors")
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (70, 70, 3), dtype=np.uint8)).save(tmp_path / "x.png")
    code = main(
        ["explain", str(tmp_path / "x.png"), "--model", str(checkpoint), "--target", "c2", "--out", str(tmp_path / "o")]
    )
    assert code == 0
    err = capsys.readouterr().err
    assert "x.png: gradcam for c2: empty map" in err and "zero gradient" in err
