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
from dataclasses import replace
from pathlib import Path

import numpy as np

from camviewer.core.cam.names import MethodSettings, Target
from camviewer.core.explain.records import ExplainFailure, ExplainResult
from camviewer.core.explain.run import explain_iter
from camviewer.core.images import list_images
from camviewer.core.jobs import CancelToken, Progress, run_to_end
from camviewer.core.model.loaded import LoadedModel
from camviewer.core.overlay import overlay, write_png


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
    settings: MethodSettings | None = None,
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
    with (
        open(out_dir / "predictions.csv", "w", newline="") as handle,
        ThreadPoolExecutor(max_workers=2, thread_name_prefix="camviewer-write") as writers,
    ):
        table = csv.writer(handle)
        table.writerow(["path", "predicted", *(f"p_{name}" for name in names)])
        writing: deque[Future] = deque()
        job = explain_iter(
            model, files, methods, target, layer, batch_size, cancel, keep_images=True, settings=settings
        )
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
