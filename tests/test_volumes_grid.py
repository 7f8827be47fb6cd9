"""Grid changes keep voxels where they are in the patient: resizing (scipy, MONAI and world coordinates as
references), maps back onto the source grid, crop/pad, reorienting (nibabel's canonical orientation)."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import torch
from scipy import ndimage

from camviewer.core.volumes import Volume, crop_or_pad, reorient
from camviewer.core.volumes.resample import resample_volume, resize, to_volume_grid


def oblique_volume(shape=(6, 7, 8), values=None) -> Volume:
    angle = np.deg2rad(25)
    affine = np.eye(4)
    affine[:3, :3] = np.array([[0, np.cos(angle), -np.sin(angle)], [0, -np.sin(angle), -np.cos(angle)], [1, 0, 0]])
    affine[:3, :3] = affine[:3, :3] @ np.diag([2.5, 0.8, 0.7])
    affine[:3, 3] = [30.0, -12.0, -200.0]
    if values is None:
        values = np.random.default_rng(0).normal(size=shape)
    return Volume(values, affine)


@pytest.mark.parametrize("shape", [(12, 14, 16), (3, 4, 5), (6, 9, 4)])
def test_resize_is_scipy_zoom_on_voxel_edges(shape):
    values = np.random.default_rng(1).random((6, 7, 8)).astype(np.float32)
    reference = ndimage.zoom(values, np.divide(shape, values.shape), order=1, grid_mode=True, mode="nearest")
    resized = resize(values, shape)
    assert resized.dtype == np.float32 and resized.shape == shape
    np.testing.assert_allclose(resized, reference, atol=1e-5)


def test_resize_keeps_leading_axes_and_tensors_and_never_returns_the_input():
    maps = torch.rand(2, 3, 4, 5, 6)  # (batch, class, d, h, w)
    resized = resize(maps, (8, 10, 12))
    assert isinstance(resized, torch.Tensor) and resized.shape == (2, 3, 8, 10, 12)
    torch.testing.assert_close(resized[1, 2], torch.from_numpy(resize(maps[1, 2].numpy(), (8, 10, 12))))
    values = np.ones((4, 5, 6), np.float32)
    same = resize(values, (4, 5, 6))
    same[0, 0, 0] = 7
    assert values[0, 0, 0] == 1


def test_nearest_mode_repeats_labels():
    labels = np.random.default_rng(2).integers(0, 3, (3, 4, 5)).astype(np.float32)
    doubled = resize(labels, (6, 8, 10), mode="nearest")
    np.testing.assert_array_equal(doubled, labels.repeat(2, 0).repeat(2, 1).repeat(2, 2))


def world_linear(volume: Volume, points) -> np.ndarray:
    return np.asarray(points) @ np.array([0.3, -1.7, 0.9]) + 5.0


def test_resampled_voxels_carry_the_values_of_their_world_positions():
    grid = oblique_volume()
    indices = np.stack(np.meshgrid(*map(np.arange, grid.shape), indexing="ij"), axis=-1)
    volume = grid.with_array(world_linear(grid, grid.to_world(indices)))  # a linear function of RAS mm
    for result in (resample_volume(volume, spacing=(1.0, 0.5, 0.5)), resample_volume(volume, size=(4, 11, 5))):
        new_indices = np.stack(np.meshgrid(*map(np.arange, result.shape), indexing="ij"), axis=-1)
        world = result.to_world(new_indices)
        old = volume.to_index(world)  # where each new voxel centre falls in the old grid
        inside = ((old >= 0) & (old <= np.subtract(volume.shape, 1))).all(axis=-1)  # no edge clamping there
        assert inside.sum() > 0.3 * inside.size
        np.testing.assert_allclose(result.array[inside], world_linear(volume, world[inside]), atol=1e-3)
    finer = resample_volume(volume, spacing=(1.0, 0.5, 0.5))
    assert finer.shape == (15, 11, 11)  # 6 x 2.5 = 15 mm, 7 x 0.8 = 5.6 mm, 8 x 0.7 = 5.6 mm
    assert finer.spacing == pytest.approx((1.0, 5.6 / 11, 5.6 / 11))  # field of view kept exactly
    with pytest.raises(ValueError, match="exactly one"):
        resample_volume(volume)


def test_a_map_at_layer_resolution_goes_back_onto_the_source_grid():
    volume = oblique_volume(shape=(8, 12, 16))
    model_input = resample_volume(volume, size=(16, 16, 16))
    heat = np.zeros((4, 4, 4), np.float32)  # a layer at stride 4 of the model input
    heat[1, 2, 3] = 1.0
    back = to_volume_grid(heat, volume)
    assert back.shape == volume.shape
    # The peak lands at the world point of the layer cell's centre: cell (1, 2, 3) covers input voxels 4..7
    # on each axis, centre 5.5 / 9.5 / 13.5 in input indices.
    expected = model_input.to_world([5.5, 9.5, 13.5])
    peak = np.unravel_index(np.argmax(back), back.shape)
    assert np.linalg.norm(volume.to_world(peak) - expected) <= np.linalg.norm(volume.spacing) / 2 + 1e-6


@pytest.mark.parametrize("size", [(3, 8, 4), (7, 7, 9), (6, 2, 11)])
def test_crop_or_pad_matches_monai_and_keeps_world_positions(size):
    from monai.transforms import ResizeWithPadOrCrop

    volume = oblique_volume(values=np.arange(6 * 7 * 8, dtype=np.float32).reshape(6, 7, 8) + 1)
    result = crop_or_pad(volume, size, fill=0)
    reference = np.asarray(ResizeWithPadOrCrop(size, mode="constant")(volume.array[None])[0])
    np.testing.assert_array_equal(result.array, reference)
    for index in np.argwhere(result.array > 0):
        source = np.rint(volume.to_index(result.to_world(index))).astype(int)
        assert result.array[tuple(index)] == volume.array[tuple(source)]


def test_reorient_is_nibabels_canonical_orientation_and_keeps_world_positions():
    volume = oblique_volume(values=np.arange(6 * 7 * 8, dtype=np.float32).reshape(6, 7, 8))
    canonical = reorient(volume, ("S", "A", "R"))  # array order of NIfTI's RAS (i, j, k)
    assert canonical.axis_codes == ("S", "A", "R")
    image = nib.as_closest_canonical(nib.Nifti1Image(volume.array.transpose(2, 1, 0), volume.nifti_affine))
    np.testing.assert_array_equal(canonical.array, np.asarray(image.dataobj).transpose(2, 1, 0))
    np.testing.assert_allclose(canonical.nifti_affine, image.affine, atol=1e-9)
    for value in (0, 17, 200, 335):
        before = volume.to_world(np.argwhere(volume.array == value)[0])
        after = canonical.to_world(np.argwhere(canonical.array == value)[0])
        np.testing.assert_allclose(after, before, atol=1e-9)
