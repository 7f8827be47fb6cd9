"""The image layer: every format decoded from a real file, checked against the values written into it."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest
from image_files import (
    PNG_GREY,
    PNG_GREY_ALPHA,
    PNG_RGB,
    PNG_RGBA,
    dicom_dataset,
    encapsulated_dicom,
    write_dicom,
    write_png,
)
from PIL import ExifTags, Image
from pydicom import Dataset
from pydicom.pixels import get_decoder
from pydicom.sequence import Sequence
from pydicom.uid import MPEG2MPML, JPEGBaseline8Bit, JPEGLSLossless, RLELossless

from camviewer.core.errors import (
    CorruptImageError,
    ImageError,
    ImageTooLargeError,
    TruncatedImageError,
    UnsupportedImageError,
)
from camviewer.core.images import (
    IMAGE_EXTENSIONS,
    DecodedImage,
    as_decoded,
    is_image_path,
    list_images,
    read_header,
    read_image,
    to_uint8_rgb,
)

EXACT = {"rtol": 0, "atol": 1e-7}  # float32 rounding of k/255 or k/65535, nothing more
GREY_8x6 = (np.arange(48, dtype=np.uint8) * 5).reshape(6, 8)  # 0, 5, ..., 235


def save(path: Path, image: Image.Image, **options) -> Path:
    image.save(path, **options)
    return path


def flat_blocks(colours: list[list[tuple[int, int, int]]], block: int = 8) -> np.ndarray:
    """An RGB image of flat ``block``-sized squares: JPEG keeps flat 8x8 blocks almost exactly."""
    return np.kron(np.array(colours, dtype=np.uint8), np.ones((block, block, 1), dtype=np.uint8))


def assert_decoded_well_formed(decoded: DecodedImage) -> None:
    pixels = decoded.pixels
    assert pixels.dtype == np.float32 and pixels.flags.c_contiguous
    assert pixels.shape[:2] == (decoded.info.height, decoded.info.width)
    assert decoded.info.channels == (1 if pixels.ndim == 2 else 3)
    assert pixels.min() >= 0.0 and pixels.max() <= 1.0


# ------------------------------------------------------------------------------------ 8-bit formats


def test_grey_png_is_divided_by_255_and_stays_2d(tmp_path):
    decoded = read_image(save(tmp_path / "grey.png", Image.fromarray(GREY_8x6)))
    assert_decoded_well_formed(decoded)
    assert decoded.info == read_header(tmp_path / "grey.png")
    assert (decoded.info.format, decoded.info.width, decoded.info.height) == ("PNG", 8, 6)
    assert (decoded.info.bit_depth, decoded.info.mode, decoded.info.channels) == (8, "L", 1)
    np.testing.assert_allclose(decoded.pixels, GREY_8x6 / 255, **EXACT)
    assert decoded.pixels[0, 0] == 0.0 and decoded.pixels[5, 7] == pytest.approx(235 / 255)


def test_rgb_png_with_equal_channels_stays_three_channel(tmp_path):
    rgb = np.zeros((6, 8, 3), np.uint8)
    rgb[0, 0] = (255, 0, 0)
    rgb[1, 2] = (10, 20, 30)
    rgb[5] = 77  # a grey-looking row: still colour, no guessing
    decoded = read_image(save(tmp_path / "rgb.png", Image.fromarray(rgb)))
    assert decoded.pixels.shape == (6, 8, 3) and decoded.info.mode == "RGB"
    np.testing.assert_allclose(decoded.pixels[0, 0], [1, 0, 0], **EXACT)
    np.testing.assert_allclose(decoded.pixels[1, 2], [10 / 255, 20 / 255, 30 / 255], **EXACT)
    np.testing.assert_allclose(decoded.pixels[5], 77 / 255, **EXACT)


def test_rgba_alpha_is_dropped_keeping_the_stored_colour(tmp_path):
    rgba = np.zeros((6, 8, 4), np.uint8)
    rgba[0, 0] = (200, 100, 50, 0)  # fully transparent: the colour stays, it is not blackened
    rgba[0, 1] = (200, 100, 50, 255)
    decoded = read_image(save(tmp_path / "rgba.png", Image.fromarray(rgba, "RGBA")))
    assert decoded.pixels.shape == (6, 8, 3) and decoded.info.mode == "RGBA"
    np.testing.assert_allclose(decoded.pixels[0, 0], [200 / 255, 100 / 255, 50 / 255], **EXACT)
    np.testing.assert_allclose(decoded.pixels[0, 1], decoded.pixels[0, 0], **EXACT)


def test_grey_with_alpha_drops_alpha_and_stays_2d(tmp_path):
    la = np.stack([GREY_8x6, np.full_like(GREY_8x6, 3)], axis=-1)
    decoded = read_image(save(tmp_path / "la.png", Image.fromarray(la, "LA")))
    assert decoded.info.mode == "LA" and decoded.pixels.shape == (6, 8)
    np.testing.assert_allclose(decoded.pixels, GREY_8x6 / 255, **EXACT)


@pytest.mark.parametrize("suffix", [".png", ".gif", ".bmp"])
def test_colour_palette_becomes_rgb(tmp_path, suffix):
    image = Image.fromarray(np.array([[0, 1, 2, 1]] * 2, np.uint8), "P")
    image.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [0, 0, 0] * 253)
    decoded = read_image(save(tmp_path / f"palette{suffix}", image))
    assert decoded.pixels.shape == (2, 4, 3)
    np.testing.assert_allclose(decoded.pixels[1], [[0, 0, 0], [1, 0, 0], [0, 0, 1], [1, 0, 0]], **EXACT)


def test_grey_palette_becomes_2d_grey(tmp_path):
    image = Image.fromarray(np.array([[0, 1], [2, 0]], np.uint8), "P")
    image.putpalette([10, 10, 10, 128, 128, 128, 250, 250, 250])
    decoded = read_image(save(tmp_path / "grey_palette.png", image))
    assert decoded.info.mode == "P" and decoded.info.channels == 1
    np.testing.assert_allclose(decoded.pixels, np.array([[10, 128], [250, 10]]) / 255, **EXACT)


def test_one_bit_image_maps_to_zero_and_one(tmp_path):
    bits = Image.fromarray(np.array([[True, False], [False, True]]))
    decoded = read_image(save(tmp_path / "mask.png", bits))
    assert decoded.info.bit_depth == 1
    np.testing.assert_array_equal(decoded.pixels, [[1, 0], [0, 1]])


@pytest.mark.parametrize("name, options", [("img.bmp", {}), ("img.webp", {"lossless": True}), ("img.tif", {})])
def test_lossless_rgb_formats_are_exact(tmp_path, name, options):
    rgb = np.dstack([GREY_8x6, 255 - GREY_8x6, np.full_like(GREY_8x6, 9)])
    decoded = read_image(save(tmp_path / name, Image.fromarray(rgb), **options))
    np.testing.assert_allclose(decoded.pixels, rgb / 255, **EXACT)


def test_jpeg_decodes_within_lossy_tolerance(tmp_path):
    rgb = flat_blocks([[(255, 0, 0), (0, 255, 0)], [(0, 0, 255), (128, 128, 128)]])
    decoded = read_image(save(tmp_path / "photo.jpg", Image.fromarray(rgb), quality=95, subsampling=0))
    assert decoded.info.format == "JPEG" and decoded.pixels.shape == (16, 16, 3)
    np.testing.assert_allclose(decoded.pixels, rgb / 255, atol=6 / 255)


def test_cmyk_becomes_rgb(tmp_path):
    cmyk = np.array([[[255, 0, 0, 0], [0, 255, 255, 0], [0, 0, 0, 255], [0, 0, 0, 0]]], np.uint8)
    decoded = read_image(save(tmp_path / "print.tif", Image.fromarray(cmyk, "CMYK")))
    assert decoded.info.mode == "CMYK" and decoded.info.channels == 3
    np.testing.assert_allclose(decoded.pixels[0], [[0, 1, 1], [1, 0, 0], [0, 0, 0], [1, 1, 1]], **EXACT)


@pytest.mark.parametrize("orientation, top_and_bottom", [(6, (1, 0)), (8, (0, 1))])
def test_exif_orientation_is_applied(tmp_path, orientation, top_and_bottom):
    # Stored 16 wide x 8 high, white on the left. Orientation 6 turns it 90 degrees clockwise (the left
    # edge becomes the top), orientation 8 counter-clockwise (the left edge becomes the bottom).
    stored = flat_blocks([[(255, 255, 255), (0, 0, 0)]])
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    path = save(tmp_path / "rotated.jpg", Image.fromarray(stored), exif=exif, quality=95)
    decoded = read_image(path)
    assert decoded.pixels.shape == (16, 8, 3)
    assert decoded.info == read_header(path) and (decoded.info.width, decoded.info.height) == (8, 16)
    top, bottom = decoded.pixels[:8].mean(), decoded.pixels[8:].mean()
    assert (top, bottom) == pytest.approx(top_and_bottom, abs=0.03)


def test_png_named_with_a_lying_extension_still_decodes(tmp_path):
    for name in ("really_a_png.jpg", "really_a_png.dcm"):
        decoded = read_image(save(tmp_path / "x.png", Image.fromarray(GREY_8x6)).rename(tmp_path / name))
        assert decoded.info.format == "PNG"
        np.testing.assert_allclose(decoded.pixels, GREY_8x6 / 255, **EXACT)


# -------------------------------------------------------------------------------- 16-bit and float


def test_16bit_grey_png_is_divided_by_65535_not_stretched(tmp_path):
    samples = np.array([[0, 1000, 32768], [65535, 4095, 12]], np.uint16)
    for path in (
        write_png(tmp_path / "hand.png", samples, PNG_GREY),
        save(tmp_path / "pillow.png", Image.fromarray(samples)),
    ):
        decoded = read_image(path)
        assert decoded.info.bit_depth == 16 and decoded.pixels.ndim == 2
        np.testing.assert_allclose(
            decoded.pixels, [[0, 1000 / 65535, 32768 / 65535], [1.0, 4095 / 65535, 12 / 65535]], **EXACT
        )


def test_16bit_grey_tiff(tmp_path):
    samples = np.array([[65535, 32768], [0, 1]], np.uint16)
    decoded = read_image(save(tmp_path / "scan.tiff", Image.fromarray(samples)))
    assert (decoded.info.format, decoded.info.bit_depth, decoded.info.mode) == ("TIFF", 16, "I;16")
    np.testing.assert_allclose(decoded.pixels, [[1.0, 32768 / 65535], [0, 1 / 65535]], **EXACT)


def test_16bit_rgb_keeps_its_full_precision(tmp_path):
    rgb = np.zeros((2, 3, 3), np.uint16)
    rgb[0, 0] = (65535, 256, 1)  # Pillow alone would round these to 8 bits: 256 and 1 would become 1 and 0
    rgb[1, 2] = (32768, 0, 40000)
    expected = rgb / 65535
    png = read_image(write_png(tmp_path / "rgb16.png", rgb, PNG_RGB))
    assert (png.info.bit_depth, png.info.channels) == (16, 3)
    np.testing.assert_allclose(png.pixels, expected, **EXACT)
    cv2.imwrite(str(tmp_path / "rgb16.tif"), rgb[..., ::-1])  # OpenCV writes BGR
    np.testing.assert_allclose(read_image(tmp_path / "rgb16.tif").pixels, expected, **EXACT)


def test_16bit_grey_with_alpha_stays_grey_at_full_precision(tmp_path):
    grey_alpha = np.zeros((2, 3, 2), np.uint16)
    grey_alpha[0, 0] = (40000, 0)
    grey_alpha[1, 1] = (1, 65535)
    path = write_png(tmp_path / "la16.png", grey_alpha, PNG_GREY_ALPHA)
    decoded = read_image(path)
    assert decoded.info == read_header(path) and decoded.info.bit_depth == 16
    np.testing.assert_allclose(decoded.pixels, [[40000 / 65535, 0, 0], [0, 1 / 65535, 0]], **EXACT)


def test_16bit_rgba_drops_alpha_and_honours_exif_orientation(tmp_path):
    rgba = np.zeros((2, 3, 4), np.uint16)
    rgba[0, 0] = (65535, 256, 1, 0)  # transparent: the stored colour is kept
    rgba[1, 2] = (0, 0, 65535, 65535)  # stored bottom-right lands bottom-left
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # turn 90 degrees clockwise: stored (0, 0) lands top-right
    path = write_png(tmp_path / "rgba16.png", rgba, PNG_RGBA, exif=exif.tobytes()[len(b"Exif\0\0") :])
    decoded = read_image(path)
    assert decoded.pixels.shape == (3, 2, 3) and decoded.info == read_header(path)
    np.testing.assert_allclose(decoded.pixels[0, 1], [1, 256 / 65535, 1 / 65535], **EXACT)
    np.testing.assert_allclose(decoded.pixels[2, 0], [0, 0, 1], **EXACT)
    np.testing.assert_allclose(decoded.pixels[0, 0], [0, 0, 0], **EXACT)  # stored (1, 0), was black


def test_multipage_tiff_gives_the_first_page(tmp_path):
    first, second = Image.fromarray(GREY_8x6), Image.fromarray(255 - GREY_8x6)
    path = save(tmp_path / "stack.tif", first, save_all=True, append_images=[second])
    with Image.open(path) as written:
        assert written.n_frames == 2
    np.testing.assert_allclose(read_image(path).pixels, GREY_8x6 / 255, **EXACT)


def test_float_tiff_within_unit_range_is_kept(tmp_path):
    values = np.array([[0.0, 0.25], [0.5, 1.0]], np.float32)
    decoded = read_image(save(tmp_path / "prob.tif", Image.fromarray(values)))
    assert (decoded.info.mode, decoded.info.bit_depth) == ("F", 32)
    np.testing.assert_array_equal(decoded.pixels, values)


def test_float_tiff_outside_unit_range_is_min_max_scaled(tmp_path):
    values = np.array([[-1.0, 0.0], [1.0, 3.0]], np.float32)
    decoded = read_image(save(tmp_path / "hu.tif", Image.fromarray(values)))
    np.testing.assert_allclose(decoded.pixels, [[0, 0.25], [0.5, 1]], **EXACT)


def test_32bit_integer_tiff_is_divided_by_the_int32_maximum(tmp_path):
    values = np.array([[2147483647, 0], [-5, 1073741824]], np.int32)
    decoded = read_image(save(tmp_path / "int.tif", Image.fromarray(values)))
    assert decoded.info.mode == "I"
    np.testing.assert_allclose(decoded.pixels, [[1, 0], [0, 1073741824 / 2147483647]], **EXACT)


# -------------------------------------------------------------------------------------------- DICOM


def test_dicom_rescale_then_window(tmp_path):
    stored = np.array([[0, 432, 532], [618, 639, 1000]], np.uint16)
    # Hounsfield = 2 * stored - 1024: [[-1024, -160, 40], [212, 254, 976]]
    ds = dicom_dataset(
        stored, bits_stored=12, RescaleSlope=2, RescaleIntercept=-1024, WindowCenter=[40, 500], WindowWidth=[400, 2000]
    )  # the first window is the default
    decoded = read_image(write_dicom(tmp_path / "ct.dcm", ds))
    assert (decoded.info.format, decoded.info.mode, decoded.info.bit_depth) == ("DICOM", "MONOCHROME2", 12)
    # PS3.3 C.11.2.1.2.1, LINEAR: y = (x - 39.5) / 399 + 0.5, clipped; 0 at x <= -160, 1 at x > 239
    np.testing.assert_allclose(decoded.pixels, [[0, 0, 0.5 + 0.5 / 399], [0.5 + 172.5 / 399, 1, 1]], rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "function, expected", [("LINEAR_EXACT", [0.5, 0.75, 1]), ("SIGMOID", [0.5, 1 / (1 + np.exp(-1)), 1])]
)
def test_dicom_window_functions(tmp_path, function, expected):
    ds = dicom_dataset(
        np.array([[40, 140, 65535]], np.uint16), WindowCenter=40, WindowWidth=400, VOILUTFunction=function
    )
    np.testing.assert_allclose(read_image(write_dicom(tmp_path / "w.dcm", ds)).pixels[0], expected, atol=1e-6)


def test_dicom_voi_lut_sequence(tmp_path):
    item = Dataset()
    item.LUTDescriptor = [4, 100, 8]  # 4 entries, first input value 100, 8-bit output
    item.add_new("LUTData", "US", [0, 50, 200, 255])
    ds = dicom_dataset(np.array([[99, 100], [102, 110]], np.uint16), VOILUTSequence=Sequence([item]))
    decoded = read_image(write_dicom(tmp_path / "lut.dcm", ds))
    np.testing.assert_allclose(decoded.pixels, [[0, 0], [200 / 255, 1]], **EXACT)


def test_dicom_without_window_uses_min_max_and_monochrome1_is_inverted(tmp_path):
    stored = np.array([[0, 50], [100, 200]], np.uint16)
    mono2 = read_image(write_dicom(tmp_path / "m2.dcm", dicom_dataset(stored, RescaleIntercept=-1000, RescaleSlope=1)))
    mono1 = read_image(write_dicom(tmp_path / "m1.dcm", dicom_dataset(stored, "MONOCHROME1")))
    np.testing.assert_allclose(mono2.pixels, [[0, 0.25], [0.5, 1]], **EXACT)
    np.testing.assert_allclose(mono1.pixels, [[1, 0.75], [0.5, 0]], **EXACT)
    assert mono1.info.mode == "MONOCHROME1"


def test_dicom_rgb(tmp_path):
    rgb = np.array([[[255, 0, 0], [0, 128, 0]], [[1, 2, 3], [255, 255, 255]]], np.uint8)
    decoded = read_image(write_dicom(tmp_path / "rgb.dcm", dicom_dataset(rgb, "RGB")))
    assert (decoded.info.mode, decoded.info.channels) == ("RGB", 3)
    np.testing.assert_allclose(decoded.pixels, rgb / 255, **EXACT)


def test_dicom_palette_colour(tmp_path):
    ds = dicom_dataset(np.array([[0, 1], [2, 1]], np.uint8), "PALETTE COLOR")
    ds.SamplesPerPixel = 1
    del ds.PlanarConfiguration
    for colour, entries in zip(("Red", "Green", "Blue"), ([65535, 0, 0], [0, 65535, 0], [0, 0, 32768])):
        setattr(ds, f"{colour}PaletteColorLookupTableDescriptor", [3, 0, 16])
        setattr(ds, f"{colour}PaletteColorLookupTableData", np.array(entries, "<u2").tobytes())
    decoded = read_image(write_dicom(tmp_path / "palette.dcm", ds))
    np.testing.assert_allclose(decoded.pixels, [[[1, 0, 0], [0, 1, 0]], [[0, 0, 32768 / 65535], [0, 1, 0]]], **EXACT)


def test_dicom_multiframe_gives_the_first_frame(tmp_path):
    frames = np.stack([np.array([[0, 10], [20, 40]], np.uint16), np.full((2, 2), 7, np.uint16)])
    ds = dicom_dataset(frames, multi_frame=True)
    np.testing.assert_allclose(
        read_image(write_dicom(tmp_path / "cine.dcm", ds)).pixels, [[0, 0.25], [0.5, 1]], **EXACT
    )


def test_dicom_rle_lossless(tmp_path):
    ds = dicom_dataset(np.array([[0, 100], [300, 400]], np.uint16), WindowCenter=200.5, WindowWidth=401)
    ds.compress(RLELossless)
    decoded = read_image(write_dicom(tmp_path / "rle.dcm", ds))
    # LINEAR: y = (x - 200) / 400 + 0.5
    np.testing.assert_allclose(decoded.pixels, [[0, 0.25], [0.75, 1]], rtol=0, atol=1e-6)


def test_dicom_jpeg_baseline_via_pillow(tmp_path):
    grey = np.kron(np.array([[0, 255], [128, 64]], np.uint8), np.ones((8, 8), np.uint8))
    buffer = io.BytesIO()
    Image.fromarray(grey).save(buffer, "JPEG", quality=95)
    ds = encapsulated_dicom(buffer.getvalue(), JPEGBaseline8Bit, rows=16, columns=16)
    decoded = read_image(write_dicom(tmp_path / "jpeg.dcm", ds))
    np.testing.assert_allclose(decoded.pixels, grey / 255, atol=3 / 255)  # min-max of 0..255 is /255


def test_dicom_found_by_content_whatever_its_name(tmp_path):
    ds = dicom_dataset(np.array([[0, 1], [2, 4]], np.uint16))
    for name in ("IM000001", "1.2.840.113619.2.55.871", "scan.png"):
        np.testing.assert_allclose(read_image(write_dicom(tmp_path / name, ds)).pixels, [[0, 0.25], [0.5, 1]], **EXACT)


def test_dicom_without_preamble_named_dcm(tmp_path):
    ds = dicom_dataset(np.array([[0, 1], [2, 4]], np.uint16))
    ds.preamble = None
    del ds.file_meta
    ds.save_as(tmp_path / "bare.dcm", enforce_file_format=False, implicit_vr=True, little_endian=True)
    assert (tmp_path / "bare.dcm").read_bytes()[128:132] != b"DICM"
    np.testing.assert_allclose(read_image(tmp_path / "bare.dcm").pixels, [[0, 0.25], [0.5, 1]], **EXACT)


def test_dicom_without_pixel_data(tmp_path):
    path = write_dicom(tmp_path / "report.dcm", dicom_dataset(None))
    with pytest.raises(UnsupportedImageError, match="DICOM file has no pixel data") as error:
        read_image(path)
    assert error.value.path == str(path)


def test_dicom_with_a_syntax_pydicom_never_decodes(tmp_path):
    ds = encapsulated_dicom(b"\x00\x00\x01\xb3" + bytes(60), MPEG2MPML, rows=16, columns=16)
    with pytest.raises(UnsupportedImageError, match="MPEG2 Main Profile"):
        read_image(write_dicom(tmp_path / "video.dcm", ds))


@pytest.mark.skipif(get_decoder(JPEGLSLossless).is_available, reason="a JPEG-LS plugin is installed here")
def test_dicom_with_a_syntax_whose_plugin_is_missing(tmp_path):
    ds = encapsulated_dicom(b"\xff\xd8\xff\xf7" + bytes(60), JPEGLSLossless, rows=16, columns=16)
    with pytest.raises(UnsupportedImageError, match="JPEG-LS Lossless"):
        read_image(write_dicom(tmp_path / "jls.dcm", ds))


def test_dicom_with_short_pixel_data_is_corrupt_not_a_raw_traceback(tmp_path):
    ds = dicom_dataset(np.zeros((4, 4), np.uint16))
    ds.PixelData = ds.PixelData[:10]
    with pytest.raises(CorruptImageError, match="short.dcm"):
        read_image(write_dicom(tmp_path / "short.dcm", ds))


# ------------------------------------------------------------------------------------- bad inputs


def test_empty_file(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(CorruptImageError, match="empty file"):
        read_image(tmp_path / "empty.png")


@pytest.mark.parametrize("name", ["cut.png", "cut.jpg"])
def test_truncated_files(tmp_path, name):
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    whole = save(tmp_path / f"whole{Path(name).suffix}", Image.fromarray(noise)).read_bytes()
    (tmp_path / name).write_bytes(whole[: len(whole) // 2])
    with pytest.raises(TruncatedImageError) as error:
        read_image(tmp_path / name)
    assert name in str(error.value)
    assert read_header(tmp_path / name).width == 64  # the header alone is intact, and that is all it reads


def test_damaged_png_header_is_corrupt_not_unsupported(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(30))
    with pytest.raises(CorruptImageError) as error:
        read_image(tmp_path / "bad.png")
    assert not isinstance(error.value, UnsupportedImageError)


@pytest.mark.parametrize("name", ["notes.png", "notes.dcm", "notes.tif"])
def test_text_file_is_not_an_image(tmp_path, name):
    (tmp_path / name).write_text("patient list\nid,label\n1,parasitized\n" * 10)
    with pytest.raises(UnsupportedImageError, match="not an image"):
        read_image(tmp_path / name)


def test_forged_huge_png_header_is_refused_before_decoding(tmp_path):
    one_pixel = np.zeros((1, 1), np.uint8)
    giant = write_png(tmp_path / "giant.png", one_pixel, PNG_GREY, width=100_000, height=100_000)
    with pytest.raises(ImageTooLargeError, match="giant.png"):
        read_image(giant)
    # Below Pillow's own limit our max_pixels decides, from the header: the data for 81 MP is absent, so
    # decoding it would have raised a truncation error instead.
    big = write_png(tmp_path / "big.png", one_pixel, PNG_GREY, width=9000, height=9000)
    with pytest.raises(ImageTooLargeError, match="9000x9000"):
        read_image(big, max_pixels=50_000_000)
    assert (read_header(big).width, read_header(big).height) == (9000, 9000)
    with pytest.raises(TruncatedImageError):
        read_image(big, max_pixels=None)


def test_max_pixels_applies_to_normal_files_and_dicom(tmp_path):
    png = save(tmp_path / "small.png", Image.fromarray(GREY_8x6))
    with pytest.raises(ImageTooLargeError, match="8x6"):
        read_image(png, max_pixels=47)
    assert read_image(png, max_pixels=48).pixels.shape == (6, 8)
    assert read_image(png, max_pixels=None).pixels.shape == (6, 8)
    dcm = write_dicom(tmp_path / "small.dcm", dicom_dataset(np.zeros((6, 8), np.uint16)))
    with pytest.raises(ImageTooLargeError):
        read_image(dcm, max_pixels=47)


def test_directory_and_missing_file(tmp_path):
    with pytest.raises(ImageError, match="directory") as error:
        read_image(tmp_path)
    assert error.value.path == str(tmp_path)
    with pytest.raises(ImageError, match="no such file"):
        read_image(tmp_path / "absent.png")
    with pytest.raises(ImageError, match="no such file"):
        read_header(tmp_path / "absent.png")


# -------------------------------------------------------------------------- listing and headers


def test_list_images_natural_order_and_filtering(tmp_path):
    grey = Image.fromarray(GREY_8x6)
    for name in ("img10.png", "img2.png", "img1.PNG", "b.jpeg", "notes.txt", ".hidden.png"):
        if name.endswith("txt"):
            (tmp_path / name).write_text("x")
        else:
            save(tmp_path / name, grey, format="PNG")
    write_dicom(tmp_path / "IM000003", dicom_dataset(np.zeros((2, 2), np.uint16)))
    write_dicom(tmp_path / "DICOMDIR", dicom_dataset(None))
    (tmp_path / "README").write_text("not an image")
    (tmp_path / "sub").mkdir()
    (tmp_path / ".cache").mkdir()
    save(tmp_path / "sub" / "img3.png", grey)
    save(tmp_path / ".cache" / "thumb.png", grey)
    (tmp_path / "folder.png").mkdir()  # a folder that looks like an image is not one

    names = [path.relative_to(tmp_path).as_posix() for path in list_images(tmp_path)]
    assert names == ["b.jpeg", "IM000003", "img1.PNG", "img2.png", "img10.png"]
    recursive = [path.relative_to(tmp_path).as_posix() for path in list_images(tmp_path, recursive=True)]
    assert recursive == ["b.jpeg", "IM000003", "img1.PNG", "img2.png", "img10.png", "sub/img3.png"]
    with pytest.raises(ImageError, match="no such folder"):
        list_images(tmp_path / "absent")


def test_is_image_path():
    assert {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".dcm", ".dicom"} <= IMAGE_EXTENSIONS
    assert is_image_path("A/B/SCAN.TIFF") and is_image_path(Path("x.Dicom"))
    assert not is_image_path("labels.csv") and not is_image_path("missing_without_extension")


def test_read_header_matches_read_image(tmp_path):
    files = [
        save(tmp_path / "rgb.jpg", Image.fromarray(np.zeros((6, 8, 3), np.uint8))),
        save(tmp_path / "p.gif", Image.fromarray(GREY_8x6, "P")),
        save(tmp_path / "cmyk.tif", Image.fromarray(np.zeros((3, 5, 4), np.uint8), "CMYK")),
        write_png(tmp_path / "rgb16.png", np.zeros((3, 4, 3), np.uint16), PNG_RGB),
        write_dicom(tmp_path / "ct.dcm", dicom_dataset(np.zeros((3, 7), np.uint16), bits_stored=12)),
        write_dicom(tmp_path / "rgb.dcm", dicom_dataset(np.zeros((4, 2, 3), np.uint8), "RGB")),
    ]
    for path in files:
        assert read_header(path) == read_image(path).info, path.name


def test_concurrent_reads_agree_with_sequential_reads(tmp_path):
    paths = [save(tmp_path / f"{i}.png", Image.fromarray(GREY_8x6 + i)) for i in range(8)]
    paths += [
        write_dicom(tmp_path / f"{i}.dcm", dicom_dataset(np.full((4, 4), i, np.uint16), WindowCenter=4, WindowWidth=8))
        for i in range(8)
    ]
    sequential = [read_image(path).pixels for path in paths]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(lambda path: read_image(path).pixels, paths * 4))
    for index, pixels in enumerate(concurrent):
        np.testing.assert_array_equal(pixels, sequential[index % len(paths)])


# ---------------------------------------------------------------------------------------- arrays


@pytest.mark.parametrize(
    "array, expected, bits",
    [
        (np.array([[0, 128, 255]], np.uint8), [[0, 128 / 255, 1]], 8),
        (np.array([[0, 32768, 65535]], np.uint16), [[0, 32768 / 65535, 1]], 16),
        (np.array([[0, 32768, 65535]], ">u2"), [[0, 32768 / 65535, 1]], 16),
        (np.array([[True, False, True]]), [[1, 0, 1]], 1),
        (np.array([[0.0, 0.2, 1.0]], np.float64), [[0, 0.2, 1]], 64),
        (np.array([[-2.0, 0.0, 2.0]], np.float32), [[0, 0.5, 1]], 32),
        (np.array([[np.nan, 0.5, 1.0]], np.float32), [[0, 0.5, 1]], 32),
    ],
)
def test_as_decoded_grey_arrays(array, expected, bits):
    decoded = as_decoded(array)
    assert_decoded_well_formed(decoded)
    assert (decoded.info.format, decoded.info.path, decoded.info.bit_depth) == ("ARRAY", None, bits)
    np.testing.assert_allclose(decoded.pixels, expected, **EXACT)


def test_as_decoded_shapes_and_alpha():
    assert as_decoded(np.zeros((2, 3, 1), np.uint8)).pixels.shape == (2, 3)
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[0, 0] = (255, 51, 0, 0)
    decoded = as_decoded(rgba)
    assert decoded.pixels.shape == (2, 3, 3) and decoded.info.mode == "RGBA"
    np.testing.assert_allclose(decoded.pixels[0, 0], [1, 0.2, 0], **EXACT)
    strided = np.zeros((4, 6), np.uint8)[::2, ::2]
    assert as_decoded(strided).pixels.flags.c_contiguous


def test_as_decoded_copies_the_callers_array():
    source = np.array([[0.25, 0.5]], np.float32)
    decoded = as_decoded(source)
    source[0, 0] = 0.75
    assert decoded.pixels[0, 0] == 0.25


@pytest.mark.parametrize(
    "array",
    [np.zeros((2, 3), np.int32), np.zeros(5, np.uint8), np.zeros((2, 3, 2), np.uint8), np.zeros((0, 3), np.uint8)],
)
def test_as_decoded_refuses_other_arrays(array):
    with pytest.raises(UnsupportedImageError):
        as_decoded(array)


def test_as_decoded_passes_paths_and_decoded_images_through(tmp_path):
    path = save(tmp_path / "g.png", Image.fromarray(GREY_8x6))
    decoded = as_decoded(str(path))
    assert as_decoded(decoded) is decoded
    np.testing.assert_array_equal(as_decoded(path).pixels, decoded.pixels)
    with pytest.raises(ImageTooLargeError):
        as_decoded(path, max_pixels=10)
    with pytest.raises(ImageTooLargeError):
        as_decoded(np.zeros((4, 4), np.uint8), max_pixels=10)


def test_to_uint8_rgb():
    grey = np.array([[0.0, 0.5], [1.0, 1.5]], np.float32)
    rgb = to_uint8_rgb(grey)
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.uint8 and rgb.flags.c_contiguous
    np.testing.assert_array_equal(rgb[..., 0], [[0, 128], [255, 255]])  # 127.5 rounds to 128; 1.5 clips
    np.testing.assert_array_equal(rgb[..., 0], rgb[..., 2])
    colour = np.zeros((1, 1, 3), np.float32)
    colour[0, 0] = (1.0, 0.2, 0.0)
    np.testing.assert_array_equal(to_uint8_rgb(colour)[0, 0], [255, 51, 0])
