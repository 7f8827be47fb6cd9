"""An image's own values, for display and readouts only: window/level, presets, the value under the cursor.

The model never sees any of this: it gets :attr:`DecodedImage.pixels`, decoded once by the readers. Here
are the values a radiologist reads instead: Hounsfield units of a CT (the DICOM modality values), the
raw samples of a 16-bit PNG or TIFF (0..65535), or 0..255 for 8-bit images; and display windows over
them: the file's own (DICOM window centre/width, the input range of a VOI LUT), CT presets, full range.
"""

from __future__ import annotations

import numpy as np

from camviewer.core.images.common import INT32_MAX, DecodedImage, ImageInfo, Window

# Common CT windows (centre, width in HU), as radiology viewers offer them.
CT_PRESETS = (
    Window("Lung", -600, 1500),
    Window("Mediastinum", 50, 350),
    Window("Abdomen", 50, 400),
    Window("Bone", 400, 1800),
    Window("Brain", 40, 80),
)


def sample_scale(info: ImageInfo) -> float:
    """``pixels * sample_scale`` are the file's sample values (the readers divided by it); 1 when pixels are
    the values themselves (float images, rescaled to [0, 1]; boolean arrays)."""
    if info.mode in ("F", "PALETTE COLOR") or (info.format == "ARRAY" and info.bit_depth in (1, 32, 64)):
        return 1.0
    if info.bit_depth <= 8:
        return 255.0
    if info.bit_depth == 32:  # Pillow "I" images
        return INT32_MAX
    return float(2**info.bit_depth - 1)  # 16-bit files; DICOM colour of any depth


def modality_values(image: DecodedImage) -> np.ndarray:
    """The file's values: modality values (e.g. HU) of grey DICOM, else the samples (uint8, uint16 or float32)."""
    if image.values is not None:
        return image.values
    scale = sample_scale(image.info)
    if scale == 1.0:
        return image.pixels
    samples = np.rint(image.pixels * np.float32(scale))  # exact: the readers divided integers by ``scale``
    dtype = np.uint8 if scale <= 255 else np.uint16 if scale <= 65535 else np.float32
    return samples.astype(dtype)


def inverted_display(info: ImageInfo) -> bool:
    """MONOCHROME1 shows its lowest value as white: a window over its values must be drawn inverted."""
    return info.mode == "MONOCHROME1"


def decoded_window(image: DecodedImage, values: np.ndarray) -> Window:
    """The linear window that shows ``values`` as the decoded pixels show them (the starting point of
    window/level): the file's first window, a VOI LUT's input range, the full sample range, or min-max."""
    if image.info.windows:
        return image.info.windows[0]
    if image.values is not None:  # DICOM without a window: the readers stretched min-max
        return full_range(values, "As decoded")
    return Window.spanning("As decoded", 0.0, sample_scale(image.info))


def full_range(values: np.ndarray, name: str = "Full range") -> Window:
    finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    if finite.size == 0:
        return Window.spanning(name, 0.0, 1.0)
    return Window.spanning(name, float(finite.min()), float(finite.max()))


def window_presets(image: DecodedImage, values: np.ndarray) -> list[Window]:
    """The file's windows, CT presets when the values are Hounsfield units, then the image's full range."""
    presets = list(image.info.windows)
    if image.info.units == "HU":
        presets += CT_PRESETS
    presets.append(full_range(values))
    return presets


def describe_value(value: object, units: str) -> str:
    """A value for the cursor readout: "29 HU", "3021", "(250, 60, 60)"; integers without decimals."""
    array = np.asarray(value)
    if array.ndim:
        return "(" + ", ".join(_number(v) for v in array.tolist()) + ")"
    text = _number(array.item())
    return f"{text} {units}" if units else text


def _number(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return f"{value:.4g}"
