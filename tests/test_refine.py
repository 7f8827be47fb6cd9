"""Building enhanced training sets: each mode on real files, the original untouched, nothing overwritten."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from camviewer.cli import main
from camviewer.core.errors import DatasetError
from camviewer.core.jobs import run_to_end
from camviewer.core.model.card import ModelCard
from camviewer.core.model.loading import new_model
from camviewer.core.trust.refine import manifest_border_crop, refine_dataset


@pytest.fixture
def dataset(tmp_path):
    rng = np.random.default_rng(0)
    data = tmp_path / "data"
    for cls in ("normal", "sick"):
        (data / cls).mkdir(parents=True)
        (data / "roi" / cls).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(rng.integers(50, 255, (20, 30, 3), dtype=np.uint8)).save(data / cls / f"{i}.png")
            roi = np.zeros((20, 30), np.uint8)
            roi[5:15, 10:20] = 1
            Image.fromarray(roi * 255).save(data / "roi" / cls / f"{i}.png")
    return data


def snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_roi_mask_mode_keeps_only_the_region(dataset, tmp_path):
    before = snapshot(dataset)
    manifest = run_to_end(refine_dataset(dataset, tmp_path / "new", "roi-mask", roi_masks=dataset / "roi"))
    assert manifest["images"] == 4 and manifest["mode"] == "roi-mask"
    original = np.asarray(Image.open(dataset / "sick" / "1.png"))
    masked = np.asarray(Image.open(tmp_path / "new" / "sick" / "1.png"))
    np.testing.assert_array_equal(masked[5:15, 10:20], original[5:15, 10:20])
    assert masked[:5].max() == 0 and masked[:, :10].max() == 0
    assert snapshot(dataset) == before  # the original is never touched
    assert json.loads((tmp_path / "new" / "refine.json").read_text())["images"] == 4


def test_cam_overlay_mode_weights_pixels_by_their_map(dataset, tmp_path):
    torch.manual_seed(0)
    model = new_model(
        ModelCard(
            arch="tinyvgg_gap", class_names=["normal", "sick"], input_size=(16, 16), arch_options={"widths": [4]}
        ),
        "cpu",
    )
    run_to_end(refine_dataset(dataset, tmp_path / "new", "cam-overlay", model=model, floor=0.25))
    original = np.asarray(Image.open(dataset / "normal" / "0.png")).astype(float)
    weighted = np.asarray(Image.open(tmp_path / "new" / "normal" / "0.png")).astype(float)
    ratio = weighted / np.maximum(original, 1)
    assert ratio.min() >= 0.25 - 0.02 and ratio.max() <= 1.0 + 0.02  # pixels * (floor + (1 - floor) * map)
    assert ratio.max() - ratio.min() > 0.3  # the map actually varies the weight


def test_crop_mode_copies_and_records_the_border(dataset, tmp_path):
    run_to_end(refine_dataset(dataset, tmp_path / "new", "crop", border_crop=0.15))
    assert (tmp_path / "new" / "sick" / "0.png").read_bytes() == (dataset / "sick" / "0.png").read_bytes()
    assert manifest_border_crop(tmp_path / "new") == 0.15


def test_refuses_to_overwrite_or_write_inside_the_dataset(dataset, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    with pytest.raises(DatasetError, match="not empty"):
        run_to_end(refine_dataset(dataset, tmp_path / "busy", "crop"))
    with pytest.raises(DatasetError, match="outside"):
        run_to_end(refine_dataset(dataset, dataset / "enhanced", "crop"))
    assert (tmp_path / "busy" / "keep.txt").read_text() == "mine"


def test_refine_command(dataset, tmp_path, capsys):
    assert (
        main(
            [
                "refine",
                str(dataset),
                "--mode",
                "roi-mask",
                "--roi-masks",
                str(dataset / "roi"),
                "--out",
                str(tmp_path / "new"),
            ]
        )
        == 0
    )
    assert "wrote 4 image(s)" in capsys.readouterr().out
    assert main(["refine", str(dataset), "--mode", "roi-mask", "--out", str(tmp_path / "other")]) == 2
    assert "--roi-masks" in capsys.readouterr().err
