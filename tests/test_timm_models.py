"""timm models (``--arch timm:NAME``): training, loading, explaining, timm's preprocessing, pretrained weights."""

from __future__ import annotations

import numpy as np
import pytest
import timm
import torch
from PIL import Image
from test_datasets import class_folders

from camviewer import explain
from camviewer.cli import main
from camviewer.core.errors import PretrainedWeightsUnavailable, StateDictMismatchError, UnknownArchitecture
from camviewer.core.images import read_image
from camviewer.core.jobs import run_to_end
from camviewer.core.model.archs import build_model
from camviewer.core.model.card import ModelCard
from camviewer.core.model.loading import default_preprocessing, load_model
from camviewer.core.preprocess import normalize, to_unit_tensor
from camviewer.core.training.loop import train
from camviewer.core.training.records import TrainConfig

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.filterwarnings("ignore::UserWarning")]

# name: whether timm builds it for one input size (then it is built for the card's: img_size)
FAMILIES = {
    "vit_tiny_patch16_224": True,
    "deit_tiny_distilled_patch16_224": True,
    "swin_tiny_patch4_window7_224": True,
    "convnext_atto": False,
    "efficientnet_b0": False,
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return class_folders(tmp_path_factory.mktemp("data"), {"blue": 4, "red": 4}, size=48)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_every_family_trains_one_epoch_loads_and_explains(data, tmp_path, name):
    config = TrainConfig(
        data=str(data),
        out=str(tmp_path / "run"),
        arch=f"timm:{name}",
        input_size=(64, 64),
        epochs=1,
        batch_size=4,
        val_split=0.25,
        device="cpu",
        workers=0,
    )
    result = run_to_end(train(config))
    model = load_model(result.best_checkpoint, device="cpu")
    assert model.card.arch == f"timm:{name}" and model.card.input_size == (64, 64)
    image = data / "red" / "red_0.png"
    (explained,) = explain(model, [image], methods=("gradcam", "eigencam"))
    gradcam = explained.maps["gradcam"][explained.predicted]
    assert gradcam.shape == (48, 48) and np.isfinite(gradcam).all() and 0.99 < gradcam.max() <= 1.0
    assert not explained.empty
    with torch.no_grad():  # the checkpoint is timm's own model, with timm's own names
        reference = timm.create_model(name, num_classes=2, **({"img_size": 64} if FAMILIES[name] else {}))
        reference.load_state_dict(model.module.state_dict())
        batch = model.to_batch([read_image(image)])
        assert torch.allclose(reference.eval()(batch), model.module(batch), atol=1e-5)


def write_photo(path, height=375, width=500, seed=0):
    """An 8-bit RGB photo-like image (smooth shading, sharp edges, noise), not square."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    shade = 0.5 + 0.3 * np.sin(cols / 23.0) * np.cos(rows / 31.0)
    shade[40:90, 60:200] = 0.95
    image = np.stack([shade, shade * 0.8, 1 - shade], axis=-1) + rng.normal(0, 0.03, (height, width, 3))
    Image.fromarray(np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)).save(path)
    return path


@pytest.mark.parametrize(
    "name",
    [
        "vit_tiny_patch16_224",  # bicubic, crop_pct 0.9, mean/std 0.5
        "convnext_atto",  # bicubic, crop_pct 0.95, ImageNet mean/std
        "dla34",  # bilinear, crop_pct 0.875
        "coat_lite_medium_384",  # "squash": both sides stretched to 384 / crop_pct, then a centre crop
    ],
)
def test_the_card_feeds_the_model_what_timms_own_transform_does(tmp_path, name):
    arch = f"timm:{name}"
    card = ModelCard(arch, ["a", "b"], **default_preprocessing(arch, 3))
    config = timm.data.resolve_data_config({}, pretrained_cfg=timm.get_pretrained_cfg(name).to_dict())
    reference = timm.data.create_transform(**config)
    for seed, (height, width) in enumerate([(375, 500), (640, 427)]):
        path = write_photo(tmp_path / f"photo{seed}.png", height, width, seed)
        ours = normalize(to_unit_tensor(read_image(path), card), card)
        with Image.open(path) as image:
            theirs = reference(image.convert("RGB"))
        assert ours.shape == theirs.shape == (3, *config["input_size"][1:])
        # one rounding step of PIL's 8-bit filters, after normalisation
        assert (ours - theirs).abs().max() <= 2 / 255 / min(config["std"]), (name, seed)


def test_a_bare_timm_state_dict_loads_with_its_arch_strictly(tmp_path, capsys):
    torch.manual_seed(0)
    reference = timm.create_model("vit_tiny_patch16_224", num_classes=4).eval()
    path = tmp_path / "vit.pth"
    torch.save({"model": reference.state_dict()}, path)
    model = load_model(path, arch="timm:vit_tiny_patch16_224", device="cpu")
    card = model.card
    assert (card.num_classes, card.resize, card.crop, card.interpolation) == (4, 248, (224, 224), "bicubic")
    assert card.mean == card.std == (0.5, 0.5, 0.5)  # timm's config for this model, not ImageNet's
    batch = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert torch.allclose(model.module(batch), reference(batch), atol=1e-5)
    with pytest.raises(StateDictMismatchError) as mismatch:
        load_model(path, arch="timm:vit_small_patch16_224", device="cpu")
    assert any(key.startswith("patch_embed.proj.weight") for key in mismatch.value.wrong_shape)
    with pytest.raises(UnknownArchitecture):
        load_model(path, arch="timm:no_such_model", device="cpu")
    assert main(["info", str(path), "--arch", "timm:vit_tiny_patch16_224", "--layers"]) == 0
    assert '"auto_layer": "blocks.11.norm1"' in capsys.readouterr().out


TIMM_VIT = "timm:vit_tiny_patch16_224"
HUB_ID = "timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k"  # timm's default weights for it


def imagenet_weights(path):
    torch.manual_seed(3)
    state = timm.create_model("vit_tiny_patch16_224", num_classes=1000).state_dict()
    from safetensors.torch import save_file

    save_file(state, str(path))
    return state


def test_pretrained_weights_from_a_file_go_through_timms_loader(tmp_path):
    state = imagenet_weights(tmp_path / "weights.safetensors")
    model = build_model(TIMM_VIT, 3, input_size=(64, 64), weights_file=tmp_path / "weights.safetensors")
    mine = model.state_dict()
    assert torch.equal(mine["blocks.0.attn.qkv.weight"], state["blocks.0.attn.qkv.weight"])
    assert mine["head.weight"].shape == (3, 192)  # a fresh classifier for our classes
    assert mine["pos_embed"].shape == (1, 1 + 16, 192)  # 14 x 14 positions resampled to 4 x 4 by timm


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """An empty Hugging Face cache, offline: nothing is downloaded."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return tmp_path / "hub"


def test_pretrained_weights_from_the_hugging_face_cache(hub_cache):
    snapshot = hub_cache / f"models--{HUB_ID.replace('/', '--')}" / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    state = imagenet_weights(snapshot / "model.safetensors")
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text("0123abcd")
    model = build_model(TIMM_VIT, 2, channels=1, pretrained=True)
    first = model.state_dict()["patch_embed.proj.weight"]
    assert torch.allclose(first, state["patch_embed.proj.weight"].sum(dim=1, keepdim=True))  # grey: summed over RGB


def test_offline_without_weights_is_a_typed_error_with_where_to_put_them(hub_cache, data, tmp_path, capsys):
    with pytest.raises(PretrainedWeightsUnavailable) as offline:
        build_model(TIMM_VIT, 2, pretrained=True)
    assert offline.value.cached_path == hub_cache / f"models--{HUB_ID.replace('/', '--')}"
    assert offline.value.url == f"https://huggingface.co/{HUB_ID}"
    args = ["train", str(data), "--arch", TIMM_VIT, "--input-size", "32", "--epochs", "1", "--pretrained"]
    assert main([*args, "--device", "cpu", "--out", str(tmp_path / "a")]) == 1
    err = capsys.readouterr().err
    assert f"(copy models--{HUB_ID.replace('/', '--')} into {hub_cache}, or add --allow-random-init" in err
    with pytest.raises(PretrainedWeightsUnavailable, match="timm has no pretrained weights"):
        build_model("timm:botnet50ts_256", 2, pretrained=True)
    with pytest.raises(UnknownArchitecture):
        build_model("timm:vit_tiny_patch16_224.no_such_tag", 2, pretrained=True)
