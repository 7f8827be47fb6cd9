"""What `camviewer localize` scores: the ground truth's class through the label mapping (refused, never
replaced by the prediction, when it maps to nothing), the prediction or a named class; methods that do
not apply are skipped with their reason; --layer; chance baselines and the best method only above chance."""

import csv
import itertools
import json

import numpy as np
import pytest
import torch
from PIL import Image

from camviewer.cli import main
from camviewer.core.trust.targets import NO_LABEL

CLASSES = ["Atelectasis", "Infiltration", "Normal"]
# image,finding,x,y,w,h as NIH users write it; c.png has boxes of two findings; e.png and f.png are not listed
BOXES = [
    ("a.png", "Atelectasis", 4, 4, 8, 8),
    ("b.png", "Infiltrate", 8, 8, 10, 10),
    ("c.png", "Infiltrate", 2, 2, 6, 6),
    ("c.png", "Atelectasis", 20, 20, 8, 8),
    ("d.png", "Nodule", 5, 5, 5, 5),
]
UNMATCHED_INFILTRATE = "the label 'Infiltrate' matches none of the model's classes"
UNMATCHED_NODULE = "the label 'Nodule' matches none of the model's classes"


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    from camviewer.core.model.card import ModelCard
    from camviewer.core.model.loading import new_model

    root = tmp_path_factory.mktemp("study")
    torch.manual_seed(0)
    checkpoints = {}
    for arch in ("tinyvgg_gap", "tinyvgg"):
        card = ModelCard(arch=arch, class_names=CLASSES, input_size=(32, 32), arch_options={"widths": [4, 8]})
        checkpoints[arch] = new_model(card, "cpu").save(root / f"{arch}.safetensors")
    rng = np.random.default_rng(0)
    (root / "xray").mkdir()
    for name in "abcdef":
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(root / "xray" / f"{name}.png")
    with open(root / "boxes.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([("image", "finding", "x", "y", "w", "h"), *BOXES])
    return root, checkpoints


def localize(study, out, *extra, arch="tinyvgg_gap"):
    root, checkpoints = study
    args = ["localize", str(root / "xray"), "--model", str(checkpoints[arch]), "--boxes", str(root / "boxes.csv")]
    code = main([*args, "--out", str(out), *extra])
    if code != 0:
        return code, None, None
    with open(out / "localization.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return code, json.loads((out / "summary.json").read_text()), rows


def load(study, arch="tinyvgg_gap"):
    from camviewer.core.model.loading import load_model

    return load_model(study[1][arch], device="cpu")


def expected_scores(study, name, class_name, boxes, layer=None):
    """score_map of the map explain() gives for that class, against those boxes only."""
    from camviewer.core.explain.run import explain
    from camviewer.core.trust.groundtruth import Region
    from camviewer.core.trust.scoring import score_map

    result = explain(load(study), study[0] / "xray" / name, ["gradcam"], target=class_name, layer=layer)[0]
    return score_map(result.maps["gradcam"][class_name], Region(boxes=boxes), None, 0.2, 0.0)


def file_name(path: str) -> str:
    return path.rsplit("/", 1)[1]


def by_image(rows):
    return {(row["path"].rsplit("/", 1)[1], row["truth_label"]): row for row in rows}


def test_gt_scores_the_ground_truths_class_and_refuses_labels_that_match_no_class(study, tmp_path, capsys):
    code, summary, rows = localize(study, tmp_path / "plain")
    assert code == 0
    # only Atelectasis matches a class: a.png, and c.png against its Atelectasis box only
    assert sorted(by_image(rows)) == [("a.png", "Atelectasis"), ("c.png", "Atelectasis")]
    assert all(row["class_name"] == "Atelectasis" for row in rows)  # never the prediction instead
    row = by_image(rows)[("c.png", "Atelectasis")]
    assert float(row["iou"]) == pytest.approx(expected_scores(study, "c.png", "Atelectasis", [(20, 20, 8, 8)])["iou"])
    assert summary["refused_counts"] == {UNMATCHED_INFILTRATE: 2, UNMATCHED_NODULE: 1, NO_LABEL: 2}
    assert {(file_name(r["path"]), r["label"]) for r in summary["refused"]} == {
        ("b.png", "Infiltrate"),
        ("c.png", "Infiltrate"),
        ("d.png", "Nodule"),
        ("e.png", None),
        ("f.png", None),
    }
    assert summary["target"] == "gt" and summary["label_mapping"]["Infiltrate"] == []
    assert {(file_name(s["path"]), s["truth_label"], s["class"]) for s in summary["scored"]} == {
        ("a.png", "Atelectasis", "Atelectasis"),
        ("c.png", "Atelectasis", "Atelectasis"),
    }
    out = capsys.readouterr().out
    assert "image: 'image' · box x, y, w, h: 'x', 'y', 'w', 'h'" in out and "label: 'finding'" in out
    assert "Infiltrate  -> (no class: unmatched)" in out and "5 refused" in out


def test_the_infiltrate_alias_goes_through_the_label_map(study, tmp_path):
    code, summary, rows = localize(study, tmp_path / "alias", "--label-map", "Infiltrate=Infiltration")
    assert code == 0
    scored = by_image(rows)
    assert sorted(scored) == [
        ("a.png", "Atelectasis"),
        ("b.png", "Infiltrate"),
        ("c.png", "Atelectasis"),
        ("c.png", "Infiltrate"),
    ]
    assert scored[("b.png", "Infiltrate")]["class_name"] == "Infiltration"
    assert scored[("c.png", "Infiltrate")]["class_name"] == "Infiltration"
    expected = expected_scores(study, "c.png", "Infiltration", [(2, 2, 6, 6)])  # its own box, not Atelectasis'
    assert float(scored[("c.png", "Infiltrate")]["iou"]) == pytest.approx(expected["iou"])
    assert summary["label_mapping"]["Infiltrate"] == ["Infiltration"]
    assert summary["refused_counts"] == {UNMATCHED_NODULE: 1, NO_LABEL: 2}
    assert summary["summary"]["gradcam"]["images"] == 3 and summary["summary"]["gradcam"]["maps"] == 4


def test_a_label_standing_for_a_group_scores_its_most_probable_class(study, tmp_path):
    from camviewer.core.images import read_image

    code, _, rows = localize(study, tmp_path / "group", "--label-map", "Nodule=Infiltration|Normal")
    assert code == 0
    probs = load(study).predict([read_image(study[0] / "xray" / "d.png").pixels])[0]
    expected = max(("Infiltration", "Normal"), key=lambda name: probs[CLASSES.index(name)])
    assert by_image(rows)[("d.png", "Nodule")]["class_name"] == expected


def test_pred_and_a_named_class(study, tmp_path, capsys):
    from camviewer.core.images import read_image

    code, summary, rows = localize(study, tmp_path / "pred", "--target", "pred")
    assert code == 0 and summary["refused"] == [] and len(rows) == 6
    model = load(study)
    for row in rows:
        probs = model.predict([read_image(row["path"]).pixels])[0]
        assert row["class_name"] == row["predicted"] == CLASSES[int(np.argmax(probs))]
    c_row = next(row for row in rows if row["path"].endswith("c.png"))  # pred: scored against both findings' boxes
    assert float(c_row["chance_energy_in_region"]) == pytest.approx((36 + 64) / 32**2)
    code, summary, rows = localize(study, tmp_path / "named", "--target", "infiltration")  # case-insensitive
    assert code == 0 and {row["class_name"] for row in rows} == {"Infiltration"} and summary["target"] == "infiltration"
    capsys.readouterr()
    assert localize(study, tmp_path / "bogus", "--target", "Bogus")[0] == 2
    assert (
        "'Bogus' is not among the model's classes ('Atelectasis', 'Infiltration', 'Normal')" in capsys.readouterr().err
    )


def test_ground_truth_that_matches_no_image_is_said(study, tmp_path, capsys):
    root, checkpoints = study
    (tmp_path / "elsewhere.csv").write_text("image,x,y,w,h\nscans/a.png,1,1,4,4\n")  # a folder the data lacks
    args = ["localize", str(root / "xray"), "--model", str(checkpoints["tinyvgg_gap"]), "--target", "pred"]
    assert main([*args, "--boxes", str(tmp_path / "elsewhere.csv"), "--out", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err
    assert f"none of the 6 images of {root / 'xray'} has ground truth" in err
    assert "(e.g. 'a.png'); the ground truth names e.g. 'scans/a.png'" in err


def test_methods_that_do_not_apply_are_skipped_with_their_reason(study, tmp_path, capsys):
    code, summary, rows = localize(
        study, tmp_path / "skip", "--target", "pred", "--method", "gradcam,cam", arch="tinyvgg"
    )
    assert code == 0
    assert {row["method"] for row in rows} == {"gradcam"} and list(summary["summary"]) == ["gradcam"]
    assert "global average pooling" in summary["skipped_methods"]["cam"]
    assert "method cam skipped" in capsys.readouterr().err
    assert localize(study, tmp_path / "none", "--method", "cam", arch="tinyvgg")[0] == 2
    assert "no method applies: cam: method 'cam' needs global average pooling" in capsys.readouterr().err
    # faithfulness skips it the same way
    root, checkpoints = study
    args = [str(root / "xray"), "--model", str(checkpoints["tinyvgg"]), "--method", "gradcam,cam", "--steps", "2"]
    assert main(["faithfulness", *args, "--limit", "2", "--sanity-images", "0", "--out", str(tmp_path / "f")]) == 0
    record = json.loads((tmp_path / "f" / "summary.json").read_text())
    assert record["kind"] == "faithfulness" and list(record["summary"]) == ["gradcam"]
    assert "global average pooling" in record["skipped_methods"]["cam"]


def test_layer_option(study, tmp_path):
    from camviewer.core.cam.layers import auto_layer, candidate_layers

    model = load(study)
    layer = next(info.name for info in candidate_layers(model) if info.name != auto_layer(model))
    code, summary, rows = localize(study, tmp_path / "layer", "--layer", layer)
    assert code == 0 and summary["layer"] == layer
    row = by_image(rows)[("a.png", "Atelectasis")]
    assert float(row["iou"]) == pytest.approx(
        expected_scores(study, "a.png", "Atelectasis", [(4, 4, 8, 8)], layer)["iou"]
    )
    assert localize(study, tmp_path / "bad", "--layer", "no.such.layer")[0] == 2


def test_engine_targets_most_probable_of_a_group_and_several_per_image(study):
    from camviewer.core.cam.engine import compute_cams
    from camviewer.core.cam.names import MostProbable

    model = load(study)
    batch = model.to_batch([np.random.default_rng(i).random((32, 32, 3), dtype=np.float32) for i in range(2)])
    out = compute_cams(model, batch, ["gradcam"], [MostProbable(("Atelectasis", "Normal")), ["Normal", 0, "Normal"]])
    first = max((0, 2), key=lambda index: out.probs[0, index])
    assert out.targets == [[first], [2, 0]]


# --- chance ---------------------------------------------------------------------------------------


def test_chance_of_the_pointing_game_and_of_a_flat_map():
    from camviewer.core.trust.localization import reach_fraction

    mask = np.zeros((10, 10), bool)
    mask[2:5, 3:6] = True
    assert reach_fraction(mask) == pytest.approx(9 / 100)
    assert reach_fraction(mask, 1.0) == pytest.approx(21 / 100)  # grown by one pixel: 5 x 5 without its corners
    assert reach_fraction(mask, 1.5) == pytest.approx(25 / 100)  # the corners are sqrt(2) away


def test_chance_iou_and_dice_of_randomly_scattered_pixels():
    from camviewer.core.trust.localization import chance_overlap

    rng = np.random.default_rng(0)
    predicted = np.zeros((20, 20), bool)
    predicted[:8, :10] = True  # p = 0.2
    region = np.zeros((20, 20), bool)
    region[10:14, 5:15] = True  # r = 0.1
    chance_iou, chance_dice = chance_overlap(predicted, region)
    assert chance_iou == pytest.approx(0.02 / (0.2 + 0.1 - 0.02)) and chance_dice == pytest.approx(0.04 / 0.3)
    # the expected intersection is exact: p * r of the image, checked by shuffling the predicted pixels
    shuffled = [rng.permutation(predicted.ravel()).reshape(20, 20) for _ in range(4000)]
    intersections = np.mean([np.logical_and(s, region).sum() for s in shuffled])
    assert intersections == pytest.approx(0.02 * 400, rel=0.03)
    assert chance_overlap(np.zeros((4, 4), bool), region[:4, :4]) == (0.0, 0.0)


def test_chance_box_iou_by_enumerating_every_position():
    from camviewer.core.trust.localization import chance_box_iou

    predicted, truth = (3, 4, 10, 6), (12, 10, 8, 9)
    for area in ((0, 0, 40, 30), (5, 2, 20, 25)):  # the whole image; the part a cropped model saw
        x0, y0, width, height = area
        overlaps = []
        for x, y in itertools.product(range(x0, x0 + width - 10 + 1), range(y0, y0 + height - 6 + 1)):
            dx = max(0, min(x + 10, 20) - max(x, 12))
            dy = max(0, min(y + 6, 19) - max(y, 10))
            overlaps.append(dx * dy)
        expected = np.mean(overlaps)
        assert chance_box_iou(predicted, truth, area) == pytest.approx(expected / (60 + 72 - expected))


def test_chance_counts_only_the_pixels_the_model_saw():
    """A map NaN outside the part of the image a cropped model saw: chance is that of a point, a flat map
    or scattered pixels within the seen part, and ground truth outside it is left out."""
    from camviewer.core.trust.groundtruth import Region
    from camviewer.core.trust.scoring import score_map

    heat = np.full((10, 10), np.nan, np.float32)
    heat[2:8, 2:8] = 0.1  # 36 seen pixels
    heat[3, 3] = 1.0
    mask = np.zeros((10, 10), bool)
    mask[0:4, 0:4] = True  # 16 px, of which rows 2-3 x cols 2-3 (4 px) are seen
    roi = np.zeros((10, 10), bool)
    roi[:, :5] = True  # 50 px, of which 18 are seen
    scores = score_map(heat, Region(mask=mask), roi, 0.5, 0.0)
    assert scores["pointing_hit"] is True
    assert scores["chance_pointing_hit"] == pytest.approx(4 / 36)
    assert scores["chance_energy_in_region"] == pytest.approx(4 / 36)
    assert scores["chance_energy_in_roi"] == pytest.approx(18 / 36)
    # binarized at half the peak: the one pixel (3, 3), p = 1/36, r = 4/36
    p, r = 1 / 36, 4 / 36
    assert scores["chance_iou"] == pytest.approx(p * r / (p + r - p * r))
    outside = np.zeros((10, 10), bool)
    outside[8:, 8:] = True  # wholly where the model did not look: no region to score
    assert score_map(heat, Region(mask=outside), None, 0.5, 0.0)["chance_pointing_hit"] is None


def test_pointing_game_p_value_by_enumerating_every_outcome():
    from camviewer.core.trust.chance import best_method, summarize
    from camviewer.core.trust.scoring import LocalizationRow

    chances = [0.05, 0.1, 0.2, 0.02, 0.3, 0.15, 0.08, 0.12]
    hits = [True, True, False, True, False, True, False, False]
    rows = [
        LocalizationRow(f"{i}", "m", "c", "c", "c", True, 0.2, hit, 0.1, 0.1, None, 0.5, None, chance_pointing_hit=p)
        for i, (hit, p) in enumerate(zip(hits, chances))
    ]
    p_value = 0.0  # P(at least 4 hits) over the 2^8 outcomes
    for outcome in itertools.product((0, 1), repeat=8):
        if sum(outcome) >= 4:
            p_value += np.prod([p if o else 1 - p for o, p in zip(outcome, chances)])
    entry = summarize(rows, ["m"])["m"]
    assert entry["pointing_game_p"] == pytest.approx(p_value) and entry["beats_chance"] is bool(p_value < 0.05)
    assert entry["beats_chance"] and best_method({"m": entry})["method"] == "m"


def test_no_best_method_when_every_method_fails():
    from camviewer.core.trust.chance import best_method

    summary = {
        m: {"pointing_game": 0.0, "chance_pointing_game": 0.1, "pointing_game_p": 1.0, "beats_chance": False}
        for m in ("gradcam", "cam")
    }
    best = best_method(summary)
    assert best["method"] is None and "no method's pointing game beats chance" in best["reason"]
    assert best_method({"gradcam": {"pointing_game": None}})["reason"] == "no scored image has a ground-truth region"
