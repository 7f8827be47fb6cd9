"""NIfTI volumes: geometry from the affine (oblique, flipped), scaling, 4-D files, units, errors, writing maps."""

from __future__ import annotations

import gzip

import nibabel as nib
import numpy as np
import pytest

from camviewer.core.errors import (
    CorruptVolumeError,
    ImageError,
    MultipleVolumesError,
    UnsupportedVolumeError,
    VolumeError,
    VolumeTooLargeError,
)
from camviewer.core.volumes import Volume, read_volume, write_nifti


def oblique_affine() -> np.ndarray:
    """NIfTI (i, j, k) -> RAS: voxels 0.7 x 0.9 x 2.5 mm, turned 30 degrees about z, j flipped, an origin."""
    angle = np.deg2rad(30)
    turn = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = turn @ np.diag([0.7, -0.9, 2.5])
    affine[:3, 3] = [-40.0, 25.0, -110.0]
    return affine


def save(path, data, affine, **header) -> None:
    image = nib.Nifti1Image(data, affine)
    for key, value in header.items():
        image.header[key] = value
    nib.save(image, path)


def test_oblique_flipped_volume_keeps_its_geometry(tmp_path):
    data = np.random.default_rng(0).normal(size=(7, 6, 5)).astype(np.float32)  # (i, j, k)
    save(tmp_path / "oblique.nii.gz", data, oblique_affine())
    volume = read_volume(tmp_path / "oblique.nii.gz")
    assert volume.shape == (5, 6, 7) and volume.array.dtype == np.float32
    assert volume.array[4, 1, 3] == data[3, 1, 4]  # array[k, j, i] is data[i, j, k]
    assert volume.spacing == pytest.approx((2.5, 0.9, 0.7))
    # Voxel (i, j, k) = (3, 1, 4) by hand: origin + 3 * 0.7 * (cos30, sin30, 0) - 1 * 0.9 * (-sin30, cos30, 0) + 4 * 2.5 z
    c, s = np.cos(np.deg2rad(30)), np.sin(np.deg2rad(30))
    expected = np.array([-40 + 2.1 * c + 0.9 * s, 25 + 2.1 * s - 0.9 * c, -110 + 10.0])
    np.testing.assert_allclose(volume.to_world([4, 1, 3]), expected, atol=1e-5)
    np.testing.assert_allclose(volume.to_index(expected), [4, 1, 3], atol=1e-5)
    np.testing.assert_allclose(volume.nifti_affine, oblique_affine(), atol=1e-5)
    np.testing.assert_allclose(volume.direction[:, 2], [c, s, 0], atol=1e-6)  # w runs along i: turned 30 degrees
    assert volume.info.format == "NIfTI" and volume.info.geometry == "sform"


def test_axis_codes_of_a_flipped_axial_volume(tmp_path):
    # i towards the patient's left (-x), j towards the back (-y), k up: how DICOM axial series look in RAS.
    save(tmp_path / "lps.nii", np.zeros((4, 3, 2), np.int16), np.diag([-0.8, -0.8, 2.5, 1.0]))
    volume = read_volume(tmp_path / "lps.nii")
    assert volume.axis_codes == ("S", "P", "L")  # array axes (d, h, w) = (k, j, i)


def test_scl_slope_and_inter_are_applied(tmp_path):
    stored = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    image = nib.Nifti1Image(stored, np.eye(4))
    image.header.set_slope_inter(2.0, -1024.0)
    nib.save(image, tmp_path / "scaled.nii.gz")
    volume = read_volume(tmp_path / "scaled.nii.gz")
    np.testing.assert_array_equal(volume.array, (stored * 2.0 - 1024.0).transpose(2, 1, 0))


def test_qform_only_and_metre_units(tmp_path):
    image = nib.Nifti1Image(np.zeros((2, 3, 4), np.float32), None)
    qform = np.diag([0.001, 0.002, 0.003, 1.0])
    qform[:3, 3] = [0.01, 0.02, 0.03]
    image.set_qform(qform, code="scanner")
    image.set_sform(None, code=0)
    image.header.set_xyzt_units("meter")
    nib.save(image, tmp_path / "qform.nii")
    volume = read_volume(tmp_path / "qform.nii")
    assert volume.info.geometry == "qform"
    assert volume.spacing == pytest.approx((3.0, 2.0, 1.0))  # metres -> millimetres
    np.testing.assert_allclose(volume.origin, [10.0, 20.0, 30.0])


