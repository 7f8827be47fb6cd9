"""Training as a generator: prepare the data, fit with early stopping, keep a resumable run folder.

:func:`train` (and :func:`resume`) yield :class:`~camviewer.core.jobs.Progress` events whose payloads
are made for a live plot: :class:`BatchUpdate` per batch, :class:`EpochRecord` per epoch, plus a
:class:`~camviewer.core.data.summary.DatasetSummary` once the data is checked and :class:`Notice` for
warnings. They return a :class:`TrainResult`. The run folder holds::

    config.json        the TrainConfig (what :func:`resume` continues)
    split.csv          path,label,split of every usable image (paths relative to the run folder)
    skipped.csv        files that could not be decoded (only when there are some)
    history.csv        epoch,train_loss,val_loss,train_acc,val_acc,lr,seconds
    best.safetensors   weights + model card, rewritten atomically at each validation-loss improvement
    last.pt            model, optimizer, scheduler, scaler, epoch, history and RNG states, for resuming
    test/              the evaluation of best.safetensors on the test split, when there is one

Choices: cross-entropy (softmax) for single-label data, BCE-with-logits (sigmoid) for multi-label
data; Adam or SGD with momentum; ReduceLROnPlateau on the validation loss (halving the learning
rate after ``patience // 2`` stale epochs) and early stopping after ``patience`` stale epochs.
Normalisation: ImageNet statistics with ``pretrained`` (the weights expect them), the init
checkpoint's with ``init``, otherwise the per-channel mean and std of the training split, measured
after the same preprocessing as inference. Mixed precision (autocast + GradScaler) on CUDA only.
On CPU, the same seed gives the same history and weights.
Under torchrun the processes train one model together (:mod:`camviewer.core.training.parallel`); only
rank 0 writes the run folder, which resumes on any number of processes.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch

from camviewer.core.atomic import remove_temporaries, write_text_atomic
from camviewer.core.csvfiles import csv_text
from camviewer.core.distributed.world import World
from camviewer.core.errors import AlreadyTrained, Cancelled, RunInterrupted, StoppedEarly, WriteFailed
from camviewer.core.evaluation.report import HISTORY_COLUMNS
from camviewer.core.jobs import CancelToken, Progress
from camviewer.core.model.files import save_checkpoint, save_torch_atomic
from camviewer.core.model.loading import load_model
from camviewer.core.training import parallel
from camviewer.core.training.chance import at_chance_notice, has_beaten_chance
from camviewer.core.training.records import (
    BatchUpdate,
    EpochRecord,
    Notice,
    ResumeChanges,
    SkippedTestEvaluation,
    TrainConfig,
    TrainingError,
    TrainResult,
)
from camviewer.core.training.run_folder import best_epoch_saved, claim_run_dir
from camviewer.core.training.session import Session
from camviewer.core.training.setup import (
    freeze_parameters,
    start_session,
)

__all__ = [
    "BatchUpdate",
    "EpochRecord",
    "Notice",
    "ResumeChanges",
    "TrainConfig",
    "TrainResult",
    "TrainingError",
    "freeze_parameters",
    "read_train_state",
    "resume",
    "train",
]

STATE_FORMAT = "camviewer-train-state/1"


def train(
    config: TrainConfig, cancel: CancelToken | None = None, world: World | None = None
) -> Generator[Progress, None, TrainResult]:
    """Train a new run into ``config.out`` (new, empty, or holding a run in which no epoch had finished); yields
    Progress, returns TrainResult. A run file that cannot be written stops it with RunInterrupted. ``world``: the
    processes training together (:func:`camviewer.core.distributed.world.join`); one by default."""
    world = world or World()
    run_dir = Path(config.out)
    for text in claim_run_dir(run_dir) if world.writes else []:
        yield Progress(0, None, text, Notice(text))
    try:
        session = yield from start_session(config, run_dir, None, cancel, world)
    except Cancelled:  # during data preparation: no weights exist yet
        return TrainResult(run_dir, None, None, None, "cancelled", [])
    except WriteFailed as error:
        raise RunInterrupted(run_dir, 0, error) from None
    return (yield from _fit(session, cancel))


def resume(
    run_dir: str | Path,
    changes: ResumeChanges | None = None,
    cancel: CancelToken | None = None,
    world: World | None = None,
) -> Generator[Progress, None, TrainResult]:
    """Continue a run at the epoch after its last completed one, with the same optimizer and RNG state.

    ``changes`` may set epochs, patience, device and workers; the rest comes from the run.
    """
    run_dir = Path(run_dir)
    state = read_train_state(run_dir)
    config = replace(TrainConfig.from_dict(state["config"]), out=str(run_dir), **(changes or ResumeChanges()).given())
    done, stale = len(state["history"]), int(state["stale_epochs"])
    if stale >= config.patience:
        raise StoppedEarly(run_dir, stale, config.patience)
    if done >= config.epochs:
        raise AlreadyTrained(run_dir, done, config.epochs)
    world = world or World()
    if world.writes:
        remove_temporaries(run_dir)
    try:
        session = yield from start_session(config, run_dir, state, cancel, world)
        for text in _repair_run_files(session) if world.writes else []:
            yield Progress(0, None, text, Notice(text))
    except Cancelled:
        return TrainResult(run_dir, run_dir / "best.safetensors", None, None, "cancelled", [])
    except WriteFailed as error:
        raise RunInterrupted(run_dir, done, error) from None
    return (yield from _fit(session, cancel))


def read_train_state(run_dir: str | Path) -> dict[str, Any]:
    """last.pt of a run, loaded without unpickling code (tensors, numbers, strings only)."""
    path = Path(run_dir) / "last.pt"
    if not path.is_file():
        raise TrainingError(f"{run_dir}: no last.pt to resume from (is it a camviewer run folder?)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated, or not a torch file at all
        raise TrainingError(f"{path}: unreadable training state ({type(error).__name__}: {error})") from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise TrainingError(f"{path}: not a camviewer training state")
    return state


# ----------------------------------------------------------------------------- the loop


def _fit(session: Session, cancel: CancelToken | None) -> Generator[Progress, None, TrainResult]:
    try:
        try:
            stop_reason = yield from _epochs(session, cancel)
            notice = at_chance_notice(session)
            if notice is not None:
                yield Progress(len(session.history), session.config.epochs, notice.text, notice)
        except Cancelled:
            _ensure_best(session)
            return _result(session, "cancelled")
        except GeneratorExit:  # the consumer closed us (e.g. a GUI worker quit): still leave a checkpoint
            _ensure_best(session)
            raise
    except WriteFailed as error:  # a full disk: the epochs in last.pt are kept, the run can go on from them
        raise RunInterrupted(session.run_dir, session.saved_epochs, error) from None
    try:
        test_metrics = yield from _evaluate_test_split(session, cancel)
    except Cancelled:  # the training itself is complete: it keeps its own stop reason
        text = "the evaluation of the test split was cancelled: no test metrics"
        yield Progress(0, None, text, SkippedTestEvaluation(text, "cancelled"))
        test_metrics = None
    return _result(session, stop_reason, test_metrics)


def _epochs(session: Session, cancel: CancelToken | None):
    config = session.config
    for epoch in range(session.next_epoch, config.epochs + 1):
        record = yield from _run_epoch(session, epoch, cancel)
        yield Progress(epoch, config.epochs, _epoch_text(record, config.epochs), record)
        if session.stale_epochs >= config.patience:
            return "early-stopping"
    return "completed"


def _run_epoch(session: Session, epoch: int, cancel: CancelToken | None):
    started = time.perf_counter()
    train_loss, train_acc = yield from _train_one_epoch(session, epoch, cancel)
    val_loss, val_acc = _validate(session, cancel)
    lr = session.optimizer.param_groups[0]["lr"]  # plateau: the epoch's rate; warmup-cosine: where it ended
    if session.config.schedule == "plateau":
        session.scheduler.step(val_loss)
    improved = val_loss < session.best_val_loss
    record = EpochRecord(epoch, train_loss, val_loss, train_acc, val_acc, lr, time.perf_counter() - started, improved)
    record.batch_size, record.processes = session.config.batch_size, session.world.size
    session.history.append(record)
    if improved:
        session.best_val_loss, session.best_epoch, session.stale_epochs = val_loss, epoch, 0
        _note_best(session)
    elif has_beaten_chance(session):  # patience runs once the model has learned something
        session.stale_epochs += 1
    # last.pt first: it holds everything (the weights of this epoch, the best epoch, the history), so a kill
    # between the writes loses nothing; resuming rewrites best.safetensors and history.csv from it if behind.
    if session.world.writes:
        _save_state(session)
        session.saved_epochs = epoch
        if improved:
            _write_best(session)
        _write_history(session)
    return record


def _train_one_epoch(session: Session, epoch: int, cancel: CancelToken | None):
    module, device, world = session.network, session.model.device, session.world
    module.train()
    parallel.start_epoch(session.train_loader, world, session.config.seed, epoch)
    batches = len(session.train_loader)
    total_loss, total_correct, seen, started = 0.0, 0.0, 0, time.perf_counter()
    for batch, (images, targets) in enumerate(session.train_loader, start=1):
        parallel.stop_if_cancelled(cancel, world)
        images, targets = _to_device(images, targets, session)
        with torch.autocast(device.type, dtype=torch.float16, enabled=device.type == "cuda"):
            logits = module(images)
            loss = session.loss_fn(logits, targets)
        session.optimizer.zero_grad(set_to_none=True)
        session.scaler.scale(loss).backward()
        session.scaler.step(session.optimizer)
        session.scaler.update()
        if session.config.schedule != "plateau":
            session.scheduler.step()
        batch_loss, seen = loss.item(), seen + len(targets)
        total_loss += batch_loss * len(targets)
        total_correct += _correct(logits.detach(), targets)
        rate = seen * world.size / max(time.perf_counter() - started, 1e-9)  # every process's images
        update = BatchUpdate(epoch, batch, batches, batch_loss, rate)
        yield Progress(batch, batches, f"epoch {epoch}/{session.config.epochs}", update)
    module.eval()
    return parallel.means(world, total_loss, seen, total_correct, seen)


@torch.no_grad()
def _validate(session: Session, cancel: CancelToken | None) -> tuple[float, float]:
    module, device = session.model.module, session.model.device
    module.eval()
    total_loss, total_weight, total_correct, seen = 0.0, 0.0, 0.0, 0
    for images, targets in session.val_loader:
        if cancel is not None and session.world.size == 1:  # shares differ by a batch: no collective per batch
            cancel.raise_if_cancelled()
        images, targets = _to_device(images, targets, session)
        with torch.autocast(device.type, dtype=torch.float16, enabled=device.type == "cuda"):
            logits = module(images)
        weight = _loss_weight(session.loss_fn, targets)
        total_loss += session.loss_fn(logits.float(), targets).item() * weight
        total_weight += weight
        total_correct += _correct(logits, targets)
        seen += len(targets)
    return parallel.means(session.world, total_loss, total_weight, total_correct, seen)


def _loss_weight(loss_fn: torch.nn.Module, targets: torch.Tensor) -> float:
    """What a batch's mean loss was divided by, so that the split's loss is the mean over all its images.

    A class-weighted cross-entropy averages over the weights of the batch's targets, not over images.
    """
    weight = getattr(loss_fn, "weight", None)
    if targets.ndim == 1 and weight is not None:
        return float(weight[targets].sum())
    return float(len(targets))


def _to_device(images: torch.Tensor, targets: torch.Tensor, session: Session):
    from camviewer.core.preprocess import normalize

    device = session.model.device
    images = images.to(device, non_blocking=True)
    return normalize(images, session.card), targets.to(device, non_blocking=True)


def _correct(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Correct predictions: argmax for softmax; for multi-label, the share of labels right per image."""
    if targets.ndim == 2:
        return float(((logits > 0).float() == targets).float().mean(dim=1).sum())
    return float((logits.argmax(dim=1) == targets).sum())


