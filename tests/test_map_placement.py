"""Maps go back onto the original image through the exact inverse of the recipe; unseen pixels stay "not seen"."""

import json

import cv2
import numpy as np
import pytest
import torch

import camviewer
from camviewer.cli import main
from camviewer.core import overlay
from camviewer.core.cam.display import upsample_map
from camviewer.core.images import read_image
from camviewer.core.model.card import IMAGENET_MEAN, IMAGENET_STD, ModelCard
from camviewer.core.model.loading import load_model, new_model
from camviewer.core.paths import demo_model_path, resource_path
from camviewer.core.preprocess import to_unit_tensor
from camviewer.core.trust.dataset import score_map
from camviewer.core.trust.groundtruth import Region

pytestmark = pytest.mark.usefixtures("one_thread")


def test_a_centre_cropped_model_sees_the_hand_computed_region():
    # 1000 x 1500, Resize(256): 256 x 384 (scale 0.256); CenterCrop(224) starts at row 16, column 80.
    # Input row i comes from original rows whose centres y + 0.5 lie in [(16 - 0.5 + 0.5) / 0.256, ...):
    # rows 62..936 and columns 312..1186 are seen.
    card = ModelCard("resnet18", ["a", "b"], resize=256, crop=224)
    placed = upsample_map(np.random.default_rng(0).random((7, 7)), (1000, 1500), card.placement((1000, 1500)))
    seen_rows = np.flatnonzero(~np.isnan(placed).all(axis=1))
    seen_cols = np.flatnonzero(~np.isnan(placed).all(axis=0))
    assert (seen_rows[0], seen_rows[-1], seen_cols[0], seen_cols[-1]) == (62, 936, 312, 1186)
    assert np.isnan(placed).sum() == 1000 * 1500 - 875 * 875
    inside = placed[62:937, 312:1187]
    assert np.isfinite(inside).all() and inside.min() == 0 and abs(inside.max() - 1) < 1e-6


def test_a_stretch_is_opencvs_bilinear_resize_and_a_border_crop_is_not_seen():
    raw = np.random.default_rng(1).normal(size=(7, 9)).astype(np.float32)

    def expected(size):
        resized = cv2.resize(np.maximum(raw, 0), size[::-1], interpolation=cv2.INTER_LINEAR)
        return (resized - resized.min()) / (resized.max() - resized.min())

    stretch = ModelCard("resnet18", ["a", "b"], input_size=(224, 224))
    assert np.abs(upsample_map(raw, (301, 517), stretch.placement((301, 517))) - expected((301, 517))).max() < 1e-5
    cropped = ModelCard("resnet18", ["a", "b"], input_size=(224, 224), border_crop=0.1)
    placed = upsample_map(raw, (300, 500), cropped.placement((300, 500)))  # the model saw rows 30..269, cols 50..449
    assert np.isnan(placed[:30]).all() and np.isnan(placed[270:]).all() and np.isnan(placed[:, :50]).all()
    assert np.abs(placed[30:270, 50:450] - expected((240, 400))).max() < 1e-5


