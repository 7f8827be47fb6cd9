"""Telling volumes from 2-D images, listing the volumes of a folder tree, and what a viewer lists and offers."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from image_files import dicom_dataset, write_dicom
from PIL import Image
from volume_files import AXIAL, enhanced_ct, slice_positions, write_ct_series

from camviewer.core.images import list_images
from camviewer.core.images.values import CT_PRESETS
from camviewer.core.volumes import (
    Volume,
    VolumeInfo,
    VolumeSource,
    WindowPreset,
    is_volume_source,
    list_folder_sources,
    list_volumes,
    planes,
    read_volume,
    volume_format,
)
from camviewer.core.volumes.planes import display_windows


def nifti(path, shape=(4, 5, 6)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.zeros(shape, np.float32), np.eye(4)), path)


def series(folder, depth=3, seed=0, **elements) -> str:
    hu = np.zeros((depth, 4, 4))
    return write_ct_series(folder, hu, slice_positions((0, 0, 0), AXIAL, 2.0, depth), seed=seed, **elements)


def test_volume_sources_are_told_from_2d_images(tmp_path):
    nifti(tmp_path / "brain.nii.gz")
    nifti(tmp_path / "raw.NII")
    series(tmp_path / "ct")
    write_dicom(tmp_path / "enhanced.dcm", enhanced_ct(np.zeros((3, 4, 4)), slice_positions((0, 0, 0), AXIAL, 2.0, 3)))
    write_dicom(tmp_path / "cine.dcm", dicom_dataset(np.zeros((3, 4, 4), np.uint8), multi_frame=True))
    write_dicom(tmp_path / "xray.dcm", dicom_dataset(np.zeros((8, 8), np.uint16)))
    (tmp_path / "xrays").mkdir()  # a folder of radiographs: DICOM images without positions
    for name in ("a", "b"):
        write_dicom(tmp_path / "xrays" / f"{name}.dcm", dicom_dataset(np.zeros((8, 8), np.uint16)))
    Image.new("L", (8, 8)).save(tmp_path / "photo.png")
    expected = {
        "brain.nii.gz": "NIfTI",
        "raw.NII": "NIfTI",
        "ct": "DICOM series",
        "enhanced.dcm": "DICOM multi-frame",
        "cine.dcm": None,
        "xray.dcm": None,
        "xrays": None,
        "photo.png": None,
        "missing.nii.gz": None,
    }
    assert {name: volume_format(tmp_path / name) for name in expected} == expected
    assert is_volume_source(tmp_path / "ct") and not is_volume_source(tmp_path / "xray.dcm")
    series(tmp_path / "one", depth=1)
    assert not is_volume_source(tmp_path / "one")  # one slice is a 2-D image


def test_list_volumes_finds_each_file_series_and_multiframe_volume(tmp_path):
    root = tmp_path / "data"
    nifti(root / "nodule" / "case10.nii.gz")
    nifti(root / "nodule" / "case2.nii")
    uid = series(root / "nodule" / "case3")
    mixed_a = series(root / "normal" / "two_series", depth=3, seed=1)
    mixed_b = series(root / "normal" / "two_series", depth=4, seed=2)
    write_dicom(root / "normal" / "mf.dcm", enhanced_ct(np.zeros((3, 4, 4)), slice_positions((0, 0, 0), AXIAL, 2, 3)))
    (root / "normal" / "notes.txt").write_text("x")
    nifti(root / ".hidden" / "skip.nii.gz")
    found = list_volumes(root)
    relative = [(s.path.relative_to(root).as_posix(), s.format, s.series_uid) for s in found]
    assert relative == [
        ("nodule/case2.nii", "NIfTI", ""),
        ("nodule/case3", "DICOM series", uid),
        ("nodule/case10.nii.gz", "NIfTI", ""),
        ("normal/mf.dcm", "DICOM multi-frame", found[3].series_uid),
        *sorted([("normal/two_series", "DICOM series", mixed_a), ("normal/two_series", "DICOM series", mixed_b)]),
    ]
    assert [s.stem for s in found[:4]] == ["case2", "case3", "case10", "mf"]
    # Each listed source reads as it is, a folder holding two series included.
    depth = {mixed_a: 3, mixed_b: 4}
    shapes = [read_volume(source).shape for source in found]
    assert shapes == [(6, 5, 4), (3, 4, 4), (6, 5, 4), (3, 4, 4), *[(depth[s.series_uid], 4, 4) for s in found[4:]]]
    assert list_volumes(root / "nodule", recursive=False) == [
        VolumeSource(root / "nodule" / "case2.nii", "NIfTI"),
        VolumeSource(root / "nodule" / "case10.nii.gz", "NIfTI"),
    ]


def test_a_viewer_lists_images_and_volumes_with_a_series_in_place_of_its_slices(tmp_path):
    root = tmp_path / "study"
    uid = series(root, depth=3)
    Image.new("L", (8, 8)).save(root / "scout.png")
    write_dicom(root / "xray.dcm", dicom_dataset(np.zeros((8, 8), np.uint16)))  # a lone radiograph: an image
    nifti(root / "brain.nii.gz")
    write_dicom(root / "mf.dcm", enhanced_ct(np.zeros((3, 4, 4)), slice_positions((0, 0, 0), AXIAL, 2, 3)))
    nifti(root / "sub" / "deep.nii")
    uid_b = series(root / "sub" / "ct", depth=2, seed=3)
    assert len(list_images(root)) == 6  # the three slices are DICOM images too
    listed = list_folder_sources(root)
    assert listed == [
        VolumeSource(root, "DICOM series", uid),  # the folder's own series first, then by name
        VolumeSource(root / "brain.nii.gz", "NIfTI"),
        VolumeSource(root / "mf.dcm", "DICOM multi-frame", listed[2].series_uid),
        root / "scout.png",
        root / "xray.dcm",
    ]
    assert list_folder_sources(root, recursive=True) == [
        *listed[:4],
        VolumeSource(root / "sub" / "ct", "DICOM series", uid_b),
        VolumeSource(root / "sub" / "deep.nii", "NIfTI"),
        root / "xray.dcm",
    ]


def test_display_windows_are_the_files_own_then_automatic_then_ct_presets_and_the_full_range():
    rng = np.random.default_rng(0)
    values = np.clip(rng.normal(40.0, 300.0, (6, 7, 8)), -1000, None).astype(np.float32)
    values[0, 0, 0] = -1024.0  # air: the values look like Hounsfield units even without a unit
    ct = Volume(values, np.eye(4))
    windows = display_windows(ct)
    low, high = np.percentile(values, [0.5, 99.5])
    assert windows[0].name == "Auto"
    assert (windows[0].low, windows[0].high) == pytest.approx((low, high), abs=2e-3)
    assert [w.name for w in windows[1:]] == [w.name for w in CT_PRESETS] + ["Full range"]
    assert (windows[-1].low, windows[-1].high) == pytest.approx((-1024.0, float(values.max())))
    mr = Volume(np.abs(values) / 1000, np.eye(4), VolumeInfo(None, "array", windows=(WindowPreset("T1", 0.3, 0.4),)))
    assert [w.name for w in display_windows(mr)] == ["T1", "Auto", "Full range"]  # no CT presets for MR values
    preview = planes.preview(mr)  # the middle axial slice through the first window, [0, 1]
    view = planes.view_of(mr)
    expected = np.clip((view.plane(view.turn(mr.array), "axial", 4) - 0.1) / 0.4, 0, 1)  # w runs S: 8 slices
    np.testing.assert_allclose(preview, expected, atol=1e-6)