def _epoch_text(record: EpochRecord, epochs: int) -> str:
    best = "  * best" if record.is_best else ""
    return (
        f"epoch {record.epoch}/{epochs}  train loss {record.train_loss:.4f} acc {record.train_acc:.3f}  |  "
        f"val loss {record.val_loss:.4f} acc {record.val_acc:.3f}  |  lr {record.lr:.2g}  {record.seconds:.1f} s{best}"
    )


# ----------------------------------------------------------------------------- saving and resuming


def _save_best(session: Session, warning: str | None = None) -> Path:
    _note_best(session, warning)
    return _write_best(session)


def _note_best(session: Session, warning: str | None = None) -> None:
    """The best epoch's facts in the card's notes (saved with the weights, and in last.pt)."""
    training = dict(session.card.notes.get("training", {}))
    training["best_epoch"] = session.best_epoch
    if session.best_epoch is not None:
        best = session.history[session.best_epoch - 1]
        training.update(val_loss=best.val_loss, val_accuracy=best.val_acc, train_loss=best.train_loss)
        training.update(batch_size=best.batch_size, processes=best.processes)
    if warning:
        training["warning"] = warning
    session.card = replace(session.card, notes={**session.card.notes, "training": training})


def _write_best(session: Session) -> Path:
    return save_checkpoint(session.run_dir / "best.safetensors", session.model.module, session.card)


