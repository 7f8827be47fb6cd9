"""Synthetic chest CT volumes: determinism, layout, scanner geometry, HU values, masks on the lesions, CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

from camviewer.cli import main
from camviewer.core import synth
from camviewer.core.jobs import run_to_end
from camviewer.core.synth.ct import draw_ct
from camviewer.core.volumes import list_volumes, read_volume

SMALL = (24, 40, 40)


def make(out: Path, n: int = 4, seed: int = 0, size=SMALL) -> dict:
    return run_to_end(synth.generate(out, "ct", n, seed, size=size))


def all_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_differs_and_no_dependence_on_n(tmp_path):
    make(tmp_path / "a", n=4, seed=3)
    make(tmp_path / "b", n=4, seed=3)
    make(tmp_path / "c", n=4, seed=4)
    make(tmp_path / "d", n=3, seed=3)
    first, again, other, fewer = (all_files(tmp_path / name) for name in "abcd")
    assert first == again
    volumes = [name for name in first if name.startswith(("nodule/", "normal/"))]
    assert len(volumes) == 4 and all(first[name] != other[name] for name in volumes)
    assert all(fewer[name] == first[name] for name in fewer if name.endswith(".nii.gz"))


def test_layout_summary_and_scanner_geometry(tmp_path):
    summary = make(tmp_path, n=5, seed=1)
    assert json.loads((tmp_path / "synth.json").read_text()) == summary
    assert summary["class_names"] == ["nodule", "normal"] and summary["positive_class"] == "nodule"
    assert summary["counts"] == {"nodule": 2, "normal": 3} and summary["size"] == list(SMALL)
    spacing = [280 / 24, 340 / 40, 340 / 40]
    assert summary["spacing_mm"] == pytest.approx(spacing, abs=1e-4) and summary["units"] == "HU"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "lesions.csv",
        "masks",
        "nodule",
        "normal",
        "roi",
        "synth.json",
    ]
    sources = list_volumes(tmp_path / "nodule") + list_volumes(tmp_path / "normal")
    assert [s.path.name for s in sources] == ["ct_00001.nii.gz", "ct_00003.nii.gz"] + [
        f"ct_0000{i}.nii.gz" for i in (0, 2, 4)
    ]
    for source in sources:
        relative = source.path.relative_to(tmp_path)
        image = nib.load(source.path)
        assert image.get_data_dtype() == np.int16 and image.shape == SMALL[::-1]
        volume = read_volume(source)
        assert volume.axis_codes == ("S", "P", "L")  # stored as an axial DICOM series would be
        assert volume.spacing == pytest.approx(spacing)
        for folder in ("masks", "roi"):
            mask = nib.load(tmp_path / folder / relative)
            assert mask.get_data_dtype() == np.uint8 and mask.shape == image.shape
            np.testing.assert_array_equal(mask.affine, image.affine)
            assert set(np.unique(np.asarray(mask.dataobj))) <= {0, 1}


def test_hounsfield_units_look_like_a_chest():
    sample = draw_ct(np.random.default_rng(5), (64, 96, 96), positive=False)
    hu, lungs = sample.hu.astype(np.float32), sample.roi_mask
    assert np.median(hu[:, :4, :4]) < -950  # air in the corners of the field of view
    assert -900 < np.median(hu[lungs]) < -780
    assert 0.08 < lungs.mean() < 0.3 and ndimage.label(lungs)[1] <= 3  # two lungs (maybe touching)
    body = ndimage.binary_erosion(hu > -500, iterations=2) & ~ndimage.binary_dilation(lungs, iterations=2)
    assert -150 < np.median(hu[body]) < 100  # soft tissue and fat
    assert (hu > 500).sum() > 1000  # bone: spine, ribs, sternum
    assert not sample.lesion_mask.any() and sample.nodule_center is None


def test_masks_sit_on_the_nodules_and_the_csv_places_them_in_world_coordinates(tmp_path):
    make(tmp_path, n=6, seed=2, size=(64, 96, 96))
    with (tmp_path / "lesions.csv").open(newline="") as handle:
        rows = {row["path"]: row for row in csv.DictReader(handle)}
    assert sorted(rows) == [f"nodule/ct_0000{i}.nii.gz" for i in (1, 3, 5)]
    for relative in sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.glob("*/*.nii.gz")):
        volume = read_volume(tmp_path / relative)
        lesion = read_volume(tmp_path / "masks" / relative).array > 0
        lungs = read_volume(tmp_path / "roi" / relative).array > 0
        if relative.startswith("normal/"):
            assert not lesion.any()
            continue
        assert lesion.sum() >= 8 and not (lesion & ~lungs).any()
        assert ndimage.label(lesion)[1] == 1
        inside = float(np.mean(volume.array[lesion]))
        shell = ndimage.binary_dilation(lesion, iterations=2) & ~lesion & lungs
        assert inside > np.mean(volume.array[shell]) + 300  # solid, in aerated lung: a mask moved off it fails
        row = rows[relative]
        centre = np.rint(volume.to_index([float(row[k]) for k in ("x_mm", "y_mm", "z_mm")])).astype(int)
        assert lesion[tuple(centre)]  # the nodule's centre, placed through the file's own affine
        (box,) = ndimage.find_objects(lesion.astype(int))
        assert [int(row[k]) for k in ("d", "h", "w")] == [s.start for s in box]
        assert [int(row[k]) for k in ("depth", "height", "width")] == [s.stop - s.start for s in box]
        voxel_volume = np.prod(volume.spacing)
        assert float(row["diameter_mm"]) == pytest.approx(
            (6 / np.pi * lesion.sum() * voxel_volume) ** (1 / 3), abs=0.01
        )


def test_simple_intensity_statistics_do_not_give_the_class_away():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features, labels = [], []
    for index in range(40):
        sample = draw_ct(synth.sample_rngs(11, index)[0], (32, 48, 48), synth.is_positive(index))
        lung = sample.hu[sample.roi_mask].astype(np.float32)
        features.append([lung.mean(), lung.std(), (lung > -400).mean(), (sample.hu > 300).mean()])
        labels.append(synth.is_positive(index))
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    accuracy = float(cross_val_score(model, np.asarray(features), labels, cv=5).mean())
    assert accuracy <= 0.8, f"lung intensity statistics alone separate the classes ({accuracy:.2f})"


def test_cli_writes_ct_volumes_and_refuses_bad_sizes(tmp_path, capsys):
    assert main(["synth", str(tmp_path / "ct"), "--kind", "ct", "--n", "2", "--seed", "0", "--size", "20x32x32"]) == 0
    captured = capsys.readouterr()
    assert "2 ct volumes of 20x32x32 voxels (14 x 10.625 x 10.625 mm)" in captured.out and "2/2 volumes" in captured.err
    assert read_volume(tmp_path / "ct" / "nodule" / "ct_00001.nii.gz").shape == (20, 32, 32)
    for bad in (["--size", "96"], ["--size", "8x32x32"], ["--shortcut", "0.5"], ["--size", "2x3"]):
        argv = ["synth", str(tmp_path / "bad"), "--kind", "ct", "--n", "2", "--seed", "0", *bad]
        assert main(argv) == 2
    assert not (tmp_path / "bad").exists()
    assert (
        main(["synth", str(tmp_path / "bad"), "--kind", "xray", "--n", "2", "--seed", "0", "--size", "64x64x64"]) == 2
    )
