"""Telling volumes from 2-D images, and listing the volumes of a folder tree (for datasets of volumes)."""

from __future__ import annotations

import nibabel as nib
import numpy as np
from image_files import dicom_dataset, write_dicom
from PIL import Image
from volume_files import AXIAL, enhanced_ct, slice_positions, write_ct_series

from camviewer.core.volumes import VolumeSource, is_volume_source, list_volumes, read_volume, volume_format


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
