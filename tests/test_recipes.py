"""Preprocessing recipes against torchvision's own pipeline, on real-size files read as a user's would be.

Reference for 8-bit files: ``PIL.Image.open(path).convert("RGB")`` -> transforms -> ToTensor -> Normalize.
PIL cannot hold 16-bit colour and its ``convert("RGB")`` clips 16-bit grey at 255, so the reference for
16-bit files is the same transforms on PIL's float images (mode "F", samples / 65535, one per channel):
Pillow's own bilinear filter in float.
"""

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms as T

from camviewer.core.images import read_image
from camviewer.core.model.card import IMAGENET_MEAN, IMAGENET_STD, ModelCard
from camviewer.core.model.loading import new_model
from camviewer.core.preprocess import normalize, to_unit_tensor

RECIPES = {
    "Resize((224, 224))": ({"resize": (224, 224)}, [T.Resize((224, 224))]),
    "Resize(256) + CenterCrop(224)": ({"resize": 256, "crop": 224}, [T.Resize(256), T.CenterCrop(224)]),
    "Resize(224) + CenterCrop(224)": ({"resize": 224, "crop": 224}, [T.Resize(224), T.CenterCrop(224)]),
}


def radiograph(height: int, width: int, channels: int, peak: int, seed: int) -> np.ndarray:
    """Smooth anatomy-like shading, sharp-edged markers and noise: what antialiasing is for."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    shade = 0.5 + 0.3 * np.sin(cols / 97.0) * np.cos(rows / 131.0)
    shade += 0.15 * np.exp(
        -(((rows - height * 0.4) / (height * 0.2)) ** 2 + ((cols - width * 0.6) / (width * 0.15)) ** 2)
    )
    shade[height // 10 : height // 10 + 40, width // 12 : width // 12 + 120] = 0.98  # a burnt-in label
    shade[::37, :] *= 0.9  # fine stripes that alias without a filter
    tints = [1.0, 0.8, 0.6][:channels]
    stack = np.stack([shade * tint for tint in tints], axis=-1)
    stack += rng.normal(0, 0.04, stack.shape)
    array = np.clip(np.rint(stack * peak), 0, peak).astype(np.uint8 if peak == 255 else np.uint16)
    return array[..., 0] if channels == 1 else array


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Grey and RGB, 8- and 16-bit, 1,000-2,000 px, none of them square; written as a user's files."""
    folder = tmp_path_factory.mktemp("recipes")
    made = {}
    for name, (height, width, channels, peak) in {
        "grey8.png": (1210, 1730, 1, 255),
        "rgb8.png": (1500, 1100, 3, 255),
        "grey16.png": (1000, 1870, 1, 65535),
        "rgb16.tif": (1790, 1320, 3, 65535),
    }.items():
        array = radiograph(height, width, channels, peak, seed=len(made))
        path = folder / name
        if channels == 3 and peak == 65535:
            assert cv2.imwrite(str(path), array[..., ::-1])  # PIL cannot write 16-bit colour
        else:
            Image.fromarray(array).save(path)
        made[name] = path
    return made


def reference_unit(path, transforms) -> torch.Tensor:
    """torchvision's pipeline up to ToTensor (C x H x W in [0, 1]); see the module docstring for 16-bit."""
    samples = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)  # only to tell 8 from 16 bits (PIL reads 16-bit RGB as 8)
    if samples.dtype == np.uint8:
        with Image.open(path) as image:
            return T.Compose([*transforms, T.ToTensor()])(image.convert("RGB"))
    assert samples.dtype == np.uint16
    samples = samples[..., ::-1] if samples.ndim == 3 else np.repeat(samples[..., None], 3, axis=2)
    planes = [Image.fromarray((samples[..., c] / 65535).astype(np.float32), "F") for c in range(3)]
    return torch.stack([torch.from_numpy(np.array(T.Compose(transforms)(plane))) for plane in planes])


@pytest.fixture(scope="module")
def resnet18():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = new_model(ModelCard("resnet18", [f"c{i}" for i in range(10)]), "cpu")
    yield model
    torch.set_num_threads(threads)


@pytest.mark.parametrize("recipe", list(RECIPES))
def test_model_inputs_and_outputs_agree_with_torchvision(files, resnet18, recipe):
    options, transforms = RECIPES[recipe]
    card = ModelCard("resnet18", [f"c{i}" for i in range(10)], mean=IMAGENET_MEAN, std=IMAGENET_STD, **options)
    assert card.input_size == (224, 224)
    ours = torch.stack([to_unit_tensor(read_image(path), card) for path in files.values()])
    theirs = torch.stack([reference_unit(path, transforms) for path in files.values()])
    worst = (ours - theirs).abs().amax(dim=(1, 2, 3))
    assert worst.max() <= 2 / 255, dict(zip(files, worst.tolist()))
    with torch.no_grad():
        p_ours = resnet18.module(normalize(ours, card)).softmax(1)
        p_theirs = resnet18.module(T.Normalize(IMAGENET_MEAN, IMAGENET_STD)(theirs)).softmax(1)
    assert (p_ours - p_theirs).abs().max() <= 0.005
    assert (p_theirs.max(1).values - p_theirs.min(1).values).min() > 0.01  # the model does react to its input


def test_the_old_opencv_resize_would_fail_the_same_check(files):
    """The test above can fail: camviewer 0.x's INTER_AREA on floats is not torchvision's resize."""
    options, transforms = RECIPES["Resize((224, 224))"]
    card = ModelCard("resnet18", ["a", "b"], interpolation="area", **options)
    path = files["rgb8.png"]
    difference = (to_unit_tensor(read_image(path), card) - reference_unit(path, transforms)).abs().max()
    assert difference > 2 / 255


def test_grey_models_convert_as_pil_does(files):
    """A grey model fed a colour file: PIL's convert("L") (fixed-point luma), then the resize."""
    card = ModelCard("resnet18", ["a", "b"], channels=1, mean=(0.5,), std=(0.25,), resize=256, crop=224)
    path = files["rgb8.png"]
    with Image.open(path) as image:
        theirs = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor()])(image.convert("L"))
    ours = to_unit_tensor(read_image(path), card)
    assert ours.shape == (1, 224, 224)
    assert (ours - theirs).abs().max() <= 1 / 255 + 1e-6  # one 8-bit step: the resize rounds as PIL does


def test_letterbox_fits_the_whole_image_and_pads_with_black():
    pixels = np.full((300, 600, 3), 200, np.uint8)
    card = ModelCard("resnet18", ["a", "b"], resize=(64, 64), letterbox=True)
    unit = to_unit_tensor(pixels, card)
    # 300 x 600 fits 64 x 64 as 32 x 64, centred: 16 black rows above and below.
    assert unit.shape == (3, 64, 64)
    assert torch.all(unit[:, :16] == 0) and torch.all(unit[:, 48:] == 0)
    assert torch.allclose(unit[:, 16:48], torch.full((3, 32, 64), 200 / 255))


def test_a_small_image_is_padded_as_center_crop_pads():
    pixels = np.random.default_rng(0).integers(0, 256, (50, 80), dtype=np.uint8)
    card = ModelCard("resnet18", ["a", "b"], resize=(40, 60), crop=(48, 48))
    theirs = T.Compose([T.Resize((40, 60)), T.CenterCrop(48), T.ToTensor()])(Image.fromarray(pixels).convert("RGB"))
    assert (to_unit_tensor(pixels, card) - theirs).abs().max() <= 1 / 255 + 1e-6
