"""DICOM volumes: series written with pydicom (shuffled, oblique, gaps, two series...) and enhanced multi-frame CT."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from image_files import dicom_dataset, write_dicom
from volume_files import (
    AXIAL,
    ct_slice,
    enhanced_ct,
    lps_world,
    slice_positions,
    write_ct_series,
)

from camviewer.core.errors import (
    Cancelled,
    CorruptVolumeError,
    InconsistentSlicesError,
    MissingSlicesError,
    MixedSeriesError,
    UnevenSpacingError,
    UnsupportedVolumeError,
    VolumeError,
    VolumeTooLargeError,
)
from camviewer.core.jobs import CancelToken
from camviewer.core.volumes import list_series, read_volume, write_nifti

# Oblique: rows run along (cos 20, sin 20, 0), columns along -z: a tilted coronal-ish plane.
OBLIQUE = (np.cos(0.35), np.sin(0.35), 0.0, 0.0, 0.0, -1.0)
ORIGIN = (-120.0, 35.5, 80.0)


def phantom(depth=6, rows=5, columns=7, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(-1000, 1500, (depth, rows, columns)).astype(np.float64)


def test_shuffled_oblique_series_reads_in_position_order_with_hu_and_geometry(tmp_path):
    hu = phantom()
    positions = slice_positions(ORIGIN, OBLIQUE, 2.5, len(hu))
    uid = write_ct_series(
        tmp_path / "series",
        hu,
        positions,
        OBLIQUE,
        (0.7, 0.8),
        WindowCenter=[40, -600],
        WindowWidth=[400, 1500],
        WindowCenterWidthExplanation=["MEDIASTINUM", "LUNG"],
        SeriesDescription="chest",
    )
    files = sorted((tmp_path / "series").iterdir())
    # The files are real DICOM (pydicom reads them back), named in no useful order.
    instance_numbers = [pydicom.dcmread(f).InstanceNumber for f in files]
    assert sorted(instance_numbers) == list(range(1, 7)) and instance_numbers != sorted(instance_numbers)
    stored = pydicom.dcmread(files[0]).pixel_array
    assert stored.dtype == np.uint16

    volume = read_volume(tmp_path / "series")
    np.testing.assert_array_equal(volume.array, hu)  # stored + intercept -1024 = HU, slice k at position k
    assert volume.spacing == pytest.approx((2.5, 0.7, 0.8))
    info = volume.info
    assert (info.format, info.modality, info.units, info.series_uid, info.description) == (
        "DICOM series",
        "CT",
        "HU",
        uid,
        "chest",
    )
    assert [(w.name, w.center, w.width) for w in info.windows] == [("MEDIASTINUM", 40, 400), ("LUNG", -600, 1500)]
    assert info.display_windows[2].name == "lung"  # then the usual CT windows
    # Every voxel sits where DICOM's own equation puts it (LPS), in RAS.
    for k, r, c in [(0, 0, 0), (5, 4, 6), (3, 1, 2)]:
        lps = lps_world(positions[k], OBLIQUE, (0.7, 0.8), r, c)
        np.testing.assert_allclose(volume.to_world([k, r, c]), lps * [-1, -1, 1], atol=1e-6)


def test_slices_stored_top_down_are_sorted_along_the_normal(tmp_path):
    hu = phantom(seed=1)
    positions = slice_positions((0, 0, 100), AXIAL, -3.0, len(hu))  # instance 1 at the top, going down
    write_ct_series(tmp_path / "s", hu, positions)
    volume = read_volume(tmp_path / "s")
    np.testing.assert_array_equal(volume.array, hu[::-1])  # index 0 is the lowest slice
    assert volume.axis_codes == ("S", "P", "L") and volume.origin[2] == pytest.approx(85.0)


def test_rescale_slope_may_differ_per_slice(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    hu = phantom(depth=3, seed=2)
    uid = pydicom.uid.generate_uid()
    for k, slope in enumerate((1.0, 2.0, 0.5)):
        ds = ct_slice(hu[k], (0, 0, 2.0 * k), slope=slope, intercept=-1000.0, SeriesInstanceUID=uid)
        write_dicom(folder / f"{k}.dcm", ds)
    expected = [np.rint((hu[k] + 1000) / slope) * slope - 1000 for k, slope in enumerate((1.0, 2.0, 0.5))]
    np.testing.assert_allclose(read_volume(folder).array, np.stack(expected))


def test_a_missing_slice_is_reported_with_where_it_is(tmp_path):
    hu = phantom(depth=8)
    positions = slice_positions(ORIGIN, AXIAL, 1.25, 8)
    keep = [0, 1, 2, 4, 5, 6, 7]  # slice 3 lost
    write_ct_series(tmp_path / "gap", hu[keep], positions[keep])
    with pytest.raises(MissingSlicesError) as caught:
        read_volume(tmp_path / "gap")
    error = caught.value
    assert error.gaps == [(2, pytest.approx(2.5))] and error.step == pytest.approx(1.25) and error.slices == 7
    assert "1 slice(s) missing" in str(error) and "gap" in str(error) and str(tmp_path / "gap") in str(error)


def test_uneven_spacing_is_reported(tmp_path):
    hu = phantom(depth=8)
    z = np.array([0, 1, 2, 3, 4.3, 5.6, 6.9, 8.2])  # steps of 1.0 then 1.3 mm: no single spacing fits
    write_ct_series(tmp_path / "uneven", hu, np.stack([np.zeros(8), np.zeros(8), z], axis=1))
    with pytest.raises(UnevenSpacingError) as caught:
        read_volume(tmp_path / "uneven")
    assert caught.value.steps == [1.0, 1.3]


def test_positions_rounded_to_a_tenth_of_a_mm_still_make_a_volume(tmp_path):
    z = np.round(np.arange(10) * 0.625, 1)  # a scanner writing 0.6, 1.2, 1.9, 2.5 ...: jitter, not unevenness
    write_ct_series(tmp_path / "rounded", phantom(depth=10), np.stack([np.zeros(10), np.zeros(10), z], axis=1))
    assert read_volume(tmp_path / "rounded").spacing[0] == pytest.approx(0.625, abs=0.005)  # least-squares step


def test_two_series_in_one_folder_are_listed_and_each_reads_by_uid(tmp_path):
    folder = tmp_path / "mixed"
    first, second = phantom(depth=4, seed=3), phantom(depth=3, seed=4)
    uid_a = write_ct_series(folder, first, slice_positions(ORIGIN, AXIAL, 2.0, 4), SeriesDescription="soft")
    uid_b = write_ct_series(folder, second, slice_positions(ORIGIN, AXIAL, 5.0, 3), seed=1, SeriesDescription="lung")
    with pytest.raises(MixedSeriesError) as caught:
        read_volume(folder)
    listed = {(s.uid, s.description, s.files) for s in caught.value.series}
    assert listed == {(uid_a, "soft", 4), (uid_b, "lung", 3)}
    assert uid_a in str(caught.value) and uid_b in str(caught.value)
    np.testing.assert_array_equal(read_volume(folder, series_uid=uid_a).array, first)
    np.testing.assert_array_equal(read_volume(folder, series_uid=uid_b).array, second)
    assert [s.uid for s in list_series(folder)] == [uid_a, uid_b]  # largest first
    with pytest.raises(VolumeError, match="no series 1.2.3"):
        read_volume(folder, series_uid="1.2.3")


def test_slices_that_disagree_are_reported_not_guessed(tmp_path):
    hu = phantom(depth=4)
    positions = slice_positions(ORIGIN, AXIAL, 2.0, 4)
    uid = write_ct_series(tmp_path / "tilted", hu[:3], positions[:3])
    tilted = (1.0, 0.0, 0.0, 0.0, np.cos(0.2), np.sin(0.2))
    write_dicom(tmp_path / "tilted" / "odd.dcm", ct_slice(hu[3], positions[3], tilted, SeriesInstanceUID=uid))
    with pytest.raises(InconsistentSlicesError) as caught:
        read_volume(tmp_path / "tilted")
    assert caught.value.attribute == "orientation" and sorted(caught.value.values.values()) == [1, 3]

    uid = write_ct_series(tmp_path / "sizes", hu[:3], positions[:3])
    write_dicom(tmp_path / "sizes" / "odd.dcm", ct_slice(np.zeros((4, 4)), positions[3], SeriesInstanceUID=uid))
    with pytest.raises(InconsistentSlicesError, match="size") as caught:
        read_volume(tmp_path / "sizes")
    assert caught.value.values == {"5\\7": 3, "4\\4": 1}

    uid = write_ct_series(tmp_path / "twice", hu[:3], positions[:3])
    write_dicom(tmp_path / "twice" / "again.dcm", ct_slice(hu[3], positions[1], SeriesInstanceUID=uid))
    with pytest.raises(InconsistentSlicesError, match="several slices at one position") as caught:
        read_volume(tmp_path / "twice")
    assert list(caught.value.values.values()) == [2]


def test_other_files_are_passed_over_and_a_damaged_slice_is_named(tmp_path):
    folder = tmp_path / "s"
    hu, positions = phantom(depth=4), slice_positions(ORIGIN, AXIAL, 2.0, 4)
    uid = write_ct_series(folder, hu[:3], positions[:3])
    (folder / "notes.txt").write_text("scanned on Monday")
    write_dicom(folder / "report.dcm", dicom_dataset(None))  # a DICOM object without pixels
    assert read_volume(folder).shape == (3, 5, 7)
    broken = write_dicom(folder / "broken.dcm", ct_slice(hu[3], positions[3], SeriesInstanceUID=uid))
    broken.write_bytes(broken.read_bytes()[:-20])  # a copy cut short in the pixel data
    with pytest.raises(CorruptVolumeError, match="broken.dcm"):
        read_volume(folder)


def test_single_slices_and_empty_folders_are_not_volumes(tmp_path):
    write_ct_series(tmp_path / "one", phantom(depth=1), slice_positions(ORIGIN, AXIAL, 2.0, 1))
    with pytest.raises(UnsupportedVolumeError, match="single slice"):
        read_volume(tmp_path / "one")
    with pytest.raises(UnsupportedVolumeError, match="2-D image"):
        read_volume(next((tmp_path / "one").iterdir()))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UnsupportedVolumeError, match="no DICOM images"):
        read_volume(tmp_path / "empty")


def test_size_limit_and_cancel_act_before_decoding(tmp_path):
    write_ct_series(tmp_path / "s", phantom(), slice_positions(ORIGIN, AXIAL, 2.0, 6))
    with pytest.raises(VolumeTooLargeError, match="6x5x7 = 210 voxels"):
        read_volume(tmp_path / "s", max_voxels=209)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        read_volume(tmp_path / "s", cancel=token)


def test_enhanced_multiframe_ct_reads_like_the_same_series(tmp_path):
    hu = phantom(depth=5, seed=5)
    positions = slice_positions(ORIGIN, OBLIQUE, 3.0, 5)
    slopes = [1.0, 2.0, 1.0, 0.5, 1.0]
    ds = enhanced_ct(hu, positions, OBLIQUE, frame_order=[3, 0, 4, 1, 2], slopes=slopes)
    write_dicom(tmp_path / "enhanced.dcm", ds)
    check = pydicom.dcmread(tmp_path / "enhanced.dcm")
    assert check.pixel_array.shape == (5, 5, 7) and len(check.PerFrameFunctionalGroupsSequence) == 5

    volume = read_volume(tmp_path / "enhanced.dcm")
    expected = np.stack([np.rint((hu[k] + 1024) / slopes[k]) * slopes[k] - 1024 for k in range(5)])
    np.testing.assert_allclose(volume.array, expected)
    assert volume.info.format == "DICOM multi-frame" and volume.info.units == "HU"
    assert [(w.name, w.center, w.width) for w in volume.info.windows] == [("LUNG", -600, 1500)]
    write_ct_series(tmp_path / "series", hu, positions, OBLIQUE)
    np.testing.assert_allclose(volume.affine, read_volume(tmp_path / "series").affine, atol=1e-9)


def test_a_multiframe_file_without_positions_is_a_2d_image(tmp_path):
    frames = np.zeros((4, 6, 6), np.uint8)
    write_dicom(tmp_path / "cine.dcm", dicom_dataset(frames, multi_frame=True))
    with pytest.raises(UnsupportedVolumeError, match="2-D image"):
        read_volume(tmp_path / "cine.dcm")


def test_a_series_written_as_nifti_lands_on_the_same_world_grid(tmp_path):
    hu = phantom(seed=6)
    positions = slice_positions(ORIGIN, OBLIQUE, 2.5, len(hu))
    write_ct_series(tmp_path / "series", hu, positions, OBLIQUE)
    volume = read_volume(tmp_path / "series")
    write_nifti(tmp_path / "map.nii.gz", volume.array / 1000, like=volume)
    again = read_volume(tmp_path / "map.nii.gz")
    np.testing.assert_allclose(again.affine, volume.affine, atol=1e-5)
    np.testing.assert_allclose(again.array, volume.array / 1000, rtol=1e-6)


def test_gantry_tilt_keeps_each_slice_where_dicom_puts_it(tmp_path):
    hu = phantom(seed=7)
    positions = np.asarray(ORIGIN) + np.outer(np.arange(len(hu)), [0.0, 0.6, 2.0])  # slices slide as they rise
    write_ct_series(tmp_path / "tilt", hu, positions)
    volume = read_volume(tmp_path / "tilt")
    for k, r, c in [(0, 0, 0), (5, 4, 6), (2, 3, 1)]:
        lps = lps_world(positions[k], AXIAL, (0.7, 0.8), r, c)
        np.testing.assert_allclose(volume.to_world([k, r, c]), lps * [-1, -1, 1], atol=1e-6)
    assert volume.spacing[0] == pytest.approx(np.hypot(0.6, 2.0))  # the step between slice centres
