"""The folder export behind `camviewer explain` and the window's Export folder.

``explain_to_folder`` writes ``maps/<stem>__<method>__<class>.npy``, ``overlays/<same>.png``,
``predictions.csv`` and ``export.json`` (a volume model: NIfTI maps, ``.nii.gz``, and montages of axial slices;
see :mod:`camviewer.core.explain.outputs` for the names and :mod:`camviewer.core.explain.table` for the table).
What it guarantees:

* every file is written under a temporary name and renamed when complete; an image's row is appended to
  ``predictions.csv`` only once all its files are there, so the table always lists exactly what is on disk;
* a write that fails (a full disk, a folder that became read-only) stops the export with
  :class:`~camviewer.core.errors.ExportInterrupted`: the images being written are removed, the others stay
  listed and complete, and ``if_exists="resume"`` continues from there;
* a folder that holds an earlier export is refused unless it is to be replaced or continued;
* an output folder inside an input folder is never read back as input.

Writing runs in two threads beside the model, so the model rarely waits for files.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path

from camviewer.core.cam.names import MethodSettings, Target, validate_methods
from camviewer.core.errors import ExportInterrupted, WriteFailed
from camviewer.core.explain.outputs import Input, OutputNames, remove_files, write_image_outputs
from camviewer.core.explain.records import ExplainFailure, ExplainResult, ExportNotice
from camviewer.core.explain.run import explain_iter
from camviewer.core.explain.table import SETTINGS_FORMAT, PredictionsTable, open_export
from camviewer.core.filenames import printable
from camviewer.core.images import list_images
from camviewer.core.jobs import CancelToken, Progress, run_to_end
from camviewer.core.model.loaded import LoadedModel

Pending = deque[tuple[Future, list]]


def expand_sources(
    paths: Iterable[str | Path], out_dir: str | Path | None = None, volumes: bool = False
) -> tuple[list[Input], list[ExplainFailure], list[str]]:
    """Files as given, folders expanded recursively to their images, each once; missing paths reported.

    Files inside ``out_dir`` are left out (an export is never read back as its own input); the notices say so.
    With ``volumes`` (a 3-D model), folders expand to their volumes: NIfTI files, DICOM series folders (a series
    folder given as it is is one volume) and multi-frame DICOM files.
    """
    inputs, problems, notices, seen = [], [], [], set()
    outputs = os.path.abspath(out_dir) if out_dir is not None else None
    for path in map(Path, paths):
        if outputs is not None and _inside(os.path.abspath(path), outputs):
            problems.append(ExplainFailure(str(path), "inside the output folder: outputs are not read as input"))
            continue
        if path.is_dir():
            files = _volumes_in(path) if volumes else list_images(path, recursive=True)
            found = [(file, _key(file, path)) for file in files]
            if outputs is not None and _inside(outputs, os.path.abspath(path)):
                found = [(file, key) for file, key in found if not _inside(os.path.abspath(file), outputs)]
                notices.append(f"{printable(path)} holds the output folder: its files are not read as input")
        elif os.path.lexists(path):  # a file, or something else that the reader will refuse with the reason
            found = [(path, path.name)]
        else:
            problems.append(ExplainFailure(str(path), "no such file or folder"))
            continue
        for file, key in found:
            if os.path.abspath(file) not in seen:
                seen.add(os.path.abspath(file))
                inputs.append(Input(file, key))
    return inputs, problems, notices


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
    if_exists: str = "refuse",
    settings: MethodSettings | None = None,
) -> Iterator[Progress]:
    """Explain every image into ``out_dir``; yields Progress per image (payload ExplainResult without pixels, or
    ExplainFailure; ExportNotice for the export as a whole) and returns a summary dict: ``explained`` (this run),
    ``already_done`` (skipped when resuming), ``failed`` ((source, reason) pairs), ``out``.

    ``if_exists`` says what to do with an earlier export in ``out_dir``: "refuse" (ExportExists), "overwrite"
    or "resume" (skip the images it lists, keep its rows). A cancel keeps every image finished so far.
    """
    out_dir = Path(out_dir)
    methods = validate_methods(methods)
    inputs, missing, notices = expand_sources(paths, out_dir, volumes=model.card.volume is not None)
    for text in notices:
        yield Progress(0, None, text, ExportNotice(text))
    for failure in missing:
        yield Progress(0, None, failure.source, failure)
    table, done = open_export(
        out_dir, export_settings(model, methods, target, layer, colormap, alpha, settings), if_exists
    )
    names = OutputNames(model.card.class_names, reserved=done)
    todo = [item for item in inputs if os.path.abspath(item.path) not in done]
    summary = {
        "explained": 0,
        "already_done": len(inputs) - len(todo),
        "failed": [(f.source, f.reason) for f in missing],
        "out": str(out_dir),
    }
    job = explain_iter(model, [item.path for item in todo], methods, target, layer, batch_size, cancel, True, settings)
    yield from export_images(job, todo, out_dir, names, table, summary, (colormap, alpha), keep=2 * batch_size)
    return summary


def export_images(
    job: Iterator[Progress],
    items: Sequence[Input],
    out_dir: Path,
    names: OutputNames,
    table: PredictionsTable,
    summary: dict,
    style: tuple[str, float],
    keep: int,
) -> Iterator[Progress]:
    """Write what ``job`` (explain_iter over ``items``, keeping the images) explains into ``out_dir``, each row
    appended to ``table`` once its image's files are written (at most ``keep`` images waiting); ``summary``
    counts them and lists the failures. Re-yields the job's events, without pixels. Closes ``table``."""
    by_source = {str(item.path): item for item in items}
    pending: Pending = deque()
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="camviewer-write") as writers:
        try:
            for event in job:
                result = event.payload
                if isinstance(result, ExplainFailure):
                    summary["failed"].append((result.source, result.reason))
                else:
                    stem = names.stem(by_source[result.source])
                    write = writers.submit(write_image_outputs, result, out_dir, names, stem, *style)
                    pending.append((write, _row(result, list(result.probs), stem)))
                    result = replace(result, image=None, volume=None)
                _commit(pending, table, summary, keep=keep)
                yield Progress(event.done, event.total, event.message, result)
            _commit(pending, table, summary, keep=0)
        except WriteFailed as error:
            _finish(pending, table, summary)
            raise ExportInterrupted(out_dir, summary["explained"], error) from None
        except BaseException:  # cancelled, closed or failed elsewhere: keep the images already complete
            _finish(pending, table, summary)
            raise
        finally:
            table.close()


