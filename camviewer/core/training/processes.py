"""A training run on several processes of this machine (one per GPU), started and watched from this process.

The window trains on several GPUs this way: it runs ``camviewer train ... --nproc N --events FILE`` in a
subprocess (torchrun's elastic agent, which starts the N processes; see
:func:`camviewer.gui.training.tasks.train_on_gpus`), reads the events rank 0 appends to FILE and yields them as
:func:`~camviewer.core.training.loop.train` would (batches, epochs, notices, the dataset summary), then returns the
run's :class:`TrainResult`. Cancel sends SIGTERM to the agent, which forwards it to the processes: they stop at
the same step, keep the best checkpoint, and the result says "cancelled". A process that fails stops the others
(torchrun does that) and is raised as :class:`~camviewer.core.errors.ProcessFailed`.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Generator, Sequence
from pathlib import Path

from camviewer.core.data.summary import DatasetSummary
from camviewer.core.distributed.events import EventReader, Failure
from camviewer.core.errors import ProcessFailed
from camviewer.core.jobs import CancelToken, Progress
from camviewer.core.training.records import (
    AtChance,
    BatchUpdate,
    EpochRecord,
    Notice,
    SkippedTestEvaluation,
    TrainResult,
)

POLL_S = 0.05  # how often the events file is read
PAYLOADS = {
    kind.__name__: kind for kind in (AtChance, BatchUpdate, EpochRecord, Notice, SkippedTestEvaluation, DatasetSummary)
}


def watch_training(
    command: Sequence[str], events: Path, processes: int, cancel: CancelToken | None = None
) -> Generator[Progress, None, TrainResult]:
    """Run ``command`` (a training on ``processes`` processes whose rank 0 appends its events to ``events``) and
    yield those events as :func:`~camviewer.core.training.loop.train` would; returns the run's TrainResult."""
    log = events.with_name(events.name + ".output")
    reader = EventReader(events)
    result, failure, signalled = None, None, False
    with open(log, "wb") as output:
        agent = subprocess.Popen(list(command), stdout=output, stderr=subprocess.STDOUT)
    try:
        while True:
            ended = agent.poll() is not None  # read once more after the end: the last events are there by then
            for record in reader.new_records():
                kind, payload = record["kind"], record["payload"]
                if kind == "TrainResult":
                    result = _result(payload)
                elif kind == "Failure":
                    failure = Failure(**payload).error()
                else:
                    yield Progress(record["done"], record["total"], record["message"], _payload(kind, payload))
            if ended:
                break
            if cancel is not None and cancel.cancelled and not signalled:
                agent.send_signal(signal.SIGTERM)  # forwarded to every process: they stop at the same step
                signalled = True
            time.sleep(POLL_S)
    finally:
        if agent.poll() is None:  # closed early (the window is closing): stop the run, keeping its checkpoints
            agent.send_signal(signal.SIGTERM)
            agent.wait()
    if result is not None:
        return result
    raise failure or ProcessFailed(0, processes, agent.returncode, _last_lines(log))


def _payload(kind: str | None, fields: dict | None):
    if kind not in PAYLOADS:
        return None
    if kind == "DatasetSummary":
        fields = {**fields, "skipped": [tuple(item) for item in fields["skipped"]]}
    return PAYLOADS[kind](**fields)


def _result(fields: dict) -> TrainResult:
    summary = fields.get("summary")
    return TrainResult(
        run_dir=Path(fields["run_dir"]),
        best_checkpoint=Path(fields["best_checkpoint"]) if fields.get("best_checkpoint") else None,
        best_epoch=fields["best_epoch"],
        best_val_loss=fields["best_val_loss"],
        stop_reason=fields["stop_reason"],
        history=[EpochRecord(**record) for record in fields["history"]],
        summary=_payload("DatasetSummary", summary) if summary else None,
        test_metrics=fields.get("test_metrics"),
    )


def _last_lines(log: Path, count: int = 12) -> str:
    lines = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    return "\n".join(lines[-count:]) or "the processes ended without a result"
