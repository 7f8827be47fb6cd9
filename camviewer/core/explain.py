"""Explaining images: decode, batch, compute CAMs, upsample; and the folder export behind `camviewer explain`.

Decoding runs in a small thread pool ahead of the model (Pillow, OpenCV and torch release the
GIL), and outputs are written by another, so the model rarely waits for files.
"""

from __future__ import annotations

import csv
import re
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from camviewer.core.cam import Target, compute_cams, upsample_map, validate_methods
from camviewer.core.errors import CamviewerError, ImageError
from camviewer.core.images import DecodedImage, as_decoded, list_images
from camviewer.core.jobs import CancelToken, Progress, run_to_end
from camviewer.core.models import LoadedModel
from camviewer.core.overlay import overlay, write_png
from camviewer.core.preprocess import normalize

ImageSource = str | Path | np.ndarray | DecodedImage


@dataclass
class ExplainResult:
    """One image explained: ``maps[method][class_name]`` is H x W float32 in [0, 1] at the original size."""

    source: str
    size: tuple[int, int]
    probs: dict[str, float]
    predicted: str
    layer: str
    maps: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    raw: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    image: DecodedImage | None = None


@dataclass
class ExplainFailure:
    source: str
    reason: str


def explain(
    model: LoadedModel,
    images: Sequence[ImageSource] | ImageSource,
    methods: Sequence[str] = ("gradcam",),
    target: Target = "pred",
    layer: str | None = None,
    batch_size: int = 16,
) -> list[ExplainResult]:
    """Explain paths or arrays; raises the first image's error instead of skipping it."""
    if isinstance(images, (str, Path, np.ndarray, DecodedImage)):
        images = [images]
    results = []
    for event in explain_iter(model, images, methods, target, layer, batch_size):
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
            results = iter(_explain_decoded(model, good, methods, target, layer, keep_images, cancel) if good else [])
            for item in batch:
                done += 1
                payload = item if isinstance(item, ExplainFailure) else next(results)
                yield Progress(done, total, payload.source, payload)


def _decoded_batches(pool: ThreadPoolExecutor, sources, model, batch_size) -> Iterator[list]:
    """Batches of (index, label, DecodedImage, unit array) or ExplainFailure, decoded two batches ahead."""
    from camviewer.core.preprocess import to_unit_array

    def decode(index: int, source: ImageSource):
        label = _label(source, index)
        try:
            image = as_decoded(source)
            return index, label, image, to_unit_array(image.pixels, model.card)
        except ImageError as error:
            return ExplainFailure(label, error.reason)

    pending: deque[Future] = deque()
    queue = iter(enumerate(sources))
    for index, source in _take(queue, 2 * batch_size):
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
    if isinstance(source, DecodedImage) and source.info.path:
        return source.info.path
    return f"<image {index}>"


def _explain_decoded(model, items, methods, target, layer, keep_images, cancel) -> list[ExplainResult]:
    import torch

    units = torch.stack([torch.from_numpy(np.ascontiguousarray(unit.transpose(2, 0, 1))) for *_, unit in items])
    if not isinstance(target, (str, int)):  # one target per source: pick this batch's
        target = [target[index] for index, *_ in items]
    cams = compute_cams(model, normalize(units, model.card), methods, target, layer, cancel=cancel)
    names = model.card.class_names
    results = []
    for (_, label, image, _), probs, targets, raw in zip(items, cams.probs, cams.targets, cams.raw):
        size = image.pixels.shape[:2]
        raw_named = {m: {names[c]: raw[m][c] for c in targets} for m in methods}
        maps = {
            m: {name: upsample_map(r, size, model.card.border_crop) for name, r in per_class.items()}
            for m, per_class in raw_named.items()
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
                image=image if keep_images else None,
            )
        )
    return results


# --- folder export ----------------------------------------------------------------------------


