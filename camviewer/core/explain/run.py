"""Explaining images (and a volume model's volumes): decode, batch, compute CAMs, place the maps on the originals.

Decoding runs in a small thread pool ahead of the model (Pillow, OpenCV and torch release the
GIL), and outputs are written by another, so the model rarely waits for files. Volumes are decoded one
batch ahead (two for images): each may take hundreds of megabytes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np

from camviewer.core.cam.display import empty_reason, normalised, placed_map, placed_volume_map
from camviewer.core.cam.engine import compute_cams
from camviewer.core.cam.methods import GRADIENT_METHODS
from camviewer.core.cam.names import MethodSettings, Target, validate_methods
from camviewer.core.errors import CamviewerError, ImageError
from camviewer.core.explain.records import ExplainFailure, ExplainResult, ImageSource
from camviewer.core.images import DecodedImage, as_decoded
from camviewer.core.jobs import CancelToken, Progress
from camviewer.core.model.loaded import LoadedModel
from camviewer.core.preprocess import normalize
from camviewer.core.volumes import Volume, VolumeSource, read_volume


def explain(
    model: LoadedModel,
    images: Sequence[ImageSource] | ImageSource,
    methods: Sequence[str] = ("gradcam",),
    target: Target = "pred",
    layer: str | None = None,
    batch_size: int = 16,
    settings: MethodSettings | None = None,
) -> list[ExplainResult]:
    """Explain paths or arrays (a volume model: volumes); raises the first image's error instead of skipping it.

    ``settings``: the parameters of the methods that have any (their reference implementations' defaults).
    """
    if isinstance(images, (str, Path, np.ndarray, DecodedImage, Volume, VolumeSource)):
        images = [images]
    results = []
    for event in explain_iter(model, images, methods, target, layer, batch_size, settings=settings):
        if isinstance(event.payload, ExplainFailure):
            raise CamviewerError(f"{event.payload.source}: {event.payload.reason}")
        results.append(event.payload)
    return results


def explain_iter(
    model: LoadedModel,
    sources: Sequence[ImageSource],
    methods: Sequence[str] = ("gradcam",),
    target: Target = "pred",
    layer: str | None = None,
    batch_size: int = 16,
    cancel: CancelToken | None = None,
    keep_images: bool = False,
    settings: MethodSettings | None = None,
) -> Iterator[Progress]:
    """Yield one Progress per image, its payload an ExplainResult or an ExplainFailure (bad file)."""
    methods = validate_methods(methods)
    total = len(sources)
    done = 0
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="camviewer-decode") as pool:
        for batch in _decoded_batches(pool, sources, model, batch_size):
            if cancel is not None:
                cancel.raise_if_cancelled()
            good = [item for item in batch if not isinstance(item, ExplainFailure)]
            results = iter(
                _explain_decoded(model, good, methods, target, layer, keep_images, cancel, settings) if good else []
            )
            for item in batch:
                done += 1
                payload = item if isinstance(item, ExplainFailure) else next(results)
                yield Progress(done, total, payload.source, payload)


def _decoded_batches(pool: ThreadPoolExecutor, sources, model, batch_size) -> Iterator[list]:
    """Batches of (index, label, DecodedImage or Volume, unit tensor) or ExplainFailure, decoded ahead."""
    from camviewer.core.preprocess import to_unit_tensor
    from camviewer.core.preprocess_volume import to_unit_volume

    volumes = model.card.volume is not None

    def decode(index: int, source: ImageSource):
        label = _label(source, index)
        try:
            if volumes:
                volume = source if isinstance(source, Volume) else read_volume(source)
                return index, label, volume, to_unit_volume(volume, model.card)
            image = as_decoded(source)
            return index, label, image, to_unit_tensor(image, model.card)
        except ImageError as error:  # VolumeError is one too
            return ExplainFailure(label, error.reason)

    pending: deque[Future] = deque()
    queue = iter(enumerate(sources))
    for index, source in _take(queue, (1 if volumes else 2) * batch_size):
        pending.append(pool.submit(decode, index, source))
    while pending:
        batch = []
        while pending and len(batch) < batch_size:
            batch.append(pending.popleft().result())
            for index, source in _take(queue, 1):
                pending.append(pool.submit(decode, index, source))
        yield batch


def _take(iterator: Iterator, count: int) -> list:
    return [item for _, item in zip(range(count), iterator)]


def _label(source: ImageSource, index: int) -> str:
    if isinstance(source, (str, Path)):
        return str(source)
    if isinstance(source, VolumeSource):
        return str(source.path)
    if isinstance(source, (DecodedImage, Volume)) and source.info.path:
        return source.info.path
    return f"<{'volume' if isinstance(source, Volume) else 'image'} {index}>"


def _explain_decoded(model, items, methods, target, layer, keep_images, cancel, settings) -> list[ExplainResult]:
    import torch

    units = torch.stack([unit for *_, unit in items])
    if not isinstance(target, (str, int)):  # one target per source: pick this batch's
        target = [target[index] for index, *_ in items]
    cams = compute_cams(model, normalize(units, model.card), methods, target, layer, settings, cancel)
    names = model.card.class_names
    results = []
    for (_, label, image, _), probs, targets, raw, flat in zip(
        items, cams.probs, cams.targets, cams.raw, cams.zero_gradient
    ):
        raw_named = {m: {names[c]: raw[m][c] for c in targets} for m in methods}
        if isinstance(image, Volume):
            size = image.shape
            place = partial(placed_volume_map, placement=model.card.volume.placement(image.shape, image.spacing))
        else:
            size = image.pixels.shape[:2]
            place = partial(placed_map, image_size=size, placement=model.card.placement(size))
        maps: dict[str, dict[str, np.ndarray]] = {m: {} for m in methods}
        ranges: dict[str, dict[str, tuple[float, float]]] = {m: {} for m in methods}
        for m, per_class in raw_named.items():
            for name, r in per_class.items():
                maps[m][name], ranges[m][name] = normalised(place(r))
        empty = {
            (m, names[c]): reason
            for m in methods
            for c in targets
            if (reason := empty_reason(raw[m][c], m in GRADIENT_METHODS and c in flat))
        }
        results.append(
            ExplainResult(
                source=label,
                size=size,
                probs={name: float(p) for name, p in zip(names, probs)},
                predicted=names[int(np.argmax(probs))],
                layer=cams.layer,
                maps=maps,
                raw=raw_named,
                ranges=ranges,
                image=image if keep_images and not isinstance(image, Volume) else None,
                empty=empty,
                volume=image if keep_images and isinstance(image, Volume) else None,
            )
        )
    return results
