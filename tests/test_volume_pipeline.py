"""Volumes through the same commands as images: train, evaluate, explain and localize on `synth --kind ct`.

Tiny volumes and one epoch: what is checked is that each command takes volumes and what it writes, against
independent computations (MONAI's transforms and the bare network for the probabilities, nibabel for the maps'
geometry, the maps and masks themselves for the 3-D localization scores).
"""

from __future__ import annotations

import csv
import json

import nibabel as nib
import numpy as np
import pytest
import torch

from camviewer import explain
from camviewer.cli import main
from camviewer.core.jobs import run_to_end
from camviewer.core.model.loading import load_model
from camviewer.core.synth import generate
from camviewer.core.volumes import read_volume

SIZE = (16, 20, 20)  # synth grid (d, h, w)
INPUT = (8, 12, 12)  # the model's grid


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("ct")
    data = root / "data"
    run_to_end(generate(data, "ct", 8, 0, size=SIZE))
    torch.set_num_threads(1)
    code = main(
        [
            "train",
            str(data),
            *("--arch", "tinyvgg_gap", "--spatial-dims", "3", "--widths", "4,8"),
            *("--input-size", "x".join(map(str, INPUT)), "--window", "lung"),
            *("--epochs", "1", "--batch-size", "4", "--threads", "1", "--out", str(root / "run")),
        ]
    )
    assert code == 0
    return data, root / "run" / "best.safetensors", root


def test_training_writes_a_volume_model_with_its_recipe(trained):
    _data, checkpoint, _root = trained
    card = load_model(checkpoint, device="cpu").card
    assert card.volume.size == INPUT and card.volume.window == (-1350.0, 150.0) and card.volume.intensity == "window"
    assert card.arch_options["spatial_dims"] == 3 and card.channels == 1
    assert card.class_names == ["nodule", "normal"] and card.positive_class == "nodule"


def test_evaluation_probabilities_are_monais_transforms_and_the_bare_network(trained):
    from monai.transforms import Compose, Resize, ScaleIntensityRange

    data, checkpoint, root = trained
    assert main(["evaluate", str(data), "--model", str(checkpoint), "--out", str(root / "eval")]) == 0
    metrics = json.loads((root / "eval" / "metrics.json").read_text())
    assert metrics["n"] == 8 and metrics["positive_class"] == "nodule"
    with open(root / "eval" / "predictions.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 8
    model = load_model(checkpoint, device="cpu")
    transform = Compose(
        [Resize(INPUT, mode="trilinear"), ScaleIntensityRange(-1350.0, 150.0, 0.0, 1.0, clip=True)]
    )  # the card's recipe, as a MONAI user writes it
    for row in rows:
        volume = read_volume(data / row["path"] if not row["path"].startswith("/") else row["path"])
        x = torch.as_tensor(transform(volume.array[None])).as_subclass(torch.Tensor)
        x = (x - model.card.mean[0]) / model.card.std[0]
        with torch.no_grad():
            probs = torch.softmax(model.module(x[None].float()), dim=1)[0].numpy()
        assert float(row["p_nodule"]) == pytest.approx(float(probs[0]), abs=1e-4)


def test_explain_writes_nifti_maps_on_the_source_grid_and_montages(trained):
    data, checkpoint, root = trained
    out = root / "explained"
    source = sorted((data / "nodule").glob("*.nii.gz"))[0]
    command = ["explain", str(source), "--model", str(checkpoint), "--method", "eigencam", "--target", "nodule"]
    assert main([*command, "--out", str(out)]) == 0  # EigenCAM: never empty, even for an untrained model
    stem = source.name.removesuffix(".nii.gz")
    written = nib.load(out / "maps" / f"{stem}__eigencam__nodule.nii.gz")
    original = nib.load(source)
    assert written.shape == original.shape and written.get_data_dtype() == np.float32
    np.testing.assert_allclose(written.affine, original.affine, atol=1e-5)
    values = np.asarray(written.dataobj)
    assert values.min() == 0.0 and values.max() == pytest.approx(1.0, abs=1e-5)  # min-max, + 1e-7 in the span
    model = load_model(checkpoint, device="cpu")
    api = explain(model, [source], methods=("eigencam",), target="nodule")[0].maps["eigencam"]["nodule"]
    np.testing.assert_allclose(values, np.nan_to_num(api).transpose(), atol=1e-6)  # (d, h, w) -> NIfTI (i, j, k)
    assert (out / "overlays" / f"{stem}__eigencam__nodule.png").is_file()


def test_localization_scores_the_3d_maps_against_the_lesion_masks(trained):
    data, checkpoint, root = trained
    out = root / "localized"
    code = main(
        ["localize", str(data), "--model", str(checkpoint), "--masks", str(data / "masks"), "--out", str(out)]
        + ["--method", "eigencam"]
    )
    assert code == 0
    with open(out / "localization.csv", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["truth_label"] == "nodule"]
    assert len(rows) == 4
    model = load_model(checkpoint, device="cpu")
    for row in rows:
        path = data / row["path"] if not row["path"].startswith("/") else row["path"]
        heat = explain(model, [path], methods=("eigencam",), target="nodule")[0].maps["eigencam"]["nodule"]
        mask = read_volume(str(path).replace(str(data), str(data / "masks"))).array > 0
        assert mask.any()
        peak = np.unravel_index(np.nanargmax(heat), heat.shape)
        assert (row["pointing_hit"] == "True") == bool(mask[peak])
        energy = np.nansum(heat[mask]) / np.nansum(heat)
        assert float(row["energy_in_region"]) == pytest.approx(energy, abs=1e-5)
        assert float(row["chance_pointing_hit"]) == pytest.approx(mask.mean(), abs=1e-6)  # a random voxel
