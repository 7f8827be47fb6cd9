"""Synthetic datasets: determinism, layout, ground truth consistency, shortcut markers, CLI, learnability."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from camviewer.cli import main
from camviewer.core import synth
from camviewer.core.errors import Cancelled
from camviewer.core.jobs import CancelToken, Progress, run_to_end

SMALL = {"cells": 64, "xray": 96}


def make(out: Path, kind: str = "cells", n: int = 6, seed: int = 0, shortcut: float = 0.0) -> dict:
    return run_to_end(synth.generate(out, kind, n, seed, size=SMALL[kind], shortcut=shortcut))


def read_csv(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def box_rows(rows: list[dict]) -> dict[str, list[tuple[int, int, int, int]]]:
    """path -> sorted boxes listed for it (duplicates kept: one row per lesion)."""
    boxes: dict[str, list] = {}
    for row in rows:
        boxes.setdefault(row["path"], []).append(tuple(int(row[k]) for k in "xywh"))
    return {path: sorted(listed) for path, listed in boxes.items()}


def component_boxes(mask: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Sorted bounding boxes of 8-connected components, computed independently of the generator."""
    labels, _ = ndimage.label(mask, structure=np.ones((3, 3)))
    slices = ndimage.find_objects(labels)
    return sorted((sx.start, sy.start, sx.stop - sx.start, sy.stop - sy.start) for sy, sx in slices)


def all_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


# --------------------------------------------------------------------------- determinism


def test_same_seed_gives_identical_files_and_another_seed_differs(tmp_path):
    make(tmp_path / "a", seed=7, shortcut=0.5)
    make(tmp_path / "b", seed=7, shortcut=0.5)
    make(tmp_path / "c", seed=8, shortcut=0.5)
    first, again, other = (all_files(tmp_path / name) for name in "abc")
    assert first == again
    images = [name for name in first if name.startswith(("parasitized/", "uninfected/"))]
    assert len(images) == 6
    assert all(first[name] != other[name] for name in images)


def test_an_image_does_not_depend_on_the_dataset_size(tmp_path):
    make(tmp_path / "four", kind="xray", n=4, seed=3)
    make(tmp_path / "seven", kind="xray", n=7, seed=3)
    four, seven = all_files(tmp_path / "four"), all_files(tmp_path / "seven")
    pngs = [name for name in four if name.endswith(".png")]
    assert len(pngs) == 12 and all(four[name] == seven[name] for name in pngs)


# --------------------------------------------------------------------------- layout and ground truth


@pytest.mark.parametrize("kind", synth.IMAGE_KINDS)
def test_layout_summary_and_class_balance(tmp_path, kind):
    summary = make(tmp_path, kind=kind, n=7, seed=1)
    negative, positive = synth.CLASSES[kind]
    assert json.loads((tmp_path / "synth.json").read_text()) == summary
    assert summary["class_names"] == sorted([negative, positive]) and summary["positive_class"] == positive
    assert summary["counts"] == {positive: 3, negative: 4}
    assert (summary["kind"], summary["n"], summary["seed"], summary["size"]) == (kind, 7, 1, SMALL[kind])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["boxes.csv", "markers.csv", "masks", "roi", "synth.json", negative, positive]
    )
    for name in (negative, positive):
        stems = sorted(p.name for p in (tmp_path / name).iterdir())
        assert len(stems) == summary["counts"][name] and all(s.startswith(f"{kind}_") for s in stems)
        for stem in stems:
            image = Image.open(tmp_path / name / stem)
            assert image.mode == ("RGB" if kind == "cells" else "L") and image.size == (SMALL[kind],) * 2
            for folder in ("masks", "roi"):
                mask = pixels(tmp_path / folder / name / stem)
                assert mask.dtype == np.uint8 and mask.shape == (SMALL[kind],) * 2
                assert set(np.unique(mask)) <= {0, 255}
    header = (tmp_path / "boxes.csv").read_text().splitlines()[0]
    assert header == "path,x,y,w,h,label" == (tmp_path / "markers.csv").read_text().splitlines()[0]


