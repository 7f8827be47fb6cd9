"""`camviewer explain` / `camviewer info` and the Python API, on real files and a real checkpoint."""

import csv
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

import camviewer
from camviewer.cli import main
from camviewer.core.model.card import ModelCard
from camviewer.core.model.loading import new_model

CLASSES = ["normal", "pneumonia", "effusion"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    card = ModelCard(arch="tinyvgg_gap", class_names=CLASSES, input_size=(32, 32), arch_options={"widths": [4, 8]})
    return new_model(card, device="cpu").save(tmp_path_factory.mktemp("model") / "model.safetensors")


@pytest.fixture
def image_folder(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "images"
    (folder / "sub").mkdir(parents=True)
    Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(folder / "a.png")
    Image.fromarray(rng.integers(0, 255, (50, 30), dtype=np.uint8)).save(folder / "b.jpg")
    Image.fromarray((rng.random((20, 25)) * 65535).astype(np.uint16)).save(folder / "sub" / "c16.tif")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (folder / "notes.txt").write_text("not an image, not listed")
    return folder


def read_predictions(out):
    with open(out / "predictions.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_explain_folder_writes_the_documented_layout(image_folder, checkpoint, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(
        [
            "explain",
            str(image_folder),
            "--model",
            str(checkpoint),
            "--method",
            "gradcam,layercam",
            "--out",
            str(out),
            "--batch-size",
            "2",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0
    assert "broken.png" in captured.err  # reported, skipped, the rest still processed
    rows = read_predictions(out)
    assert list(rows[0]) == ["path", "predicted", *[f"p_{c}" for c in CLASSES], "stem"]
    assert sorted(r["path"] for r in rows) == [str(image_folder / n) for n in ("a.png", "b.jpg", "sub/c16.tif")]
    sizes = {"a": (40, 60), "b": (50, 30), "sub~c16": (20, 25)}  # stems: the path under the folder given
    for row in rows:
        probs = [float(row[f"p_{c}"]) for c in CLASSES]
        assert abs(sum(probs) - 1) < 1e-4 and row["predicted"] == CLASSES[int(np.argmax(probs))]
        stem = row["stem"]
        for method in ("gradcam", "layercam"):
            name = f"{stem}__{method}__{row['predicted']}"
            heat = np.load(out / "maps" / f"{name}.npy")
            assert heat.dtype == np.float32 and heat.shape == sizes[stem]
            assert heat.min() >= 0 and heat.max() <= 1
            overlay = np.asarray(Image.open(out / "overlays" / f"{name}.png"))
            assert overlay.shape == (*sizes[stem], 3)


def test_an_overlay_png_holds_exactly_the_jet_heatmap_blended_half_over_the_image(image_folder, checkpoint, tmp_path):
    # Independent of camviewer's drawing: OpenCV's jet of the saved map rounded to 8 bits, averaged with the
    # image's own pixels (round half to even), read back with Pillow. PNG is lossless: any encoder setting
    # must give these exact pixels.
    out = tmp_path / "out"
    assert main(["explain", str(image_folder / "a.png"), "--model", str(checkpoint), "--out", str(out)]) == 0
    (row,) = read_predictions(out)
    name = f"a__gradcam__{row['predicted']}"
    heat8 = np.rint(np.load(out / "maps" / f"{name}.npy").astype(np.float64) * 255).astype(np.uint8)
    jet = cv2.applyColorMap(heat8, cv2.COLORMAP_JET)[:, :, ::-1].astype(np.float64)
    image = np.asarray(Image.open(image_folder / "a.png")).astype(np.float64)
    expected = np.rint(0.5 * jet + 0.5 * image).astype(np.uint8)
    assert np.array_equal(np.asarray(Image.open(out / "overlays" / f"{name}.png")), expected)


def test_explain_all_targets_gives_one_map_per_class(image_folder, checkpoint, tmp_path):
    out = tmp_path / "all"
    assert (
        main(["explain", str(image_folder / "a.png"), "--model", str(checkpoint), "--target", "all", "--out", str(out)])
        == 0
    )
    assert sorted(p.name for p in (out / "maps").iterdir()) == sorted(f"a__gradcam__{c}.npy" for c in CLASSES)
    assert (
        main(
            [
                "explain",
                str(image_folder / "a.png"),
                "--model",
                str(checkpoint),
                "--target",
                "2",
                "--out",
                str(tmp_path / "idx"),
            ]
        )
        == 0
    )
    assert [p.name for p in (tmp_path / "idx" / "maps").iterdir()] == ["a__gradcam__effusion.npy"]


def test_exit_codes(image_folder, checkpoint, tmp_path, capsys):
    assert (
        main(["explain", str(image_folder / "broken.png"), "--model", str(checkpoint), "--out", str(tmp_path / "x")])
        == 1
    )
    assert (
        main(
            [
                "explain",
                str(image_folder),
                "--model",
                str(checkpoint),
                "--method",
                "magic",
                "--out",
                str(tmp_path / "y"),
            ]
        )
        == 2
    )
    assert (
        main(
            ["explain", str(image_folder), "--model", str(checkpoint), "--target", "nope", "--out", str(tmp_path / "z")]
        )
        == 2
    )
    assert main(["explain", str(image_folder), "--model", str(tmp_path / "missing.pt")]) == 1
    with pytest.raises(SystemExit) as usage:
        main(["explain", str(image_folder)])  # --model is required
    assert usage.value.code == 2
    assert "no such checkpoint" in capsys.readouterr().err


def test_info_prints_the_card_as_json(checkpoint, capsys):
    assert main(["info", str(checkpoint), "--layers"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["class_names"] == CLASSES and card["arch"] == "tinyvgg_gap"
    assert card["auto_layer"] == "conv_block_2"


def test_info_for_a_bare_state_dict_with_class_names(tmp_path, capsys):
    import torchvision

    torch.save(torchvision.models.resnet18(num_classes=2).state_dict(), tmp_path / "r.pth")
    assert main(["info", str(tmp_path / "r.pth"), "--classes", "benign,malignant"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert (card["arch"], card["class_names"], card["input_size"]) == ("resnet18", ["benign", "malignant"], [224, 224])


def test_python_api(image_folder, checkpoint):
    model = camviewer.load_model(checkpoint, device="cpu")
    assert model.card.class_names == CLASSES and model.card.input_size == (32, 32)
    array = np.random.default_rng(1).random((33, 44)).astype(np.float32)
    results = camviewer.explain(model, [image_folder / "a.png", array], methods=("gradcam", "cam"), target="pred")
    assert len(results) == 2
    assert set(results[0].probs) == set(CLASSES)
    assert results[1].maps["cam"][results[1].predicted].shape == (33, 44)
    # raw maps stay at layer resolution: a 32x32 input through two 2x2 max-pools
    assert results[0].raw["gradcam"][results[0].predicted].shape == (8, 8)


def test_cli_entry_point_runs_as_a_module():
    result = subprocess.run([sys.executable, "-m", "camviewer", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == f"camviewer {camviewer.__version__}"


def test_explain_with_method_settings_writes_what_the_api_computes(image_folder, checkpoint, tmp_path, capsys):
    out = tmp_path / "settings"
    args = ["explain", str(image_folder / "a.png"), "--model", str(checkpoint), "--out", str(out)]
    chosen = [
        "--method",
        "occlusion,finercam",
        "--method-option",
        "occlusion_window=8",
        "--method-option",
        "finer-alpha=0.5",
    ]
    assert main([*args, *chosen]) == 0
    model = camviewer.load_model(checkpoint, device="cpu")
    settings = camviewer.MethodSettings(occlusion_window=8, finer_alpha=0.5)
    (api,) = camviewer.explain(model, [image_folder / "a.png"], ("occlusion", "finercam"), settings=settings)
    (default,) = camviewer.explain(model, [image_folder / "a.png"], ("occlusion",))
    for method in ("occlusion", "finercam"):
        written = np.load(out / "maps" / f"a__{method}__{api.predicted}.npy")
        np.testing.assert_allclose(written, api.maps[method][api.predicted], atol=1e-6)
    assert not np.allclose(api.maps["occlusion"][api.predicted], default.maps["occlusion"][default.predicted])
    assert main([*args, "--method-option", "ig_steps=0"]) == 2
    assert main([*args, "--method-option", "steps=5"]) == 2
    assert "ig_steps" in capsys.readouterr().err  # the known names are listed