def _repair_run_files(session: Session) -> list[str]:
    """After a kill between the writes of an epoch: history.csv and best.safetensors caught up with last.pt."""
    _write_history(session)
    best, on_disk = session.best_epoch, best_epoch_saved(session.run_dir)
    if best is None or on_disk == best:
        return []
    if best == len(session.history):  # the last finished epoch was the best: its weights are the ones restored
        _write_best(session)
        return [f"best.safetensors restored from last.pt (epoch {best}): the run had stopped before writing it"]
    return [f"best.safetensors does not hold the best epoch ({best}) but epoch {on_disk}: it was changed or lost"]


def _ensure_best(session: Session) -> None:
    """After a cancel: keep the best checkpoint, or save the current weights if none was ever validated."""
    if session.world.writes and not (session.run_dir / "best.safetensors").exists():
        _save_best(session, "cancelled before the first validation: these weights were never validated")


def _write_history(session: Session) -> None:
    rows = [[getattr(record, column) for column in HISTORY_COLUMNS] for record in session.history]
    write_text_atomic(session.run_dir / "history.csv", csv_text([HISTORY_COLUMNS, *rows]))


def _save_state(session: Session) -> None:
    state = {
        "format": STATE_FORMAT,
        "model": session.model.module.state_dict(),
        "optimizer": session.optimizer.state_dict(),
        "scheduler": session.scheduler.state_dict(),
        "scaler": session.scaler.state_dict(),
        "history": [asdict(record) for record in session.history],
        "best_val_loss": session.best_val_loss,
        "best_epoch": session.best_epoch,
        "stale_epochs": session.stale_epochs,
        "rng": {
            "torch": torch.get_rng_state(),
            "loader": session.loader_generator.get_state(),
            **({"cuda": torch.cuda.get_rng_state_all()} if torch.cuda.is_available() else {}),
        },
        "config": session.config.to_dict(),
        "card": session.card.to_dict(),
    }
    save_torch_atomic(state, session.run_dir / "last.pt")