def test_four_d_file_is_refused_unless_a_volume_is_chosen(tmp_path):
    data = np.stack([np.full((3, 4, 5), t, np.float32) for t in range(3)], axis=-1)
    save(tmp_path / "series.nii.gz", data, np.eye(4))
    with pytest.raises(MultipleVolumesError) as caught:
        read_volume(tmp_path / "series.nii.gz")
    assert caught.value.count == 3 and "0 to 2" in str(caught.value)
    assert read_volume(tmp_path / "series.nii.gz", volume_index=2).array.max() == 2
    with pytest.raises(UnsupportedVolumeError, match="no volume 3"):
        read_volume(tmp_path / "series.nii.gz", volume_index=3)
    save(tmp_path / "single.nii.gz", data[..., :1], np.eye(4))  # a 4-D file with one volume is a volume
    assert read_volume(tmp_path / "single.nii.gz").shape == (5, 4, 3)


def test_errors_are_typed_and_name_the_file(tmp_path):
    save(tmp_path / "flat.nii", np.zeros((4, 5), np.float32), np.eye(4))
    with pytest.raises(UnsupportedVolumeError, match="flat.nii.*2-D"):
        read_volume(tmp_path / "flat.nii")
    good = tmp_path / "good.nii.gz"
    save(good, np.random.default_rng(1).normal(size=(20, 20, 20)).astype(np.float32), np.eye(4))
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    with pytest.raises(CorruptVolumeError, match="cut.nii.gz") as caught:
        read_volume(cut)
    assert isinstance(caught.value, ImageError)  # code that skips unreadable images skips this too
    (tmp_path / "text.nii").write_text("not a volume")
    with pytest.raises(CorruptVolumeError, match="text.nii"):
        read_volume(tmp_path / "text.nii")
    with pytest.raises(VolumeError, match="no such file"):
        read_volume(tmp_path / "missing.nii.gz")
    with pytest.raises(VolumeTooLargeError, match="8,000"):
        read_volume(good, max_voxels=7_999)


def test_write_nifti_keeps_the_source_grid_and_is_deterministic(tmp_path):
    data = np.random.default_rng(2).normal(size=(7, 6, 5)).astype(np.float32)
    save(tmp_path / "source.nii.gz", data, oblique_affine())
    volume = read_volume(tmp_path / "source.nii.gz")
    heat = np.random.default_rng(3).random(volume.shape).astype(np.float32)
    write_nifti(tmp_path / "map.nii.gz", heat, like=volume)
    written = nib.load(tmp_path / "map.nii.gz")
    assert written.shape == (7, 6, 5) and written.get_data_dtype() == np.float32
    np.testing.assert_allclose(written.affine, oblique_affine(), atol=1e-5)  # nibabel's view, as Slicer reads it
    np.testing.assert_array_equal(np.asarray(written.dataobj), heat.transpose(2, 1, 0))
    assert int(written.header["sform_code"]) == 1 and written.header.get_xyzt_units()[0] == "mm"
    first = (tmp_path / "map.nii.gz").read_bytes()
    write_nifti(tmp_path / "map.nii.gz", heat, like=volume)
    assert (tmp_path / "map.nii.gz").read_bytes() == first  # no time stamp in the gzip header
    assert gzip.decompress(first)[344:348] == b"n+1\x00"  # a single-file NIfTI-1 inside
    with pytest.raises(ValueError, match="shape"):
        write_nifti(tmp_path / "wrong.nii.gz", heat[:-1], like=volume)
    assert not (tmp_path / "wrong.nii.gz").exists()


def test_write_nifti_from_an_affine_with_integer_labels(tmp_path):
    affine = np.diag([2.5, -0.8, -0.8, 1.0])  # array order (d, h, w)
    labels = np.zeros((3, 4, 5), np.uint8)
    labels[1, 2, 3] = 1
    write_nifti(tmp_path / "mask.nii", labels, affine=affine, dtype=np.uint8)
    back = read_volume(tmp_path / "mask.nii")
    np.testing.assert_allclose(back.affine, affine)
    assert nib.load(tmp_path / "mask.nii").get_data_dtype() == np.uint8
    assert np.argwhere(back.array == 1).tolist() == [[1, 2, 3]]
    with pytest.raises(ValueError, match="exactly one"):
        write_nifti(tmp_path / "x.nii", labels, like=Volume(labels, affine), affine=affine)