def disk_image(height, width, centre, radius):
    rows, cols = np.mgrid[0:height, 0:width]
    inside = (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius**2
    return np.where(inside, 230, 20).astype(np.uint8)


def centroid(weights):
    rows, cols = np.mgrid[0 : weights.shape[0], 0 : weights.shape[1]]
    total = np.nansum(weights)
    return np.nansum(rows * weights) / total, np.nansum(cols * weights) / total


@pytest.mark.parametrize(
    "recipe",
    [
        {"resize": 256, "crop": 224},
        {"resize": (200, 120), "crop": (160, 100), "border_crop": 0.05},
        {"resize": (128, 128), "letterbox": True},
        {"input_size": (96, 160)},
    ],
)
def test_forward_then_inverse_puts_a_spot_back_where_it_was(recipe):
    """torchvision moves the spot into the model input; the inverse must bring it back to the same pixels."""
    image = disk_image(1100, 1700, centre=(610, 790), radius=60)
    card = ModelCard("resnet18", ["a", "b"], **recipe)
    unit = to_unit_tensor(image, card)[0].numpy()  # what the model sees, as a "map" at input resolution
    placed = upsample_map(unit, image.shape, card.placement(image.shape))
    seen = ~np.isnan(placed)
    assert seen[610, 790]
    spot = np.where(placed > 0.5, placed, 0)
    row, col = centroid(spot)
    assert abs(row - 610) < 1.5 and abs(col - 790) < 1.5
    truth = image[seen] > 128
    assert (placed[seen] > 0.5)[truth].mean() > 0.95 and (placed[seen] > 0.5)[~truth].mean() < 0.01


@pytest.fixture(scope="module")
def cropped_model():
    torch.manual_seed(0)
    card = ModelCard("resnet18", ["left", "right"], resize=96, crop=64, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    return new_model(card, "cpu")


def test_explain_marks_what_a_cropped_model_did_not_see(cropped_model):
    pixels = np.random.default_rng(2).integers(0, 256, (300, 480, 3), dtype=np.uint8)
    (result,) = camviewer.explain(cropped_model, [pixels], methods=("gradcam",))
    map01 = result.maps["gradcam"][result.predicted]
    seen = ~np.isnan(map01)
    # Resize(96): 96 x 153 (scales 96/300 and 153/480); CenterCrop(64) keeps rows 16..79 and columns 44..107
    # (round(44.5) = 44) of it. Seen: centres y + 0.5 in [16 / 0.32, 80 / 0.32) = [50, 250) and
    # x + 0.5 in [44 * 480 / 153, 108 * 480 / 153) = [138.04, 338.82).
    assert np.array_equal(np.flatnonzero(seen.any(axis=1))[[0, -1]], [50, 249])
    assert np.array_equal(np.flatnonzero(seen.any(axis=0))[[0, -1]], [138, 338])
    drawn = overlay.overlay(pixels / 255.0, map01, "jet", 0.5)
    cold = overlay.blend(pixels, overlay.colorize(np.zeros_like(map01)), 0.5)
    assert np.array_equal(drawn[seen], overlay.blend(pixels, overlay.colorize(map01), 0.5)[seen])
    unseen_off_stripe = ~seen & ((np.add.outer(np.arange(300), np.arange(480)) % overlay.NOT_SEEN_STRIPE) >= 2)
    assert np.array_equal(drawn[unseen_off_stripe], (pixels[unseen_off_stripe] * 0.35).astype(np.uint8))
    assert (drawn[~seen] != cold[~seen]).any(axis=1).mean() > 0.99  # never drawn as "cold"


def test_localization_ignores_pixels_the_model_did_not_see():
    map01 = np.full((10, 10), np.nan, np.float32)
    map01[2:8, 2:8] = 0.0
    map01[3, 3] = 1.0  # the peak
    outside = Region(boxes=[(8, 8, 2, 2)])  # only in the unseen border
    assert score_map(map01, outside, None, 0.5, 0.0)["pointing_hit"] is None
    straddling = Region(boxes=[(0, 0, 4, 4)])  # seen part: rows/cols 2..3, which holds the peak
    scores = score_map(map01, straddling, None, 0.5, 0.0)
    assert scores["pointing_hit"] is True
    assert scores["iou"] == pytest.approx(1 / 4)  # the map's one hot pixel against the 2 x 2 seen part
    assert scores["box_iou"] == pytest.approx(1 / 4)  # box (3, 3, 1, 1) against the clipped box (2, 2, 2, 2)
    assert scores["energy_in_region"] == pytest.approx(1.0)


def test_version_1_cards_keep_the_resize_their_models_were_trained_with():
    """weights/demo.safetensors was trained by camviewer 0.x: INTER_AREA on floats, as written below."""
    model = load_model(demo_model_path(), device="cpu")
    assert model.card.interpolation == "area" and model.card.resize is None
    path = next(resource_path("samples").glob("parasitized_*.png"))
    pixels = read_image(path).pixels
    resized = cv2.resize(pixels, (96, 96), interpolation=cv2.INTER_AREA)
    batch = (torch.from_numpy(resized.transpose(2, 0, 1))[None] - torch.tensor(model.card.mean).view(1, 3, 1, 1)) / (
        torch.tensor(model.card.std).view(1, 3, 1, 1)
    )
    with torch.no_grad():
        expected = model.module(batch).softmax(1).numpy()
    assert np.abs(model.predict([read_image(path)]) - expected).max() < 1e-6
    # Saved again, the card says so explicitly (version 2, interpolation "area").
    assert model.card.to_dict()["card_version"] == 2 and model.card.to_dict()["interpolation"] == "area"


def test_the_card_refuses_recipes_without_a_fixed_input_size_and_round_trips():
    with pytest.raises(ValueError, match="aspect ratio"):
        ModelCard("resnet18", ["a", "b"], resize=256)
    with pytest.raises(ValueError, match="disagrees"):
        ModelCard("resnet18", ["a", "b"], resize=256, crop=224, input_size=(96, 96))
    card = ModelCard("resnet18", ["a", "b"], resize=256, crop=(224, 200), interpolation="bicubic")
    assert ModelCard.from_json(card.to_json()) == card
    assert card.input_size == (224, 200)
    stretched = card.with_recipe(input_size=(64, 64))
    assert (stretched.resize, stretched.crop, stretched.input_size, stretched.interpolation) == (
        None,
        None,
        (64, 64),
        "bicubic",
    )


def test_cli_recipe_flags(tmp_path, capsys):
    import torchvision

    torch.save(torchvision.models.resnet18(num_classes=2).state_dict(), tmp_path / "r.pth")
    assert main(["info", str(tmp_path / "r.pth"), "--resize", "256", "--crop", "224"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert (card["resize"], card["crop"], card["input_size"], card["interpolation"]) == (
        256,
        [224, 224],
        [224, 224],
        "bilinear",
    )
    assert main(["info", str(tmp_path / "r.pth"), "--resize", "96x128", "--letterbox"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert (card["resize"], card["letterbox"], card["input_size"]) == ([96, 128], True, [96, 128])
    for bad in (["--resize", "256"], ["--crop", "224"], ["--input-size", "96", "--resize", "128x128"]):
        with pytest.raises(SystemExit) as stopped:
            main(["info", str(tmp_path / "r.pth"), *bad])
        assert stopped.value.code == 2
        assert "--" in capsys.readouterr().err
