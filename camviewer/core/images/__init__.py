"""Decode image files (PNG, JPEG, BMP, TIFF, WebP, GIF, DICOM) or arrays into float pixels plus metadata.

Everything downstream (model input, the viewer, training datasets) goes through this package, so one
file always maps to the same numbers:

* Pixels are float32, C-contiguous, in [0, 1]: ``(H, W)`` for grey sources, ``(H, W, 3)`` for colour.
  A colour image whose channels happen to be equal stays 3-channel; grey stays 2-D.
* Integer samples are divided by the full range of their bit depth (8-bit /255, 16-bit /65535, 32-bit
  /(2**31-1)), never stretched per image: training and inference must map intensities identically, and a
  per-image stretch would make the same tissue value mean different things in different files.
* Float samples (TIFF "F", float arrays) are kept if they lie in [0, 1], else min-max scaled; NaN -> 0.
* Alpha is dropped, not composited: the stored colour is kept, as ``PIL.Image.convert("RGB")`` and
  torchvision's default loader do, so models trained with those pipelines see the same values.
* Palette images become RGB, or grey when every palette entry is grey. CMYK becomes RGB via Pillow.
* EXIF orientation is applied; ``width``/``height`` always describe the oriented pixels.
* DICOM: modality LUT (rescale slope/intercept), then the first VOI LUT or window (DICOM PS3.3 C.11.2),
  else a min-max of the modality values (the only per-image scaling: a DICOM without a window has no
  other display range); MONOCHROME1 is inverted so that higher means brighter; first frame only.

Every failure is an :class:`~camviewer.core.errors.ImageError` naming the file and the reason.
Decoding mutates no global state (Pillow's ``LOAD_TRUNCATED_IMAGES`` and ``MAX_IMAGE_PIXELS`` are left
alone), so ``read_image`` may run in several threads at once. Pillow's own decompression-bomb limit
(2 x ``Image.MAX_IMAGE_PIXELS``, about 179 MP by default) still applies on top of ``max_pixels``.

Modules: ``read`` (the public entry points, re-exported here), ``raster`` (Pillow formats), ``dicom``,
``listing`` (which files are images), ``common`` (shared types and scaling), ``values`` (the file's own
values for display: Hounsfield units, raw samples, window/level presets; never what the model sees).
"""

from camviewer.core.images.common import DEFAULT_MAX_PIXELS, DecodedImage, ImageInfo, Window
from camviewer.core.images.listing import IMAGE_EXTENSIONS, is_image_path, list_images
from camviewer.core.images.read import as_decoded, read_header, read_image, to_uint8_rgb

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "DecodedImage",
    "ImageInfo",
    "Window",
    "as_decoded",
    "is_image_path",
    "list_images",
    "read_header",
    "read_image",
    "to_uint8_rgb",
]
