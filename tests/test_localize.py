"""Localization scores on hand-built maps, masks and boxes; ground-truth readers; the localize command."""

import csv
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from camviewer.core.explain.records import ExplainResult
from camviewer.core.jobs import Progress, run_to_end
from camviewer.core.trust import scoring
from camviewer.core.trust.chance import summarize
from camviewer.core.trust.dataset import ImageEntry
from camviewer.core.trust.groundtruth import MaskFolder, Region, load_ground_truth
from camviewer.core.trust.localization import (
    binarize,
    box_iou,
    boxes_to_mask,
    dice,
    energy_inside,
    iou,
    largest_component_box,
    pointing_hit,
)
from camviewer.core.trust.scoring import localize_dataset, score_map


def square_mask(shape=(10, 10), top=2, left=3, size=3):
    mask = np.zeros(shape, bool)
    mask[top : top + size, left : left + size] = True
    return mask


def test_pointing_game_hits_misses_tolerance_and_negatives():
    mask = square_mask()  # rows 2-4, cols 3-5
    heat = np.zeros((10, 10), np.float32)
    heat[3, 4] = 1.0
    assert pointing_hit(heat, mask) is True
    heat[:] = 0
    heat[3, 8] = 1.0  # 3 columns right of the region's edge (col 5)
    assert pointing_hit(heat, mask) is False
    assert pointing_hit(heat, mask, tolerance=2.9) is False
    assert pointing_hit(heat, mask, tolerance=3.0) is True
    heat[:] = 0
    heat[8, 8] = 1.0  # diagonal: (8-4, 8-5) = (4, 3) -> distance 5
    assert pointing_hit(heat, mask, tolerance=4.9) is False and pointing_hit(heat, mask, tolerance=5.0) is True
    assert pointing_hit(heat, np.zeros((10, 10), bool)) is None  # nothing to point at


def test_overlap_scores_by_hand():
    a = square_mask(size=4)  # 16 pixels
    b = square_mask(top=4, size=4)  # 16 pixels, overlapping 2 rows x 4 cols = 8
    assert iou(a, b) == pytest.approx(8 / 24)
    assert dice(a, b) == pytest.approx(16 / 32)
    assert iou(np.zeros((3, 3), bool), np.zeros((3, 3), bool)) is None
    assert box_iou((0, 0, 4, 4), (2, 2, 4, 4)) == pytest.approx(4 / 28)
    assert box_iou((0, 0, 2, 2), (5, 5, 2, 2)) == 0.0
    assert box_iou((1, 1, 3, 3), (1, 1, 3, 3)) == 1.0


def test_thresholds_fraction_of_max_and_otsu():
    heat = np.array([[0.0, 0.1, 0.5], [0.19, 0.2, 1.0]], np.float32)
    np.testing.assert_array_equal(binarize(heat, 0.2), [[False, False, True], [False, True, True]])
    np.testing.assert_array_equal(binarize(heat * 0.5, 0.2), binarize(heat, 0.2))  # relative to the maximum
    bimodal = np.zeros((20, 20), np.float32)
    bimodal[:10] = 0.1
    bimodal[10:] = 0.9
    bimodal[0, 0] = 0.12
    np.testing.assert_array_equal(binarize(bimodal, "otsu")[10:], True)
    assert not binarize(bimodal, "otsu")[:10].any()
    assert not binarize(np.full((4, 4), 0.5, np.float32), "otsu").any()


def test_energy_and_boxes():
    heat = np.zeros((4, 4), np.float32)
    heat[0, 0], heat[3, 3] = 3.0, 1.0
    region = np.zeros((4, 4), bool)
    region[:2, :2] = True
    assert energy_inside(heat, region) == pytest.approx(0.75)
    assert energy_inside(np.zeros((4, 4)), region) is None
    mask = np.zeros((12, 12), bool)
    mask[1:3, 1:3] = True  # 4 px
    mask[5:10, 6:9] = True  # 15 px: the largest
    assert largest_component_box(mask) == (6, 5, 3, 5)
    np.testing.assert_array_equal(
        boxes_to_mask([(6, 5, 3, 5)], (12, 12)), np.pad(np.ones((5, 3), bool), ((5, 2), (6, 3)))
    )


def test_score_map_combines_everything():
    mask = square_mask()
    heat = np.zeros((10, 10), np.float32)
    heat[2:5, 3:6] = 1.0  # exactly the region
    heat[9, 9] = 0.1  # a faint spot below the 20% threshold, still energy outside
    region = Region(mask=mask, boxes=[(3, 2, 3, 3)])
    roi = np.zeros((10, 10), bool)
    roi[:5] = True
    scores = score_map(heat, region, roi, threshold=0.2, tolerance=0)
    assert scores["pointing_hit"] is True
    assert scores["iou"] == 1.0 and scores["dice"] == 1.0 and scores["box_iou"] == 1.0
    assert scores["energy_in_region"] == pytest.approx(9 / 9.1)
    assert scores["energy_in_roi"] == pytest.approx(9 / 9.1)
    negative = score_map(heat, None, roi, threshold=0.2, tolerance=0)
    assert negative["pointing_hit"] is None and negative["iou"] is None and negative["energy_in_roi"] is not None


