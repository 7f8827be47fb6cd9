"""What the Training dock runs in workers: thin calls into the engine, imported when they run (no torch at import).

Per-batch training updates are gathered into one :class:`BatchChunk` per 50 ms, so the GUI thread gets few signals.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from camviewer.core.jobs import CancelToken, Progress
from camviewer.core.training.records import BatchUpdate, EpochRecord, ResumeChanges, TrainConfig

BATCH_FLUSH_S = 0.05  # at most ~20 batch chunks a second cross to the GUI thread


@dataclass
class DatasetPreview:
    """What a dataset folder holds, before any pixel is decoded (for the training panel)."""

    source: str
    layout: str
    class_names: list[str]
    counts: dict[str, dict[str, int]]  # split -> class -> images; the single key "all" without given splits
    positive_class: str | None
    multi_label: bool
    ignored_folders: list[str]
    total: int


def preview_dataset(data: str, allow_outside: bool = False) -> DatasetPreview:
    """``allow_outside``: a CSV partition may name images outside its folder (the user was asked)."""
    from camviewer.core.data.index import SPLITS, scan_dataset

    index = scan_dataset(data, allow_outside)
    counts = (
        {split: index.class_counts(split) for split in SPLITS} if index.has_splits else {"all": index.class_counts()}
    )
    return DatasetPreview(
        str(index.source),
        index.layout,
        list(index.class_names),
        counts,
        index.positive_class,
        index.multi_label,
        list(index.ignored_folders),
        len(index.samples),
    )


def import_training_stack() -> int:
    """Import what a training run needs now, while the user reads the preview (a job of its own), not after Start;
    returns how many GPUs a run may use (:func:`visible_gpus`).

    Importing a module unmarshals its code with the GIL held: done mid-run, that stalls the window for
    up to ~0.2 s; done here, it happens before the curves and the progress bar have anything to show.
    """
    import safetensors.torch  # noqa: F401  (checkpoints)
    import sklearn.model_selection  # noqa: F401  (the stratified split)
    import torch.utils.serialization  # noqa: F401  (last.pt)
    import torchvision.transforms.v2  # noqa: F401  (augmentation)

    import camviewer.core.evaluation.run
    import camviewer.core.training.loop
    import camviewer.core.trust.refine  # noqa: F401  (a refined set's border crop)

    return visible_gpus()


@dataclass
class BatchChunk:
    """Consecutive per-batch training updates, oldest first."""

    updates: list[BatchUpdate]


def coalesce_batches(job: Iterator[Progress]) -> Iterator:
    """A training job's events, with its per-batch updates gathered into a BatchChunk every 50 ms.

    Every batch still arrives (the loss curve gets all its points); the GUI thread just gets fewer
    signals. Any other event flushes the pending batches first, so the order is kept.
    """
    pending: list[BatchUpdate] = []
    last = time.perf_counter()
    try:
        while True:
            try:
                event = next(job)
            except StopIteration as stop:
                if pending:
                    yield BatchChunk(pending)
                return stop.value
            if isinstance(event.payload, BatchUpdate):
                pending.append(event.payload)
                if time.perf_counter() - last >= BATCH_FLUSH_S:
                    yield BatchChunk(pending)
                    pending, last = [], time.perf_counter()
                continue
            if pending:
                yield BatchChunk(pending)
                pending, last = [], time.perf_counter()
            yield event
    finally:
        job.close()  # a closed worker still leaves a checkpoint (the engine handles GeneratorExit)


def train_model(config: TrainConfig, cancel: CancelToken) -> Iterator:
    """``camviewer train``, configured by the training form."""
    from camviewer.core.training.loop import train

    return (yield from coalesce_batches(train(config, cancel)))


def resume_training(run_dir: str, changes: ResumeChanges, cancel: CancelToken) -> Iterator:
    """``camviewer train --resume RUN``: only epochs, patience, device and workers may change."""
    from camviewer.core.training.loop import resume

    return (yield from coalesce_batches(resume(run_dir, changes, cancel)))


def train_on_gpus(config: TrainConfig, processes: int, cancel: CancelToken) -> Iterator:
    """``camviewer train --config CONFIG --nproc N`` in a subprocess, the command line's own run (torchrun, one
    process per GPU), watched through the events its rank 0 writes."""
    from camviewer.core.training.records import Notice
    from camviewer.core.training.run_folder import claim_run_dir

    for text in claim_run_dir(Path(config.out)):  # a folder in use is refused before any process starts
        yield Progress(0, None, text, Notice(text))
    with tempfile.TemporaryDirectory(prefix="camviewer-run-") as scratch:
        settings = Path(scratch) / "config.json"
        settings.write_text(json.dumps(config.to_dict()), encoding="utf-8")
        return (yield from _on_gpus(["--config", str(settings)], processes, Path(scratch), cancel))


def resume_on_gpus(run_dir: str, changes: ResumeChanges, processes: int, cancel: CancelToken) -> Iterator:
    """``camviewer train --resume RUN --nproc N`` in a subprocess, watched the same way."""
    flags = [item for name, value in changes.given().items() for item in (f"--{name.replace('_', '-')}", str(value))]
    with tempfile.TemporaryDirectory(prefix="camviewer-run-") as scratch:
        return (yield from _on_gpus(["--resume", str(run_dir), *flags], processes, Path(scratch), cancel))


def _on_gpus(arguments: list[str], processes: int, scratch: Path, cancel: CancelToken) -> Iterator:
    import sys

    from camviewer.core.training.processes import watch_training

    events = scratch / "events.jsonl"
    program = [sys.executable] if getattr(sys, "frozen", False) else [sys.executable, "-m", "camviewer"]
    command = [*program, "train", *arguments, "--events", str(events), "--nproc", str(processes)]
    return (yield from coalesce_batches(watch_training(command, events, processes, cancel)))


def visible_gpus() -> int:
    """CUDA devices a run can spread over (none from a frozen bundle, which cannot start torchrun's processes)."""
    import sys

    import torch

    return 0 if getattr(sys, "frozen", False) else torch.cuda.device_count()


@dataclass
class RunInfo:
    """A run folder's state, read before resuming it."""

    run_dir: str
    config: TrainConfig
    history: list[EpochRecord]
    stale_epochs: int


def read_run(run_dir: str) -> RunInfo:
    from camviewer.core.training.loop import read_train_state

    state = read_train_state(run_dir)
    return RunInfo(
        run_dir,
        TrainConfig.from_dict(state["config"]),
        [EpochRecord(**record) for record in state["history"]],
        int(state["stale_epochs"]),
    )