@pytest.mark.parametrize("kind", synth.IMAGE_KINDS)
def test_boxes_match_the_written_masks_and_lesions_lie_in_the_roi(tmp_path, kind):
    make(tmp_path, kind=kind, n=12, seed=5)
    negative, positive = synth.CLASSES[kind]
    rows = read_csv(tmp_path / "boxes.csv")
    assert {row["label"] for row in rows} == {positive}
    listed = box_rows(rows)
    for mask_path in sorted((tmp_path / "masks").rglob("*.png")):
        relative = mask_path.relative_to(tmp_path / "masks").as_posix()
        lesion = pixels(mask_path) > 0
        roi = pixels(tmp_path / "roi" / relative) > 0
        assert roi.mean() > 0.1  # a real cell / pair of lungs, not a speck
        if relative.startswith(negative):
            assert not lesion.any() and relative not in listed
        else:
            assert lesion.any() and not (lesion & ~roi).any()
            assert listed[relative] == component_boxes(lesion)


def test_make_sample_returns_consistent_arrays():
    for kind, channels in (("cells", (3,)), ("xray", ())):
        rng = np.random.default_rng(0)
        sample = synth.make_sample(kind, True, rng, 80, shortcut=True)
        assert sample.image.dtype == np.uint8 and sample.image.shape == (80, 80, *channels)
        assert sample.lesion_mask.dtype == bool and sample.roi_mask.dtype == bool
        assert sample.label == synth.CLASSES[kind][1] and sample.marker_box is not None
        x, y, w, h = sample.marker_box
        assert x >= 0 and y >= 0 and x + w <= 80 and y + h <= 80
        assert not sample.lesion_mask[y : y + h, x : x + w].any()  # the tag never hides the lesion


# --------------------------------------------------------------------------- shortcut markers


@pytest.mark.parametrize("kind", synth.IMAGE_KINDS)
def test_shortcut_tags_every_positive_only_and_changes_nothing_else(tmp_path, kind):
    make(tmp_path / "clean", kind=kind, n=8, seed=2, shortcut=0.0)
    summary = make(tmp_path / "tagged", kind=kind, n=8, seed=2, shortcut=1.0)
    negative, positive = synth.CLASSES[kind]
    assert read_csv(tmp_path / "clean" / "markers.csv") == []
    rows = read_csv(tmp_path / "tagged" / "markers.csv")
    assert summary["markers"] == 4 and len(rows) == 4 and {r["label"] for r in rows} == {"marker"}
    markers = {path: box for path, (box,) in box_rows(rows).items()}
    assert sorted(markers) == sorted(f"{positive}/{p.name}" for p in (tmp_path / "clean" / positive).iterdir())
    for image_path in sorted((tmp_path / "clean").glob("*/*.png")):
        relative = image_path.relative_to(tmp_path / "clean").as_posix()
        before, after = pixels(image_path).astype(int), pixels(tmp_path / "tagged" / relative).astype(int)
        changed = np.abs(after - before).reshape(before.shape[0], before.shape[1], -1).max(axis=2) > 0
        if relative.startswith(negative):
            assert not changed.any()
            continue
        x, y, w, h = markers[relative]
        inside = np.zeros_like(changed)
        inside[y : y + h, x : x + w] = True
        assert changed.any() and not (changed & ~inside).any()  # the tag is the only difference
        assert np.median(after[y : y + h, x : x + w]) >= 240  # a bright tag with a darker glyph
        assert after[y : y + h, x : x + w].min() <= 80
        assert read_csv(tmp_path / "clean" / "boxes.csv") == read_csv(tmp_path / "tagged" / "boxes.csv")


# --------------------------------------------------------------------------- output folder safety, progress


