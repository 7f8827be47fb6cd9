"""A dataset explained by several processes (torchrun) into one export folder.

Rank 0 readies the folder as :func:`~camviewer.core.explain.export.explain_to_folder` does (an earlier export is
refused, replaced or resumed; ``export.json``), merging first the part tables an interrupted run of several
processes left, and tells the others which images are done. Every process lists the same inputs in the same order
and names every image the same way (its stem, given in input order), takes its share of the images not done
(:class:`~camviewer.core.distributed.shards.EveryItemOnce`: each image by exactly one process) and writes them as
``explain_to_folder`` does: each file atomically, an image's row appended once all its files are there, here to
its own part table (:func:`~camviewer.core.explain.table.part_table`). At the end rank 0 appends every part's rows
to ``predictions.csv`` in input order and removes the parts. Killed at any moment, the folder lists in
``predictions.csv`` and in its parts exactly the images it finished; resumed on any number of processes (one
included), it explains only the others.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from camviewer.core.cam.names import MethodSettings, Target, validate_methods
from camviewer.core.distributed.shards import shard
from camviewer.core.distributed.world import World
from camviewer.core.explain.export import expand_sources, export_images, export_settings
from camviewer.core.explain.outputs import OutputNames
from camviewer.core.explain.records import ExportNotice
from camviewer.core.explain.run import explain_iter
from camviewer.core.explain.table import merge_parts, open_export, part_table
from camviewer.core.jobs import CancelToken, Progress
from camviewer.core.model.loaded import LoadedModel


def explain_shards_to_folder(
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
    world: World | None = None,
) -> Iterator[Progress]:
    """This process's share of the export (see the module docstring); the files of ``explain_to_folder``.

    Yields Progress per image of the share (payload ExplainResult without pixels, or ExplainFailure; rank 0 also
    ExportNotice and the paths not found) and returns the summary of the whole run on every process:
    ``explained`` (this run, every process), ``already_done``, ``failed`` ((source, reason) pairs) and ``out``.
    """
    world = world or World()
    out_dir = Path(out_dir)
    methods = validate_methods(methods)
    inputs, missing, notices = expand_sources(paths, out_dir, volumes=model.card.volume is not None)
    done = None
    if world.writes:
        for text in notices:
            yield Progress(0, None, text, ExportNotice(text))
        for failure in missing:
            yield Progress(0, None, failure.source, failure)
        export = export_settings(model, methods, target, layer, colormap, alpha, settings)
        table, done = open_export(out_dir, export, if_exists)
        table.close()
    done = world.broadcast(done)  # rank 0 has readied the folder: every process knows what is finished
    names = OutputNames(model.card.class_names, reserved=done)
    todo = [item for item in inputs if os.path.abspath(item.path) not in done]
    for item in todo:  # the same stems on every process, whichever explains the image
        names.stem(item)
    mine = [todo[index] for index in shard(todo, world)]
    summary = {"explained": 0, "already_done": len(inputs) - len(todo), "failed": [], "out": str(out_dir)}
    job = explain_iter(model, [item.path for item in mine], methods, target, layer, batch_size, cancel, True, settings)
    table = part_table(out_dir, world.rank)
    yield from export_images(job, mine, out_dir, names, table, summary, (colormap, alpha), keep=2 * batch_size)
    (explained,) = world.sum([summary["explained"]])
    failed = world.gather(summary["failed"])
    if world.writes:
        merge_parts(out_dir, model.card.class_names, [os.path.abspath(item.path) for item in inputs])
    world.barrier()  # predictions.csv is whole when any process reports
    shared = [(f.source, f.reason) for f in missing] + [item for part in failed or [] for item in part]
    return {**summary, "explained": int(explained), "failed": shared}
