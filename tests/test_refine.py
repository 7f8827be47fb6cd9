"""Building enhanced training sets: each mode on real files, the original untouched, nothing overwritten."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from camviewer import explain
from camviewer.cli import main
from camviewer.core.errors import DatasetError, MissingInput
from camviewer.core.jobs import run_to_end
from camviewer.core.model.card import ModelCard
from camviewer.core.model.loading import new_model
from camviewer.core.trust.comparison import Measurement, compare
from camviewer.core.trust.refine import enhance, judge_map, manifest_border_crop, overlay_advice, refine_dataset


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


def tiny_model():
    torch.manual_seed(0)
    card = ModelCard(
        arch="tinyvgg_gap", class_names=["normal", "sick"], input_size=(16, 16), arch_options={"widths": [4]}
    )
    return new_model(card, "cpu")


def test_cam_overlay_keeps_every_original_and_enhances_only_accurate_maps_of_right_answers(dataset, tmp_path):
    model = tiny_model()
    head = [m for m in model.module.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        head.bias[1] += 5.0  # every image is called "sick"; the maps (gradients) do not depend on the bias
    images = [dataset / cls / f"{i}.png" for cls in ("normal", "sick") for i in (0, 1)]
    assert {r.predicted for r in explain(model, images)} == {"sick"}
    maps = {
        key: next(
            iter(explain(model, [dataset / f"{key}.png"], ("gradcam",), target=key[:-2])[0].maps["gradcam"].values())
        )
        for key in ("sick/0", "sick/1")
    }
    everywhere, nowhere = np.ones((20, 30), np.uint8), np.zeros((20, 30), np.uint8)
    around_peak = nowhere.copy()
    around_peak[np.unravel_index(np.argmax(maps["sick/0"]), (20, 30))] = 1  # the peak inside, little of the mass
    rois = {"normal/0": everywhere, "normal/1": nowhere, "sick/0": around_peak, "sick/1": everywhere}
    for key, roi in rois.items():
        Image.fromarray(roi * 255).save(dataset / "roi" / f"{key}.png")
    before = snapshot(dataset)

    manifest = run_to_end(
        refine_dataset(dataset, tmp_path / "new", "cam-overlay", model=model, roi_masks=dataset / "roi", floor=0.25)
    )

    new = tmp_path / "new"
    for key in ("normal/0", "normal/1", "sick/0", "sick/1"):  # the originals, byte for byte
        assert (new / f"{key}.png").read_bytes() == (dataset / f"{key}.png").read_bytes()
    assert [p.relative_to(new).as_posix() for p in new.rglob("*~cam.png")] == ["sick/1~cam.png"]
    rejected = dict(manifest["rejected"])
    assert rejected.keys() == {"normal/0.png", "normal/1.png", "sick/0.png"}
    assert "outside" in rejected["normal/1.png"] and "inside the region" in rejected["sick/0.png"]
    assert "predicts sick, not normal" in rejected["normal/0.png"]  # its map explains a wrong answer
    assert manifest["enhanced"] == 1 and manifest["images"] == 5
    # the copy keeps the pixels where the image's own class's map is highest, the rest at the floor
    original = np.asarray(Image.open(dataset / "sick" / "1.png")).astype(float)
    weight = (np.asarray(Image.open(new / "sick" / "1~cam.png")).astype(float) / np.maximum(original, 1)).mean(axis=2)
    top = maps["sick/1"] >= np.quantile(maps["sick/1"], 0.9)
    bottom = maps["sick/1"] <= np.quantile(maps["sick/1"], 0.5)
    assert weight[top].mean() > 0.9 and weight[bottom].mean() < 0.35
    assert snapshot(dataset) == before


def test_every_enhanced_copy_keeps_the_same_share_whatever_its_map():
    # a compact map (a parasite) and a diffuse one (evidence everywhere) must not differ in brightness:
    # weighting by the map itself let the class be read off the copy (the seed failure)
    yy, xx = np.mgrid[0:100, 0:100]
    compact = np.exp(-((yy - 30) ** 2 + (xx - 60) ** 2) / (2 * 5**2))
    diffuse = 0.6 + 0.4 * np.sin(xx / 9.0) * np.cos(yy / 13.0)
    pixels = np.full((100, 100, 3), 200.0)
    for map01 in (compact, diffuse):
        weight = enhance(pixels, map01, floor=0.2, share=0.25)[..., 0] / 200.0
        assert weight.mean() == pytest.approx(0.2 + 0.8 * 0.25, abs=0.01)
        assert weight[np.unravel_index(np.argmax(map01), map01.shape)] == pytest.approx(1.0, abs=0.05)
        assert weight[np.unravel_index(np.argmin(map01), map01.shape)] == pytest.approx(0.2, abs=0.01)
    old_way = [0.2 + 0.8 * m.mean() for m in (compact, diffuse)]  # what weighting by the map gave
    assert old_way[1] - old_way[0] > 0.4


def test_a_set_whose_maps_mostly_peak_outside_the_roi_says_one_overlay_cycle_cannot_help():
    roi = np.zeros((10, 10), bool)
    roi[3:7, 3:7] = True
    on_the_cell, on_a_corner_tag = np.zeros((10, 10)), np.zeros((10, 10))
    on_the_cell[5, 5] = on_a_corner_tag[0, 0] = 1.0
    reasons = [judge_map(m, roi) for m in (on_a_corner_tag, on_a_corner_tag, on_the_cell)]
    rejected = [(f"{i}.png", reason) for i, reason in enumerate(reasons) if reason]
    manifest = {"mode": "cam-overlay", "enhanced": reasons.count(None), "rejected": rejected}
    advice = overlay_advice(manifest)
    assert advice.startswith("2 of 3 maps peak outside the region of interest") and "crop" in advice
    assert overlay_advice({**manifest, "enhanced": 3}) is None  # 2 of 5: most maps are usable
    assert overlay_advice({**manifest, "mode": "crop"}) is None


def test_an_accurate_map_has_its_peak_and_most_of_its_mass_inside_the_roi():
    roi = np.zeros((10, 10), bool)
    roi[2:6, 2:6] = True
    inside = np.zeros((10, 10))
    inside[3, 3], inside[8, 8] = 1.0, 0.2
    assert judge_map(inside, roi) is None
    spread = inside.copy()
    spread[7:10, 7:10] = 0.5  # peak inside, but 4.5 of 5.5 outside
    assert "18% of the map" in judge_map(spread, roi)
    outside = np.zeros((10, 10))
    outside[8, 8] = 1.0
    assert "peak lies outside" in judge_map(outside, roi)
    assert judge_map(inside, None) == "no region-of-interest mask"


def test_cam_overlay_needs_roi_masks(dataset, tmp_path):
    with pytest.raises(MissingInput):
        run_to_end(refine_dataset(dataset, tmp_path / "new", "cam-overlay", model=tiny_model()))


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
    (dataset / "roi").rename(tmp_path / "elsewhere")  # DATA/roi is the default; without it, say which flag
    assert main(["refine", str(dataset), "--mode", "roi-mask", "--out", str(tmp_path / "other")]) == 2
    assert "--roi-masks" in capsys.readouterr().err


def measurement(accuracy, pointing, energy):
    return Measurement(
        "m.safetensors", {"accuracy": accuracy}, {"pointing_game": pointing, "energy_in_region": energy}, "gradcam"
    )


def test_the_verdict_never_presents_a_regression_as_a_gain():
    before = measurement(0.95, 0.40, 0.30)
    better = compare(before, measurement(0.94, 0.70, 0.45))  # accuracy within the 0.02 tolerance
    assert better.outcome == "better" and not better.keep_before
    assert better.reasons == ["pointing game 0.400 -> 0.700", "energy in region 0.300 -> 0.450"]
    worse = compare(before, measurement(0.95, 0.00, 0.50))  # the seed failure: pointing to nothing, energy up
    assert worse.outcome == "worse" and worse.keep_before and worse.reasons == ["pointing game 0.400 -> 0.000"]
    assert "WORSE" in worse.text() and "keep the model from before" in worse.text()
    lost = compare(before, measurement(0.90, 0.90, 0.60))  # better maps, but 5 points of accuracy lost
    assert lost.outcome == "worse" and lost.reasons == ["accuracy 0.950 -> 0.900"]
    same = compare(before, measurement(0.96, 0.41, 0.29))
    assert same.outcome == "unchanged" and same.keep_before and same.reasons == []


def test_refine_measures_the_model_and_train_init_compares_the_fine_tuned_one(tmp_path, capsys):
    from camviewer.core.evaluation.run import evaluate
    from camviewer.core.synth import generate

    train, held = tmp_path / "train", tmp_path / "held"
    run_to_end(generate(train, "cells", 24, 0, size=32, shortcut=1.0))
    run_to_end(generate(held, "cells", 12, 1, size=32, shortcut=1.0))
    torch.manual_seed(0)
    card = ModelCard(
        "tinyvgg_gap",
        ["parasitized", "uninfected"],
        (32, 32),
        arch_options={"widths": [4, 8]},
        positive_class="parasitized",
    )
    init = new_model(card, "cpu").save(tmp_path / "init.safetensors")
    refined, run = tmp_path / "refined", tmp_path / "run"
    common = ["--device", "cpu"]
    assert (
        main(
            [
                "refine",
                str(train),
                "--mode",
                "crop",
                "--model",
                str(init),
                "--measure",
                str(held),
                "--out",
                str(refined),
                *common,
            ]
        )
        == 0
    )
    manifest = json.loads((refined / "refine.json").read_text())
    before = manifest["before"]
    assert before["metrics"]["accuracy"] == pytest.approx(run_to_end(evaluate(init, held)).report.accuracy)
    assert "before, on" in capsys.readouterr().out
    # a before no fine-tuning can match: the comparison must call the result worse, and say so
    before["metrics"]["accuracy"] = before["localization"]["pointing_game"] = 1.0
    (refined / "refine.json").write_text(json.dumps(manifest))

    assert main(["train", str(refined), "--init", str(init), "--epochs", "2", "--out", str(run), *common]) == 0

    printed = capsys.readouterr()
    record = json.loads((run / "refinement.json").read_text())
    assert record["before"] == before and record["after"]["checkpoint"] == str(run / "best.safetensors")
    after = run_to_end(evaluate(run / "best.safetensors", held))  # measured independently
    assert record["after"]["metrics"]["accuracy"] == pytest.approx(after.report.accuracy)
    assert (
        record["verdict"]["outcome"]
        == "worse"
        == compare(Measurement(**before), Measurement(**record["after"])).outcome
    )
    assert "pointing game (gradcam)" in printed.out and "WORSE" in printed.out
    assert "warning: the fine-tuned model is WORSE" in printed.err and str(init) in printed.err