def test_summary_means_only_where_scores_apply():
    from camviewer.core.trust.scoring import LocalizationRow

    def row(path, cls, region, hit, iou, dice, energy, roi, chance=None):
        scores = {"pointing_hit": hit, "iou": iou, "dice": dice, "box_iou": None, "energy_in_region": energy}
        chances = {f"chance_{name}": chance for name in ("pointing_hit", "iou", "dice", "energy_in_region")}
        threshold = 0.2 if region else None
        return LocalizationRow(
            path, "gradcam", cls, cls, cls, region, threshold, energy_in_roi=roi, **scores, **chances
        )

    rows = [
        row("a", "x", True, True, 0.5, 0.6, 0.7, None, 0.1),
        row("b", "x", True, False, 0.1, 0.2, 0.3, None, 0.3),
        row("c", "y", False, None, None, None, None, 0.4),
    ]
    summary = summarize(rows, ["gradcam"])["gradcam"]
    assert summary["images"] == 3 and summary["maps"] == 3 and summary["with_region"] == 2
    assert summary["pointing_game"] == 0.5 and summary["iou"] == pytest.approx(0.3)
    assert summary["energy_in_roi"] == pytest.approx(0.4) and summary["box_iou"] is None
    assert summary["chance_pointing_game"] == pytest.approx(0.2) and summary["chance_iou"] == pytest.approx(0.2)
    assert summary["chance_energy_in_roi"] is None  # no chance value known for the ROI rows here
    # one hit in two images with chances 0.1 and 0.3: P(hits >= 1) = 1 - 0.9 * 0.7
    assert summary["pointing_game_p"] == pytest.approx(1 - 0.9 * 0.7)
    assert summary["beats_chance"] is False


def tuned_threshold_case():
    """A 10 x 10 map and mask whose IoU is best at 30% of the map's maximum, worked out by hand.

    Mask: rows 2-5, cols 2-5 (16 px), also given as the box (2, 2, 4, 4). Map: 1.0 on rows 2-4 x cols 2-5
    (12 px, in the mask), 0.42 on row 5 x cols 2-7 (4 px in the mask, 2 outside), 0.27 on rows 6-7 x cols 2-7.
    Thresholds 0.05-0.25 keep 30 px (IoU 16/30), 0.30-0.40 keep 18 px (IoU 16/18, the best; 0.30 comes
    first), 0.45 and above keep the 12 px of 1.0 (IoU 12/16).
    """
    mask = np.zeros((10, 10), bool)
    mask[2:6, 2:6] = True
    heat = np.zeros((10, 10), np.float32)
    heat[2:5, 2:6] = 1.0
    heat[5, 2:8] = 0.42
    heat[6:8, 2:8] = 0.27
    return heat, Region(mask=mask, boxes=[(2, 2, 4, 4)], label="lesion")


def test_tuned_threshold_applies_to_every_thresholded_score(monkeypatch):
    heat, region = tuned_threshold_case()

    def explain_iter(model, paths, methods, targets, **options):
        for done, path in enumerate(paths, start=1):
            maps = {"gradcam": {"lesion": heat}}
            yield Progress(done, len(paths), str(path), ExplainResult(str(path), (10, 10), {}, "lesion", "", maps))

    monkeypatch.setattr(scoring, "explain_iter", explain_iter)
    monkeypatch.setattr(scoring, "inapplicable_methods", lambda model, methods, layer: {})
    model = SimpleNamespace(card=SimpleNamespace(class_names=["lesion"]))
    truth = SimpleNamespace(region=lambda key: region, labels_of=lambda key: ["lesion"])
    entries = [
        ImageEntry(Path(f"{name}.png"), f"{name}.png", "lesion") for name in ("a", "b")
    ]  # one tunes, one reports
    result = run_to_end(localize_dataset(model, entries, truth, ["gradcam"], threshold="tuned"))

    assert result["thresholds"] == {"gradcam/lesion": 0.3}
    reported = [row for row in result["rows"] if row.threshold == 0.3]
    assert len(reported) == 1
    # At 0.30 the binarized map is rows 2-4 x cols 2-5 plus row 5 x cols 2-7: 18 px, 16 of them in the mask;
    # its one component spans x 2-7, y 2-5: the box (2, 2, 6, 4), 24 px, 16 shared with the true box.
    expected = {
        "iou": 16 / 18,
        "dice": 2 * 16 / (18 + 16),
        "box_iou": 16 / 24,
        "pointing_game": 1.0,  # the first maximum, (2, 2), is in the mask
        "energy_in_region": (12 * 1.0 + 4 * 0.42) / (12 * 1.0 + 6 * 0.42 + 12 * 0.27),
    }
    summary = result["summary"]["gradcam"]
    assert summary["images"] == 1 and summary["with_region"] == 1
    for score, value in expected.items():
        assert summary[score] == pytest.approx(value, rel=1e-6), score
    # The fixed default (0.2) keeps the 0.27 band too: 30 px, the box (2, 2, 6, 6): other numbers entirely.
    fixed = score_map(heat, region, None, 0.2, 0.0)
    assert fixed["dice"] == pytest.approx(32 / 46) and fixed["box_iou"] == pytest.approx(16 / 36)