def test_refuses_a_foreign_non_empty_folder_and_leaves_it_alone(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(synth.SynthOutputError, match="not empty"):
        make(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    assert main(["synth", str(tmp_path), "--kind", "cells", "--n", "4", "--seed", "0", "--size", "48"]) == 2
    assert (tmp_path / "notes.txt").read_text() == "mine" and len(list(tmp_path.iterdir())) == 1


def test_refuses_a_synth_output_holding_foreign_files(tmp_path):
    make(tmp_path, n=4)
    (tmp_path / "extra.csv").write_text("keep me")
    with pytest.raises(synth.SynthOutputError):
        make(tmp_path, n=4)
    assert (tmp_path / "extra.csv").read_text() == "keep me"


def test_replaces_a_previous_synth_output_without_leaving_stale_images(tmp_path):
    make(tmp_path, kind="cells", n=6)
    summary = make(tmp_path, kind="xray", n=2)
    assert summary["kind"] == "xray"
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.png")) == [
        "masks/normal/xray_00000.png",
        "masks/pneumonia/xray_00001.png",
        "normal/xray_00000.png",
        "pneumonia/xray_00001.png",
        "roi/normal/xray_00000.png",
        "roi/pneumonia/xray_00001.png",
    ]


def test_generate_rejects_bad_arguments_before_touching_the_disk(tmp_path):
    for kind, n, shortcut in (("mri", 4, 0.0), ("cells", 1, 0.0), ("xray", 4, 2.0)):
        with pytest.raises(ValueError):
            run_to_end(synth.generate(tmp_path / "out", kind, n, 0, shortcut=shortcut))
    assert not (tmp_path / "out").exists()


def test_progress_per_image_and_cancel_leaves_a_replaceable_output(tmp_path):
    token = CancelToken()
    job = synth.generate(tmp_path, "cells", 10, 0, size=48, cancel=token)
    events = [next(job), next(job)]
    assert all(isinstance(e, Progress) for e in events) and [(e.done, e.total) for e in events] == [(1, 10), (2, 10)]
    token.cancel()
    with pytest.raises(Cancelled):
        next(job)
    assert json.loads((tmp_path / "synth.json").read_text())["complete"] is False
    assert make(tmp_path, n=4)["complete"] is True


# --------------------------------------------------------------------------- command line


def test_cli_writes_a_dataset_and_prints_a_summary(tmp_path, capsys):
    out = tmp_path / "data"
    args = ["synth", str(out), "--kind", "xray", "--n", "4", "--seed", "1", "--size", "64", "--shortcut", "1"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "4/4 images" in captured.err and "2 pneumonia" in captured.out and "markers: 2" in captured.out
    assert json.loads((out / "synth.json").read_text())["shortcut"] == 1.0


@pytest.mark.parametrize(
    "bad",
    [["--kind", "mri"], ["--n", "1"], ["--shortcut", "1.5"], ["--shortcut", "-0.1"], ["--size", "8"], ["--seed", "-1"]],
)
def test_cli_usage_errors_exit_2_and_write_nothing(tmp_path, capsys, bad):
    base = {"--kind": "cells", "--n": "4", "--seed": "0", "--shortcut": "0", "--size": "48"}
    base.update(dict(zip(bad[::2], bad[1::2])))
    argv = ["synth", str(tmp_path / "out")] + [item for pair in base.items() for item in pair]
    assert main(argv) == 2
    assert "synth" in capsys.readouterr().err and not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- learnability


def _samples(kind: str, n: int, size: int):
    return [synth.make_sample(kind, synth.is_positive(i), synth.sample_rngs(11, i)[0], size, False) for i in range(n)]


@pytest.mark.parametrize("kind", synth.IMAGE_KINDS)
def test_colour_statistics_do_not_give_the_class_away_but_the_lesion_region_does(kind):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    samples = _samples(kind, 200, 96)
    labels = np.array([synth.is_positive(i) for i in range(len(samples))])
    images = [s.image.reshape(s.image.shape[0], s.image.shape[1], -1).astype(np.float32) for s in samples]
    # Blind: mean colour and its spread, over the whole image and over the cell / lungs.
    blind = [
        np.concatenate([im.mean(axis=(0, 1)), im.std(axis=(0, 1)), im[s.roi_mask].mean(0), im[s.roi_mask].std(0)])
        for s, im in zip(samples, images)
    ]
    # Lesion-aware: contrast between a lesion-shaped region and the rest of the ROI. Negatives have no
    # lesion, so they borrow the mask of the next positive: same place, healthy tissue.
    aware = []
    for i, (sample, im) in enumerate(zip(samples, images)):
        region = sample.lesion_mask if labels[i] else samples[i + 1].lesion_mask
        region, rest = region & sample.roi_mask, sample.roi_mask & ~region
        aware.append(im[region].mean(axis=0) - im[rest].mean(axis=0) if region.any() else np.zeros(im.shape[2]))

    def accuracy(features) -> float:
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        return float(cross_val_score(model, np.asarray(features), labels, cv=5).mean())

    blind_accuracy, aware_accuracy = accuracy(blind), accuracy(aware)
    assert blind_accuracy <= 0.75, f"colour statistics alone separate the classes ({blind_accuracy:.2f})"
    assert aware_accuracy >= 0.95, f"the lesion region does not separate the classes ({aware_accuracy:.2f})"