def expand_sources(paths: Iterable[str | Path]) -> tuple[list[Path], list[ExplainFailure]]:
    """Files as given, folders expanded recursively to their images; missing paths reported."""
    files, problems = [], []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(list_images(path, recursive=True))
        elif path.is_file():
            files.append(path)
        else:
            problems.append(ExplainFailure(str(path), "no such file or folder"))
    return files, problems


def output_stems(paths: Sequence[Path]) -> list[str]:
    """File-name stems for outputs; a repeated stem gets '~2', '~3'... in order of appearance."""
    seen: dict[str, int] = {}
    stems = []
    for path in paths:
        stem = safe_name(path.stem)
        seen[stem] = seen.get(stem, 0) + 1
        stems.append(stem if seen[stem] == 1 else f"{stem}~{seen[stem]}")
    return stems


def safe_name(text: str) -> str:
    """Keep names readable but valid on every file system."""
    return re.sub(r'[<>:"/\\|?*\x00-\x1f]', "_", text).strip() or "_"


def explain_to_folder(
    model: LoadedModel,
    paths: Sequence[str | Path],
    out_dir: str | Path,
    methods: Sequence[str] = ("gradcam",),
    target: Target = "pred",
    layer: str | None = None,
    batch_size: int = 16,
    colormap: str = "jet",
    alpha: float = 0.5,
    cancel: CancelToken | None = None,
) -> Iterator[Progress]:
    """Write predictions.csv, maps/<stem>__<method>__<class>.npy and overlays/<same>.png.

    Yields Progress per image (payload ExplainResult without pixels, or ExplainFailure);
    returns a summary dict. predictions.csv is flushed row by row, so a cancelled run keeps
    what it finished.
    """
    files, missing = expand_sources(paths)
    for failure in missing:
        yield Progress(0, None, failure.source, failure)
    out_dir = Path(out_dir)
    (out_dir / "maps").mkdir(parents=True, exist_ok=True)
    (out_dir / "overlays").mkdir(exist_ok=True)
    stems = dict(zip(map(str, files), output_stems(files)))
    names = model.card.class_names
    summary = {"explained": 0, "failed": [(f.source, f.reason) for f in missing], "out": str(out_dir)}
    with open(out_dir / "predictions.csv", "w", newline="") as handle, ThreadPoolExecutor(
        max_workers=2, thread_name_prefix="camviewer-write"
    ) as writers:
        table = csv.writer(handle)
        table.writerow(["path", "predicted", *(f"p_{name}" for name in names)])
        writing: deque[Future] = deque()
        job = explain_iter(model, files, methods, target, layer, batch_size, cancel, keep_images=True)
        for event in job:
            result = event.payload
            if isinstance(result, ExplainFailure):
                summary["failed"].append((result.source, result.reason))
            else:
                table.writerow([result.source, result.predicted, *(f"{result.probs[n]:.6f}" for n in names)])
                handle.flush()
                writing.append(writers.submit(_write_outputs, result, out_dir, stems[result.source], colormap, alpha))
                result = _without_pixels(result)
                summary["explained"] += 1
            while len(writing) > 2 * batch_size:
                writing.popleft().result()
            yield Progress(event.done, event.total, event.message, result)
        for future in writing:
            future.result()
    return summary


def _write_outputs(result: ExplainResult, out_dir: Path, stem: str, colormap: str, alpha: float) -> None:
    for method, per_class in result.maps.items():
        for class_name, map01 in per_class.items():
            name = f"{stem}__{safe_name(method)}__{safe_name(class_name)}"
            np.save(out_dir / "maps" / f"{name}.npy", map01.astype(np.float32, copy=False))
            write_png(out_dir / "overlays" / f"{name}.png", overlay(result.image.pixels, map01, colormap, alpha))


def _without_pixels(result: ExplainResult) -> ExplainResult:
    return replace(result, image=None)


def explain_folder(model: LoadedModel, paths, out_dir, **options) -> dict:
    """Blocking form of :func:`explain_to_folder` for scripts."""
    return run_to_end(explain_to_folder(model, paths, out_dir, **options))