def test_mask_folder_mirrors_relative_paths(tmp_path):
    (tmp_path / "masks" / "sick").mkdir(parents=True)
    mask = np.zeros((6, 8), np.uint8)
    mask[1:3, 2:5] = 255
    Image.fromarray(mask).save(tmp_path / "masks" / "sick" / "img1.png")
    folder = MaskFolder(tmp_path / "masks")
    region = folder.region("sick/img1.jpg")  # the image may be a JPEG; the mask has the same stem
    assert region.label == "sick" and region.mask.sum() == 6 and region.mask[1, 2]
    assert folder.region("sick/other.png") is None


def test_localize_command_on_a_hand_made_dataset(tmp_path, capsys):
    """End to end on images whose 'lesion' the model's own head makes obvious."""
    from camviewer.cli import main
    from camviewer.core.model.card import ModelCard
    from camviewer.core.model.loading import new_model

    torch.manual_seed(0)
    model = new_model(
        ModelCard(
            arch="tinyvgg_gap", class_names=["normal", "sick"], input_size=(32, 32), arch_options={"widths": [4, 8]}
        ),
        "cpu",
    )
    checkpoint = model.save(tmp_path / "m.safetensors")
    rng = np.random.default_rng(0)
    rows = []
    for cls in ("normal", "sick"):
        (tmp_path / "data" / cls).mkdir(parents=True)
        (tmp_path / "data" / "masks" / cls).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(
                tmp_path / "data" / cls / f"{i}.png"
            )
            mask = np.zeros((32, 32), np.uint8)
            if cls == "sick":
                mask[8:16, 8:16] = 255
                rows.append([f"{cls}/{i}.png", 8, 8, 8, 8, cls])
            Image.fromarray(mask).save(tmp_path / "data" / "masks" / cls / f"{i}.png")
    with open(tmp_path / "boxes.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([["path", "x", "y", "w", "h", "label"], *rows])
    out = tmp_path / "loc"
    code = main(
        [
            "localize",
            str(tmp_path / "data"),
            "--model",
            str(checkpoint),
            "--masks",
            str(tmp_path / "data" / "masks"),
            "--method",
            "gradcam,layercam",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())["summary"]
    assert summary["gradcam"]["images"] == 6 and summary["gradcam"]["with_region"] == 3
    with open(out / "localization.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    sick = [r for r in table if "sick" in r["path"] and r["method"] == "gradcam"]
    assert all(r["class_name"] == "sick" for r in sick)  # the ground truth's class is explained
    hits = np.mean([r["pointing_hit"] == "True" for r in sick])
    assert summary["gradcam"]["pointing_game"] == pytest.approx(hits)
    assert (
        main(
            [
                "localize",
                str(tmp_path / "data"),
                "--model",
                str(checkpoint),
                "--boxes",
                str(tmp_path / "boxes.csv"),
                "--threshold",
                "otsu",
                "--out",
                str(tmp_path / "loc2"),
            ]
        )
        == 0
    )
    boxes_summary = json.loads((tmp_path / "loc2" / "summary.json").read_text())["summary"]["gradcam"]
    assert boxes_summary["with_region"] == 3 and boxes_summary["box_iou"] is not None
    assert main(["localize", str(tmp_path / "data"), "--model", str(checkpoint)]) == 2  # no ground truth
    assert "camviewer" in capsys.readouterr().err


def test_ground_truth_labels_reach_the_models_class_through_the_label_map(tmp_path):
    """Box findings named otherwise than the classes ('Lesion', 'SICK') are scored on the class they stand for."""
    from camviewer.core.jobs import run_to_end
    from camviewer.core.model.card import ModelCard
    from camviewer.core.model.loading import new_model
    from camviewer.core.trust.dataset import dataset_images
    from camviewer.core.trust.scoring import localize_dataset

    torch.manual_seed(0)
    card = ModelCard(
        arch="tinyvgg_gap", class_names=["normal", "sick"], input_size=(32, 32), arch_options={"widths": [4]}
    )
    model = new_model(card, "cpu")
    rng = np.random.default_rng(1)
    for i in range(4):  # a flat folder: no class from the layout, only the boxes' labels
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    labels = ["Lesion", "Lesion", "SICK", "SICK"]
    rows = [[f"{i}.png", 8, 8, 8, 8, label] for i, label in enumerate(labels)]
    with open(tmp_path / "boxes.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([["path", "x", "y", "w", "h", "label"], *rows])
    truth = load_ground_truth(boxes=tmp_path / "boxes.csv")
    entries = dataset_images(tmp_path)
    result = run_to_end(localize_dataset(model, entries, truth, label_map="Lesion=sick"))
    # Without the map this random model predicts "normal" for the two Lesion images.
    assert [row.class_name for row in result["rows"]] == ["sick"] * 4  # "SICK" matched without the map
