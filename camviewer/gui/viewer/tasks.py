"""What runs inside the workers: thin calls into :mod:`camviewer.core`, never called on the GUI thread.

Each function here imports the engine when it runs, so importing this module costs nothing and torch
loads in a worker thread. The engine is looked up through its module (``run.explain_iter``) at
call time, so tests can wrap it to count calls or record the calling thread.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from camviewer.core.errors import CamviewerError, Cancelled, ImageError
from camviewer.core.filenames import printable
from camviewer.core.jobs import CancelToken, relay
from camviewer.gui.viewer.state import Picture

if TYPE_CHECKING:  # imported by the workers when they run: the window does not wait for torch or the decoders
    from camviewer.core.cam.layers import LayerInfo
    from camviewer.core.explain.records import ExplainResult
    from camviewer.core.images import DecodedImage
    from camviewer.core.model.loaded import LoadedModel
    from camviewer.core.model.loading import CheckpointSummary
    from camviewer.gui.volume.tasks import VolumeFrame

DEMO_CLASSES = ["parasitized", "uninfected"]
# --------------------------------------------------------------------------------------- models


@dataclass
class ModelReady:
    """A loaded model and what the CAM panel needs to offer for it."""

    model: LoadedModel
    layers: list[LayerInfo]
    auto_layer: str
    methods: tuple[str, ...]
    colormaps: tuple[str, ...]
    warning: str | None = None  # shown prominently, e.g. for the untrained placeholder
    placeholder: bool = False  # the demo model is missing: an untrained stand-in, its heatmaps mean nothing


@dataclass
class CheckpointInfo:
    summary: CheckpointSummary
    architectures: list[str]  # what the checkpoint dialog offers


@dataclass
class LoadOptions:
    """What the checkpoint dialog asks about a bare state_dict (``load_model``'s keywords of the same names).

    Plain values (JSON): the window remembers them, so the same file reopens without questions.
    """

    arch: str
    num_classes: int
    class_names: list[str] | None
    multi_label: bool | None  # None: as the weights say
    recipe: dict = field(default_factory=dict)  # resize, crop, letterbox, interpolation
    mean: list[float] | None = None
    std: list[float] | None = None
    grayscale: bool | None = None


def timm_preprocessing(arch: str) -> dict:
    """timm's evaluation transform for ``arch`` (``timm:NAME``), as the recipe form's values."""
    from camviewer.core.model.loading import default_preprocessing

    return default_preprocessing(arch, 3)


def describe_checkpoint(path: str, trust_pickle: bool = False) -> CheckpointInfo:
    from camviewer.core.model.loading import describe_checkpoint as describe
    from camviewer.core.model.registry import available_architectures

    return CheckpointInfo(describe(path, trust_pickle=trust_pickle), available_architectures())


def load_checkpoint(
    path: str, trust_pickle: bool = False, options: LoadOptions | None = None, save_as: str | None = None
) -> ModelReady:
    """A checkpoint as it describes itself, or as the checkpoint dialog's ``options`` say.

    With ``save_as``, the loaded weights and their card are written there first (never over a file),
    and the model's source becomes that file: it reopens without questions.
    """
    from camviewer.core.errors import OutputExists
    from camviewer.core.model.loading import load_model

    keywords = asdict(options) if options is not None else {}
    model = load_model(path, trust_pickle=trust_pickle, **keywords)
    if save_as:
        if Path(save_as).exists():
            raise OutputExists(save_as)
        model.source = str(model.save(save_as))
    return _ready(model)


def folder_statistics(
    paths: Sequence[str], recipe: dict, channels: int, grayscale: bool, cancel: CancelToken
) -> Iterator:
    """Per-channel mean and std of ``paths`` after the recipe; yields Progress, returns (mean, std, images)."""
    from camviewer.core.data.decode import channel_statistics
    from camviewer.core.model.card import ModelCard

    card = ModelCard(
        "statistics", ["images"], channels=channels, grayscale=bool(grayscale), mean=(0.5,), std=(0.25,), **recipe
    )
    return (yield from channel_statistics(paths, card, cancel=cancel))


def load_demo() -> ModelReady:
    """The built-in demo model, or an untrained placeholder built by the project's code if it is missing."""
    from camviewer.core.model.loading import load_model, new_model
    from camviewer.core.paths import demo_model_path

    try:
        path = demo_model_path()
    except FileNotFoundError:
        path = None
    if path is not None and path.is_file():
        return _ready(load_model(path))
    import torch

    from camviewer.core.model.card import ModelCard

    torch.manual_seed(0)
    card = ModelCard(
        arch="tinyvgg_gap",
        class_names=list(DEMO_CLASSES),
        input_size=(96, 96),
        arch_options={"widths": [16, 32, 64]},
        notes={"loading": ["untrained placeholder: weights/demo.safetensors was not found"]},
    )
    warning = "Demo model is an UNTRAINED placeholder (weights/demo.safetensors not found): its heatmaps mean nothing."
    return _ready(new_model(card), warning, placeholder=True)


def _ready(model: LoadedModel, warning: str | None = None, placeholder: bool = False) -> ModelReady:
    from camviewer.core.cam.layers import auto_layer, candidate_layers
    from camviewer.core.cam.names import METHODS
    from camviewer.core.cam.rollout import ROLLOUT_METHODS, supports_rollout
    from camviewer.core.overlay import COLORMAPS

    try:
        layers, auto = candidate_layers(model), auto_layer(model)
    except CamviewerError as error:  # a model without any spatial map: it still predicts, it cannot be explained
        layers, auto = [], ""
        warning = f"{warning} {error}" if warning else str(error)
    rollout = bool(layers) and supports_rollout(model)  # attention rollout: ViT-like models only
    methods = tuple(m for m in METHODS if rollout or m not in ROLLOUT_METHODS)
    return ModelReady(model, layers, auto, methods, tuple(COLORMAPS), warning, placeholder)


# --------------------------------------------------------------------------------------- images


@dataclass
class ViewRequest:
    """One image to show and explain. ``generation`` tells a current answer from a stale one."""

    generation: int
    path: str
    image: DecodedImage | None  # already decoded for this path, or None
    model: LoadedModel | None  # None: only decode
    methods: tuple[str, ...]
    target: str
    layer: str | None
    cancel: CancelToken = field(default_factory=CancelToken)


@dataclass
class ImageFrame:
    generation: int
    path: str
    image: DecodedImage
    picture: Picture  # what the base layer shows: the decoded pixels, or the file's values through a window

    @property
    def display(self) -> np.ndarray:
        """H x W x 3 uint8: the decoded pixels as the model sees them."""
        return self.picture.display


def make_picture(image: DecodedImage) -> Picture:
    """The decoded view and the file's own values (HU, raw samples) with their display windows; no torch."""
    from camviewer.core.images import to_uint8_rgb
    from camviewer.core.images.values import decoded_window, inverted_display, modality_values, window_presets

    values = modality_values(image)
    return Picture(
        to_uint8_rgb(image.pixels),
        values,
        image.info.units,
        decoded_window(image, values),
        tuple(window_presets(image, values)),
        inverted_display(image.info),
    )


@dataclass
class Explained:
    generation: int
    result: ExplainResult
    seconds: float


@dataclass
class ViewFailed:
    generation: int
    path: str
    message: str
    stage: str  # "image" (cannot read it), "model" (the model cannot explain it) or "cam"


def view_image(request: ViewRequest) -> Iterator[ImageFrame | VolumeFrame | Explained | ViewFailed]:
    """Decode (unless already decoded), yield the frame (a VolumeFrame for a volume), then explain it in one pass.

    A model that cannot explain what was read (a 2-D model and a volume, or the reverse): a ViewFailed "model".
    """
    from camviewer.core import images  # no torch: the image shows while the model may still be loading
    from camviewer.gui.volume import tasks as volume_tasks

    image = request.image
    if image is None:
        try:
            if volume_tasks.is_volume_key(request.path):
                frame = volume_tasks.read_frame(request.generation, request.path)
                image = frame.volume
                yield frame
            else:
                image = images.read_image(request.path)
                yield ImageFrame(request.generation, request.path, image, make_picture(image))
        except ImageError as error:  # a VolumeError is one too
            yield ViewFailed(request.generation, request.path, f"{Path(request.path).name}: {error.reason}", "image")
            return
    if request.model is None or request.cancel.cancelled:
        return
    mismatch = volume_tasks.model_mismatch(request.model, is_volume=not isinstance(image, images.DecodedImage))
    if mismatch:
        yield ViewFailed(request.generation, request.path, mismatch, "model")
        return
    from camviewer.core.explain import run
    from camviewer.core.explain.records import ExplainFailure

    started = time.perf_counter()
    events = run.explain_iter(
        request.model, [image], request.methods, request.target, request.layer, batch_size=1, cancel=request.cancel
    )
    try:
        payload = next(events).payload
    except Cancelled:
        return
    except CamviewerError as error:
        yield ViewFailed(request.generation, request.path, str(error), "cam")
        return
    finally:
        events.close()
    if isinstance(payload, ExplainFailure):
        yield ViewFailed(request.generation, request.path, payload.reason, "cam")
    else:
        payload.source = request.path
        yield Explained(request.generation, payload, time.perf_counter() - started)


# --------------------------------------------------------------------------------------- export


def export_view(
    pixels: np.ndarray,
    map01: np.ndarray,
    colormap: str,
    opacity: float,
    png_path: str,
    npy_path: str,
    outline: str = "none",
    threshold: float = 0.5,
) -> tuple[str, str]:
    """Write the overlay as shown (PNG, with its outline if any) and the raw map (.npy, float32 in [0, 1])."""
    from camviewer.core import overlay
    from camviewer.core.atomic import write_npy

    rgb = overlay.overlay(pixels, map01, colormap, opacity)
    if outline != "none":
        mask = overlay.threshold_mask(map01, threshold)
        rgb = (
            overlay.draw_contours(rgb, overlay.contours(mask))
            if outline == "contour"
            else overlay.draw_boxes(rgb, overlay.component_boxes(mask))
        )
    overlay.write_png(png_path, rgb)
    write_npy(npy_path, np.asarray(map01, dtype=np.float32))
    return png_path, npy_path


def export_folder(
    model: LoadedModel,
    paths: Sequence[str],
    out_dir: str,
    methods: Sequence[str],
    target: str,
    layer: str | None,
    colormap: str,
    opacity: float,
    if_exists: str,
    cancel: CancelToken,
) -> Iterator:
    """The engine's folder export (same layout as `camviewer explain`); yields Progress naming each file, returns
    its summary. ``if_exists``: "refuse", "overwrite" or "resume" an earlier export in ``out_dir``."""
    from camviewer.core.explain import export
    from camviewer.core.explain.records import ExportNotice

    job = export.explain_to_folder(
        model, paths, out_dir, methods, target, layer, 8, colormap, opacity, cancel=cancel, if_exists=if_exists
    )

    def named(event):  # the status line shows the file's name (printable: names are bytes on Linux)
        if isinstance(event.payload, ExportNotice):
            return event
        return replace(event, message=printable(Path(event.message).name))

    # The engine locks the model per batch, so the viewer can still explain between export batches.
    return (yield from relay(job, named))