def _evaluate_test_split(session: Session, cancel: CancelToken | None):
    """Evaluate best.safetensors on the test split (if any) into RUN/test and note it in the card."""
    from camviewer.core.evaluation.classes import resolve_positive_class
    from camviewer.core.evaluation.run import evaluate_samples, summary_metrics

    test = [sample for sample in session.decoded.samples if sample.split == "test"]
    best_path = session.run_dir / "best.safetensors"
    if not session.world.writes or not test or not best_path.exists():
        return None
    best = load_model(best_path, device=str(session.model.device))
    if best.card.num_classes == 2 and best.card.head == "softmax" and best.card.positive_class is None:
        text = "no positive class set: the test split was not evaluated (its sensitivity and specificity need one)"
        yield Progress(0, None, text, SkippedTestEvaluation(text, "no-positive-class"))
        return None
    history = session.run_dir / "history.csv"
    positive = resolve_positive_class(best.card, None)
    result = yield from evaluate_samples(
        best, test, positive, session.run_dir / "test", history_csv=history, cancel=cancel
    )
    metrics = summary_metrics(result)
    best.card.notes = {**best.card.notes, "test": metrics}
    save_checkpoint(best_path, best.module, best.card)
    return metrics


def _result(session: Session, stop_reason: str, test_metrics: dict | None = None) -> TrainResult:
    best = session.run_dir / "best.safetensors"
    best_loss = None if session.best_epoch is None else session.best_val_loss
    return TrainResult(
        session.run_dir,
        best if best.exists() else None,
        session.best_epoch,
        best_loss,
        stop_reason,
        list(session.history),
        session.summary,
        test_metrics,
    )
