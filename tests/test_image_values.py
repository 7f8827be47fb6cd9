"""The file's own values for display: HU, raw samples, windows; and maps' raw ranges. The pixels the model gets
never change."""

from __future__ import annotations

import numpy as np
import pytest
from image_files import dicom_dataset, write_dicom
from PIL import Image
from pydicom import Dataset
from pydicom.sequence import Sequence

from camviewer.core.images import Window, read_header, read_image
from camviewer.core.images.values import (
    CT_PRESETS,
    decoded_window,
    describe_value,
    inverted_display,
    modality_values,
    window_presets,
)


def ct_file(tmp_path, **elements):
    stored = np.array([[0, 1000, 1053], [1024, 2024, 4095]], np.uint16)  # HU = stored - 1024
    ds = dicom_dataset(stored, bits_stored=12, RescaleSlope=1, RescaleIntercept=-1024, **elements)
    ds.Modality = "CT"
    return write_dicom(tmp_path / "ct.dcm", ds), stored.astype(np.float32) - 1024


def test_ct_keeps_hounsfield_units_next_to_the_windowed_pixels(tmp_path):
    path, hounsfield = ct_file(tmp_path, WindowCenter=[40, -600], WindowWidth=[400, 1500])
    image = read_image(path)
    assert image.info.units == "HU" and image.info == read_header(path)
    np.testing.assert_array_equal(modality_values(image), hounsfield)
    # the model still gets the first window, PS3.3 LINEAR: (x - 39.5) / 399 + 0.5, clipped
    expected = np.clip((hounsfield - 39.5) / 399 + 0.5, 0, 1)
    np.testing.assert_allclose(image.pixels, expected, atol=1e-6)
    assert image.info.windows == (Window("File window 1", 40, 400), Window("File window 2", -600, 1500))
    assert decoded_window(image, modality_values(image)) == Window("File window 1", 40, 400)
    names = [window.name for window in window_presets(image, modality_values(image))]
    assert names == ["File window 1", "File window 2", *[w.name for w in CT_PRESETS], "Full range"]
    full = window_presets(image, modality_values(image))[-1]
    assert (full.low, full.high) == (-1024, 3071)


def test_window_explanations_and_voi_lut_input_range(tmp_path):
    item = Dataset()
    item.LUTDescriptor = [4, 100, 8]  # 4 entries from input value 100
    item.add_new("LUTData", "US", [0, 50, 200, 255])
    item.LUTExplanation = "NORMAL"
    ds = dicom_dataset(
        np.array([[99, 100], [102, 110]], np.uint16),
        VOILUTSequence=Sequence([item]),
        WindowCenter=100,
        WindowWidth=20,
        WindowCenterWidthExplanation="SOFT",
    )
    image = read_image(write_dicom(tmp_path / "lut.dcm", ds))
    assert image.info.units == ""  # not a CT, no rescale type: plain values
    assert image.info.windows == (Window("SOFT", 100, 20), Window.spanning("NORMAL (linear)", 100, 103))


def test_monochrome1_windows_are_drawn_inverted(tmp_path):
    ds = dicom_dataset(np.array([[0, 50], [100, 200]], np.uint16), photometric="MONOCHROME1")
    image = read_image(write_dicom(tmp_path / "m1.dcm", ds))
    assert inverted_display(image.info)
    assert decoded_window(image, modality_values(image)) == Window.spanning("As decoded", 0, 200)


def test_16bit_png_values_are_its_raw_samples(tmp_path):
    raw = np.array([[0, 3021], [40000, 65535]], np.uint16)
    Image.fromarray(raw).save(tmp_path / "x.png")
    image = read_image(tmp_path / "x.png")
    values = modality_values(image)
    assert values.dtype == np.uint16
    np.testing.assert_array_equal(values, raw)
    assert image.values is None and image.info.units == ""
    assert decoded_window(image, values) == Window.spanning("As decoded", 0, 65535)  # what the model sees


def test_8bit_colour_values_are_its_samples(tmp_path):
    rgb = np.array([[[250, 60, 60], [0, 1, 2]]], np.uint8)
    Image.fromarray(rgb).save(tmp_path / "c.png")
    values = modality_values(read_image(tmp_path / "c.png"))
    assert values.dtype == np.uint8
    np.testing.assert_array_equal(values, rgb)


@pytest.mark.parametrize(
    "value, units, text",
    [(np.float32(29.0), "HU", "29 HU"), (np.uint16(3021), "", "3021"), (np.float32(0.125), "", "0.125")],
)
def test_readout_wording(value, units, text):
    assert describe_value(value, units) == text
    assert describe_value(np.array([250, 60, 60], np.uint8), "") == "(250, 60, 60)"


def test_map_ranges_give_back_the_raw_placed_map():
    from camviewer.core.cam.display import normalised, placed_map, upsample_map

    raw = np.array([[-1.0, 0.5], [2.0, 4.0]], np.float32)
    placed = placed_map(raw, (8, 8))
    map01, (low, high) = normalised(placed.copy())
    np.testing.assert_allclose(low + map01 * (high - low), placed, atol=1e-6)
    np.testing.assert_array_equal(map01, upsample_map(raw, (8, 8)))
    assert low == 0.0 and abs(high - 4.0) < 1e-3  # ReLU'd; the corner sample keeps its value at the image edge
