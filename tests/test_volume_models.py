"""3-D models: MONAI and torchvision video networks for volumes, their checkpoints, the volume recipe (against
MONAI's transforms) and maps placed back on the source voxels (against scipy's interpolation)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.transforms import (
    Compose,
    EnsureChannelFirst,
    LoadImage,
    NormalizeIntensity,
    Resize,
    ResizeWithPadOrCrop,
    ScaleIntensityRange,
    Spacing,
)
from scipy import ndimage

from camviewer.commands._common import remedy
from camviewer.core import synth
from camviewer.core.cam.display import upsample_volume_map
from camviewer.core.errors import (
    ArchitectureInferenceError,
    InvalidModelCard,
    SpatialDimsMismatch,
    StateDictMismatchError,
)
from camviewer.core.jobs import run_to_end
from camviewer.core.model.archs import build_model, replace_first_conv
from camviewer.core.model.card import ModelCard
from camviewer.core.model.loading import load_model, new_model
from camviewer.core.model.volume_recipe import VolumeRecipe
from camviewer.core.preprocess_volume import to_unit_volume
from camviewer.core.volumes import read_volume

SIZE = (32, 32, 32)
ARCHS_3D = [
    ("monai:DenseNet121", {}),
    ("monai:resnet10", {}),
    ("monai:resnet18", {}),
    ("monai:resnet34", {}),
    ("monai:resnet50", {}),
    ("r3d_18", {}),
    ("mc3_18", {}),
    ("r2plus1d_18", {}),
    ("tinyvgg_gap", {"spatial_dims": 3, "widths": [4, 8]}),
]


def volume_card(arch: str, options: dict | None = None, size=SIZE, channels: int = 1, **recipe) -> ModelCard:
    return ModelCard(
        arch=arch,
        class_names=["normal", "nodule"],
        channels=channels,
        mean=(0.5,) * channels,
        std=(0.25,) * channels,
        arch_options=dict(options or {}),
        volume=VolumeRecipe(size, **recipe),
    )


def outputs(module, x):
    module.eval()
    with torch.no_grad():
        return module(x)


@pytest.fixture(scope="module")
def ct_files(tmp_path_factory):
    out = tmp_path_factory.mktemp("ct")
    run_to_end(synth.generate(out, "ct", 2, 0, size=(24, 40, 36)))
    return sorted(out.glob("*/*.nii.gz"))


@pytest.mark.parametrize(("arch", "options"), ARCHS_3D)
def test_every_3d_network_takes_one_channel_volumes(arch, options, one_thread):
    model = new_model(volume_card(arch, options), device="cpu")
    assert model.card.spatial_dims == 3 and model.card.input_size == SIZE
    logits = outputs(model.module, torch.randn(2, 1, *SIZE))
    assert logits.shape == (2, 2) and torch.isfinite(logits).all()


def test_a_video_resnet_adapted_to_one_channel_answers_a_grey_volume_as_its_rgb_copy(one_thread):
    torch.manual_seed(0)
    rgb = build_model("r3d_18", 2, 3).eval()
    grey = build_model("r3d_18", 2, 3).eval()
    grey.load_state_dict(rgb.state_dict())
    replace_first_conv(grey, 1)
    volume = torch.rand(1, 1, 8, 32, 32)
    torch.testing.assert_close(outputs(grey, volume), outputs(rgb, volume.expand(1, 3, -1, -1, -1)))


@pytest.mark.parametrize(("arch", "channels"), [("monai:resnet18", 1), ("monai:DenseNet121", 1), ("r3d_18", 3)])
def test_bare_state_dicts_of_3d_networks_load_strictly_with_the_architecture_named(tmp_path, arch, channels):
    torch.manual_seed(0)
    source = new_model(volume_card(arch, channels=channels), device="cpu")
    path = tmp_path / "weights.pth"
    torch.save(source.module.state_dict(), path)
    loaded = load_model(path, arch=arch, input_size=SIZE, device="cpu")
    assert loaded.card.volume.size == SIZE and loaded.card.channels == channels
    assert loaded.card.arch_options.get("spatial_dims", 3) == 3
    probe = torch.randn(1, channels, *SIZE)
    torch.testing.assert_close(outputs(loaded.module, probe), outputs(source.module, probe))

    with pytest.raises(ArchitectureInferenceError, match="3-D convolution kernels"):
        load_model(path, device="cpu")  # the keys of a 3-D network are not enough to tell it
    state = source.module.state_dict()
    state.pop(next(iter(state)))
    torch.save(state, tmp_path / "short.pth")
    with pytest.raises(StateDictMismatchError, match="1 missing"):
        load_model(tmp_path / "short.pth", arch=arch, input_size=SIZE, device="cpu")


def test_a_3d_tinyvgg_is_told_from_its_weights(tmp_path):
    source = new_model(volume_card("tinyvgg_gap", {"spatial_dims": 3, "widths": [4, 8]}), device="cpu")
    torch.save(source.module.state_dict(), tmp_path / "tiny.pt")
    loaded = load_model(tmp_path / "tiny.pt", device="cpu")
    assert loaded.card.arch == "tinyvgg_gap" and loaded.card.arch_options == {"widths": [4, 8], "spatial_dims": 3}
    assert loaded.card.spatial_dims == 3


def test_the_volume_recipe_travels_in_the_checkpoint(tmp_path):
    card = volume_card("monai:resnet10", size=(24, 40, 36), spacing=(5.0, 4.0, 4.0), window=(-1200, 600))
    path = new_model(card, device="cpu").save(tmp_path / "ct.safetensors")
    loaded = load_model(path, device="cpu")
    assert loaded.card.volume == card.volume and loaded.card.to_dict() == card.to_dict()
    assert loaded.card.describe_recipe() == "5 × 4 × 4 mm voxels (first voxel kept), centre crop/pad to 24×40×36, " + (
        "window [-1200, 600] -> [0, 1]"
    )
    changed = load_model(path, device="cpu", input_size=(16, 24, 24), volume={"intensity": "zscore"})
    assert changed.card.volume == VolumeRecipe((16, 24, 24), spacing=(5.0, 4.0, 4.0), intensity="zscore")


@pytest.mark.parametrize("size", [(1, 16, 16), (8, 2000, 16), (8, 16, 16.5), (8, 16, 16, 16)])
def test_a_volume_grid_out_of_bounds_is_an_invalid_card_naming_the_field(size):
    with pytest.raises(InvalidModelCard, match="size"):
        ModelCard.from_dict({**volume_card("tinyvgg_gap", {"spatial_dims": 3}).to_dict(), "input_size": list(size)})
    with pytest.raises(InvalidModelCard, match="volume.size"):
        VolumeRecipe(size)


def test_a_network_and_a_recipe_of_different_dimensions_are_refused(tmp_path):
    with pytest.raises(SpatialDimsMismatch) as error:
        new_model(ModelCard("r3d_18", ["a", "b"], input_size=(112, 112)), device="cpu")
    assert (error.value.network_dims, error.value.recipe_dims) == (3, 2) and remedy(error.value)
    with pytest.raises(SpatialDimsMismatch):
        new_model(ModelCard("resnet18", ["a", "b"], input_size=(16, 32, 32)), device="cpu")
    two_d = new_model(ModelCard("monai:DenseNet121", ["a", "b"], arch_options={"spatial_dims": 2}), device="cpu")
    assert outputs(two_d.module, torch.randn(1, 3, 64, 64)).shape == (1, 2)


MONAI_PIPELINES = [
    (
        {"window": (-1000, 400)},
        lambda size, _: [Resize(size[::-1], mode="trilinear"), ScaleIntensityRange(-1000, 400, 0, 1, clip=True)],
    ),
    ({}, lambda size, _: [Resize(size[::-1], mode="trilinear"), NormalizeIntensity()]),
    (
        {"spacing": (9.0, 7.5, 8.25), "window": (-1000, 400)},
        lambda size, mm: [
            Spacing(pixdim=mm[::-1], mode="bilinear"),
            ScaleIntensityRange(-1000, 400, 0, 1, clip=True),
            ResizeWithPadOrCrop(size[::-1]),
        ],
    ),
    (
        {"spacing": (3.0, 2.5, 3.0), "intensity": "zscore"},
        lambda size, mm: [
            Spacing(pixdim=mm[::-1], mode="bilinear"),
            NormalizeIntensity(),
            ResizeWithPadOrCrop(size[::-1]),
        ],
    ),
]


@pytest.mark.parametrize(("recipe", "transforms"), MONAI_PIPELINES)
def test_the_model_input_is_what_monai_transforms_give(ct_files, recipe, transforms):
    size = (20, 36, 28)
    card = volume_card("monai:resnet10", size=size, **recipe)
    path = ct_files[0]
    ours = to_unit_volume(read_volume(path), card)[0].numpy()
    # MONAI reads NIfTI in (i, j, k) order, the reverse of our (d, h, w): sizes and spacings are given reversed
    pipeline = Compose(
        [
            LoadImage(reader="NibabelReader", image_only=True),
            EnsureChannelFirst(),
            *transforms(size, recipe.get("spacing")),
        ]
    )
    theirs = np.asarray(pipeline(str(path)))[0].transpose(2, 1, 0)
    assert ours.shape == theirs.shape == size
    np.testing.assert_allclose(ours, theirs, atol=2e-6)


def scipy_placement(raw: np.ndarray, card: ModelCard, shape, spacing) -> np.ndarray:
    """The reference: each source voxel centre mapped into the map (scipy's linear interpolation), NaN outside."""
    recipe = card.volume
    grids = np.meshgrid(*(np.arange(n, dtype=np.float64) for n in shape), indexing="ij")
    coordinates, inside = [], np.ones(shape, bool)
    for axis, index in enumerate(grids):
        if recipe.spacing is None:
            resampled_index = (index + 0.5) * recipe.size[axis] / shape[axis] - 0.5
            offset = 0
        else:
            resampled_index = index * spacing[axis] / recipe.spacing[axis]
            resampled = round((shape[axis] - 1) * spacing[axis] / recipe.spacing[axis] + 1)
            offset = (
                resampled // 2 - recipe.size[axis] // 2
                if resampled >= recipe.size[axis]
                else -((recipe.size[axis] - resampled) // 2)
            )
        model_index = resampled_index - offset
        inside &= (model_index >= -0.5) & (model_index < recipe.size[axis] - 0.5)
        coordinates.append((model_index + 0.5) * raw.shape[axis] / recipe.size[axis] - 0.5)
    values = ndimage.map_coordinates(np.maximum(raw, 0).astype(np.float64), coordinates, order=1, mode="nearest")
    values -= values[inside].min()
    values /= values[inside].max()
    return np.where(inside, values, np.nan)


@pytest.mark.parametrize("recipe", [{}, {"spacing": (6.0, 5.0, 5.5)}, {"spacing": (2.0, 1.5, 1.8)}])
def test_maps_go_back_onto_the_source_voxels_through_the_exact_inverse(recipe):
    rng = np.random.default_rng(0)
    card = volume_card("monai:resnet10", size=(24, 40, 36), **recipe)
    shape, spacing = (30, 52, 44), (4.0, 3.2, 3.6)
    raw = rng.normal(size=(3, 5, 5)).astype(np.float32)
    placed = upsample_volume_map(raw, card.volume.placement(shape, spacing))
    expected = scipy_placement(raw, card, shape, spacing)
    assert placed.shape == shape and placed.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(placed), np.isnan(expected))
    np.testing.assert_allclose(placed, expected, atol=1e-5)
    assert np.nanmin(placed) == 0 and abs(np.nanmax(placed) - 1) < 1e-5
    if recipe.get("spacing") == (2.0, 1.5, 1.8):  # a crop: some voxels were never seen
        assert np.isnan(placed).any()
