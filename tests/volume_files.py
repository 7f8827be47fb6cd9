"""Writers of small, real volume files for the volume tests: DICOM CT series and enhanced multi-frame CT.

The geometry is written the way a scanner does (DICOM PS3.3 C.7.6.2): ImageOrientationPatient (row then
column direction cosines), ImagePositionPatient of each slice, PixelSpacing (between rows, between
columns), in LPS millimetres; stored values are ``(HU - intercept) / slope``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from image_files import dicom_dataset, write_dicom
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
ENHANCED_CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2.1"
AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def slice_positions(origin, orientation, step: float, count: int) -> np.ndarray:
    """LPS positions of ``count`` slices ``step`` mm apart along the normal of ``orientation``."""
    normal = np.cross(orientation[:3], orientation[3:])
    return np.asarray(origin, np.float64) + np.outer(np.arange(count) * step, normal)


def lps_world(position, orientation, pixel_spacing, row: float, column: float) -> np.ndarray:
    """DICOM's equation C.7.6.2.1-1: LPS mm of (row, column) in the slice at ``position``."""
    row_direction, column_direction = np.asarray(orientation[:3]), np.asarray(orientation[3:])
    return np.asarray(position) + row_direction * pixel_spacing[1] * column + column_direction * pixel_spacing[0] * row


def ct_slice(
    hu: np.ndarray, position, orientation=AXIAL, pixel_spacing=(0.7, 0.8), slope=1.0, intercept=-1024.0, **elements
):
    """One CT slice holding ``hu`` (rows, columns) as uint16 stored values."""
    stored = np.rint((np.asarray(hu, np.float64) - intercept) / slope).astype(np.uint16)
    ds = dicom_dataset(stored, bits_stored=16, **elements)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = CT_IMAGE_STORAGE
    ds.Modality = elements.get("Modality", "CT")
    ds.ImagePositionPatient = [float(v) for v in position]
    ds.ImageOrientationPatient = [float(v) for v in orientation]
    ds.PixelSpacing = [float(v) for v in pixel_spacing]
    ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
    ds.SliceThickness = 1.0
    return ds


def write_ct_series(
    folder: Path,
    hu: np.ndarray,
    positions: np.ndarray,
    orientation=AXIAL,
    pixel_spacing=(0.7, 0.8),
    series_uid: str | None = None,
    seed: int = 0,
    **elements,
) -> str:
    """Slices ``hu[k]`` at ``positions[k]``, written in a shuffled order under random non-sequential names."""
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = series_uid or generate_uid()
    rng = np.random.default_rng(seed)
    for k in rng.permutation(len(hu)):
        ds = ct_slice(
            hu[k],
            positions[k],
            orientation,
            pixel_spacing,
            SeriesInstanceUID=series_uid,
            InstanceNumber=int(k) + 1,
            **elements,
        )
        write_dicom(folder / f"IM{rng.integers(10**8):08d}", ds)
    return series_uid


def enhanced_ct(
    hu: np.ndarray,
    positions: np.ndarray,
    orientation=AXIAL,
    pixel_spacing=(0.7, 0.8),
    frame_order=None,
    slopes=None,
) -> Dataset:
    """An Enhanced CT Image: frames in ``frame_order`` (default as given), shared Pixel Measures and Plane
    Orientation, per-frame Plane Position and Pixel Value Transformation (``slopes[k]``, intercept -1024)."""
    order = list(range(len(hu))) if frame_order is None else list(frame_order)
    slopes = [1.0] * len(hu) if slopes is None else slopes
    stored = np.stack([np.rint((hu[k] + 1024.0) / slopes[k]).astype(np.uint16) for k in order])
    ds = dicom_dataset(stored, bits_stored=16, multi_frame=True)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = ENHANCED_CT_IMAGE_STORAGE
    ds.Modality, ds.SeriesInstanceUID, ds.SeriesDescription = "CT", generate_uid(), "enhanced"
    shared = Dataset()
    measures, plane = Dataset(), Dataset()
    measures.PixelSpacing, measures.SliceThickness = [float(v) for v in pixel_spacing], 1.0
    plane.ImageOrientationPatient = [float(v) for v in orientation]
    voi = Dataset()
    voi.WindowCenter, voi.WindowWidth, voi.WindowCenterWidthExplanation = -600, 1500, "LUNG"
    shared.PixelMeasuresSequence = Sequence([measures])
    shared.PlaneOrientationSequence = Sequence([plane])
    shared.FrameVOILUTSequence = Sequence([voi])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    frames = []
    for k in order:
        frame, position, transform = Dataset(), Dataset(), Dataset()
        position.ImagePositionPatient = [float(v) for v in positions[k]]
        transform.RescaleSlope, transform.RescaleIntercept, transform.RescaleType = slopes[k], -1024.0, "HU"
        frame.PlanePositionSequence = Sequence([position])
        frame.PixelValueTransformationSequence = Sequence([transform])
        frames.append(frame)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    return ds