def export_settings(model: LoadedModel, methods, target, layer, colormap, alpha, settings) -> dict:
    """What ``export.json`` records of an export (and a resumed one must share)."""
    return {
        "format": SETTINGS_FORMAT,
        "model": model.source,
        "classes": list(model.card.class_names),
        "methods": list(methods),
        "target": target if isinstance(target, (str, int)) else "per image",
        "layer": layer,
        "colormap": colormap,
        "alpha": float(alpha),
        "method_settings": asdict(settings or MethodSettings()),
    }


def _row(result: ExplainResult, class_names: list[str], stem: str) -> list:
    probabilities = (f"{result.probs[name]:.6f}" for name in class_names)
    return [os.path.abspath(result.source), result.predicted, *probabilities, stem]


def _commit(pending: Pending, table: PredictionsTable, summary: dict, keep: int) -> None:
    """Append the rows of the oldest images whose files are written (waiting while more than ``keep`` are pending)."""
    while pending and (len(pending) > keep or pending[0][0].done()):
        write, row = pending[0]
        files = write.result()  # WriteFailed: that image's files were already removed
        pending.popleft()
        try:
            table.append(row)
        except WriteFailed:
            remove_files(files)
            raise
        summary["explained"] += 1


def _finish(pending: Pending, table: PredictionsTable, summary: dict) -> None:
    """After a failure or a cancel: list every pending image whose files were all written, in order; an image
    whose write failed has removed its own files. If the table itself cannot grow, the rest are removed."""
    while pending:
        write, row = pending.popleft()
        try:
            files = write.result()
        except Exception:  # reported by whoever failed first; that image removed its own files
            continue
        try:
            table.append(row)
        except WriteFailed:
            remove_files(files)
            for later, _row in pending:
                with contextlib.suppress(Exception):
                    remove_files(later.result())
            pending.clear()
            break
        summary["explained"] += 1


def _key(file: Path, folder: Path) -> str:
    """The path of ``file`` relative to the input ``folder``; the folder's name for a series that is the folder."""
    key = file.relative_to(folder).as_posix()
    return folder.name if key == "." else key


def _volumes_in(folder: Path) -> list[Path]:
    """The volumes of a folder tree, each once (a folder holding several series is read, and refused, as one)."""
    from camviewer.core.volumes import list_volumes

    return list(dict.fromkeys(source.path for source in list_volumes(folder)))


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def explain_folder(model: LoadedModel, paths, out_dir, **options) -> dict:
    """Blocking form of :func:`explain_to_folder` for scripts."""
    return run_to_end(explain_to_folder(model, paths, out_dir, **options))
