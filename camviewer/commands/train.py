"""`camviewer train DATA --arch A --out RUN [...]`: train a classifier with early stopping; or `--resume RUN`.

DATA is a folder with one sub-folder per class (ground-truth folders such as masks/ and roi/ are
ignored), a {train,val,test}/<class>/ tree, or a CSV partition file (path,label[,split]). See
camviewer.core.data.index and camviewer.core.training.loop for what is written into RUN.
Under torchrun (or ``--nproc N``) the processes train one model together; restarted by torchrun, they resume RUN.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from camviewer.commands import _scale
from camviewer.commands._common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    ProgressLine,
    add_recipe_arguments,
    fail,
    label_map,
    recipe_arguments,
)
from camviewer.core.jobs import run_to_end
from camviewer.core.training.records import RESUMABLE_CHANGES, ResumeChanges, TrainConfig

# Defaults live in TrainConfig; flags default to None so that --resume can tell what was given.
_CONFIG_FLAGS = (
    "arch",
    "epochs",
    "batch_size",
    "lr",
    "optimizer",
    "schedule",
    "balance",
    "weight_decay",
    "pretrained",
    "freeze",
    "patience",
    "val_split",
    "test_split",
    "augment",
    "seed",
    "device",
    "input_size",
    "resize",
    "crop",
    "letterbox",
    "interpolation",
    "spacing",
    "window",
    "border_crop",
    "grayscale",
    "multi_label",
    "positive_class",
    "init",
    "label_map",
    "workers",
    "allow_random_init",
    "allow_outside",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "data",
        nargs="?",
        metavar="DATA",
        help="a folder with one sub-folder per class (masks/, roi/, boxes/, annotations/, hidden and "
        "_-prefixed folders are not classes), a train/val/test tree, or a CSV (path,label[,split])",
    )
    parser.add_argument(
        "--out", metavar="RUN", help="run folder to create (new, empty, or one where no epoch had finished)"
    )
    parser.add_argument(
        "--resume", metavar="RUN", help="continue this run at its next epoch (same optimizer and RNG state)"
    )
    parser.add_argument(
        "--config",
        metavar="JSON",
        help="take the settings from this file (a run's config.json); DATA, --out and other flags override them",
    )
    model = parser.add_argument_group("model")
    model.add_argument(
        "--arch",
        help="architecture, e.g. tinyvgg_gap, resnet18, timm:vit_tiny_patch16_224; for volumes r3d_18, "
        "monai:resnet18, monai:DenseNet121 (see `camviewer info --list-archs`)",
    )
    model.add_argument(
        "--arch-options",
        type=_json_object,
        metavar="JSON",
        help='e.g. \'{"widths": [16, 32, 64]}\', or a timm model\'s arguments: \'{"patch_size": 8, "depth": 6}\'',
    )
    model.add_argument("--widths", type=_int_list, metavar="W1,W2,...", help="TinyVGG block widths (arch option)")
    model.add_argument(
        "--pretrained",
        action="store_true",
        default=None,
        help="start from ImageNet weights (torchvision's, or timm's from its cache or the Hugging Face hub)",
    )
    model.add_argument(
        "--allow-random-init",
        action="store_true",
        default=None,
        help="with --pretrained: if the weights cannot be had, warn and start from random weights",
    )
    model.add_argument(
        "--init",
        metavar="CKPT",
        help="fine-tune from this checkpoint (its classes matched to the data's by name, case and punctuation aside)",
    )
    model.add_argument(
        "--label-map",
        type=label_map,
        metavar="MAP",
        help="with --init: 'LABEL=CLASS;...' or a file, for data labels named otherwise than the checkpoint's classes",
    )
    model.add_argument(
        "--freeze", metavar="FRACTION|LAYER", help="freeze the first FRACTION of the parameters, or all up to LAYER"
    )
    add_recipe_arguments(model, default_size="64 for TinyVGG, else 224")
    model.add_argument(
        "--border-crop",
        type=float,
        metavar="FRACTION",
        help="cut this fraction off each side before resizing, in training and inference alike",
    )
    model.add_argument("--grayscale", action="store_true", default=None, help="convert to grey; one-channel model")
    model.add_argument(
        "--multi-label", action="store_true", default=None, help="sigmoid head (default: from the labels)"
    )
    model.add_argument(
        "--positive-class", metavar="NAME", help="positive class of a two-class problem (default: synth.json's)"
    )
    fit = parser.add_argument_group("training")
    fit.add_argument("--epochs", type=int, help="maximum epochs (default 30)")
    fit.add_argument(
        "--batch-size", type=int, help="default: 8, 16 or 32, the largest that gives an epoch 50 steps or more"
    )
    fit.add_argument(
        "--lr",
        type=float,
        help="peak learning rate (default: Adam 3e-3 for TinyVGG, 1e-4 for VGG without batch norm, else 1e-3; "
        "a tenth of it with --init or --pretrained)",
    )
    fit.add_argument("--optimizer", choices=("adam", "sgd"), help="default adam")
    fit.add_argument(
        "--schedule",
        choices=("warmup-cosine", "plateau"),
        help="warmup-cosine (default): one epoch of warm-up, then a cosine decay to 0; "
        "plateau: halve the rate when the validation loss stalls",
    )
    fit.add_argument(
        "--balance",
        choices=("loss-weights", "none"),
        help="loss-weights (default): weigh each class by the inverse of its share of the training images",
    )
    fit.add_argument("--weight-decay", type=float, help="default 0")
    fit.add_argument(
        "--patience",
        type=int,
        help="stop after this many epochs without a better validation loss, counted once the validation "
        "accuracy beats chance (default 5)",
    )
    fit.add_argument(
        "--val-split", type=float, metavar="F", help="validation fraction when DATA has no split (default 0.2)"
    )
    fit.add_argument(
        "--test-split",
        type=float,
        metavar="F",
        help="test fraction when DATA has no split (default 0.15): evaluated once, with the best checkpoint, at the end",
    )
    fit.add_argument("--augment", choices=("none", "light", "standard"), help="default light (flips)")
    fit.add_argument("--seed", type=int, help="seed for the split, initialisation and batches (default 0)")
    fit.add_argument("--device", choices=("auto", "cpu", "cuda"), help="default auto")
    fit.add_argument("--workers", type=int, help="DataLoader worker processes when streaming (default automatic)")
    fit.add_argument(
        "--cache-mb", type=int, metavar="MB", help="keep decoded images in memory up to this size (default 1536)"
    )
    fit.add_argument(
        "--allow-outside",
        action="store_true",
        default=None,
        help="a CSV partition may name images outside its own folder (refused by default)",
    )
    fit.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="CPU threads for torch (default: torch's choice; 1 can be faster on a busy machine)",
    )
    scale = parser.add_argument_group("scale")
    _scale.add_arguments(scale)
    scale.add_argument(
        "--events", metavar="FILE", help="also append every progress event to FILE as a JSON line (for a watcher)"
    )


def _json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object, e.g. '{\"widths\": [16, 32, 64]}'")
    return value


def _int_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers separated by commas, not {text!r}") from None


def run(args: argparse.Namespace) -> int:
    from camviewer.core.errors import CamviewerError

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    try:
        job = _resume_job(args, args.resume) if args.resume else _restarted_job(args) or _train_job(args)
        if isinstance(job, int):
            return job
        result = _drive(_scale.logged(job, args.events))
    except (CamviewerError, OSError) as error:
        return fail(error)
    except KeyboardInterrupt:
        return fail("interrupted; continue with --resume RUN")
    _print_result(result)
    if result.best_checkpoint and not args.resume and args.init:
        try:
            _compare_with_init(args, result)
        except (CamviewerError, OSError) as error:
            print(f"camviewer: the fine-tuned model could not be compared with {args.init}: {error}", file=sys.stderr)
    return EXIT_OK if result.best_checkpoint else EXIT_FAILED


def _compare_with_init(args: argparse.Namespace, result) -> None:
    """Fine-tuned on a refined set that measured the init model: measure again, print both, warn on a regression."""
    from camviewer.commands._common import drive
    from camviewer.core.trust.comparison import check_refinement, comparison_table

    checked = drive(check_refinement(args.data, args.init, result.best_checkpoint, result.run_dir))
    if checked is None:
        return
    before, after, verdict = checked
    print(f"\nbefore ({args.init}) and after ({result.best_checkpoint}), on the same held-out images:")
    for name, old, new in comparison_table(before, after):
        print(f"  {name:<34} {_fmt(old):>8} {_fmt(new):>8}")
    print(f"{verdict.text()}; written to {result.run_dir / 'refinement.json'}")
    if verdict.outcome == "worse":
        print(f"camviewer: warning: {verdict.text()} ({args.init})", file=sys.stderr)


def _train_job(args: argparse.Namespace):
    from camviewer.core.distributed.world import current
    from camviewer.core.training.loop import train

    base = _config_file(args.config) if args.config else {}
    data, out = args.data or base.get("data"), args.out or base.get("out")
    if not data or not out:
        return fail("train needs DATA and --out RUN (or --resume RUN)", EXIT_USAGE)
    recipe_arguments(args)  # exits 2 on a combination that makes no sense
    given = {name: getattr(args, name) for name in _CONFIG_FLAGS if getattr(args, name) is not None}
    options = dict(args.arch_options or base.get("arch_options") or {})
    if args.widths:
        options["widths"] = args.widths
    if args.spatial_dims:
        options["spatial_dims"] = args.spatial_dims
    if args.cache_mb is not None:
        given["cache_bytes"] = args.cache_mb * 2**20
    command = shlex.join(["camviewer", "train", *sys.argv[2:]]) if sys.argv[1:2] == ["train"] else base.get("command")
    values = {**base, "data": data, "out": out, "arch_options": options, "command": command, **given}
    return train(TrainConfig.from_options(values), _scale.cancel_token(), current())


def _config_file(path: str) -> dict:
    from camviewer.core.errors import TrainingError

    try:
        values = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise TrainingError(f"{path}: not a readable training configuration ({error})") from None
    if not isinstance(values, dict):
        raise TrainingError(f"{path}: not a training configuration (a JSON object of settings)")
    return values


def _restarted_job(args: argparse.Namespace):
    """torchrun restarted this run's processes after a failure: continue the run from its last epoch."""
    from camviewer.core.distributed.world import restart_count

    out = args.out or (_config_file(args.config).get("out") if args.config else None)
    if restart_count() == 0 or not out or not (Path(out) / "last.pt").is_file():
        return None
    return _resume_job(args, out, restarted=True)


def _resume_job(args: argparse.Namespace, run_dir: str, restarted: bool = False):
    from camviewer.core.distributed.world import current
    from camviewer.core.training.loop import resume

    changes = {name: getattr(args, name) for name in _CONFIG_FLAGS if getattr(args, name) is not None}
    if restarted:  # the command that started the run: what may change is taken, the rest is the run's own
        changes = {name: value for name, value in changes.items() if name in RESUMABLE_CHANGES}
    refused = sorted(set(changes) - set(RESUMABLE_CHANGES))
    if not restarted and (
        refused or args.arch_options or args.widths or args.spatial_dims or args.out not in (None, run_dir)
    ):
        names = ", ".join("--" + name.replace("_", "-") for name in refused) or "the model or output options"
        return fail(
            f"--resume continues a run as it was configured; {names} cannot change "
            f"(only {', '.join('--' + n for n in RESUMABLE_CHANGES)})",
            EXIT_USAGE,
        )
    return resume(run_dir, ResumeChanges(**changes), _scale.cancel_token(), current())


def _drive(job):
    """Run the generator, printing the dataset summary, notices, a progress line per epoch and a summary line."""
    from camviewer.core.data.summary import DatasetSummary
    from camviewer.core.training.records import AtChance, BatchUpdate, EpochRecord, Notice, SkippedTestEvaluation

    progress = ProgressLine("images")

    def show(event) -> None:
        nonlocal progress
        payload = event.payload
        if isinstance(payload, BatchUpdate):
            if payload.batch == 1:  # a fresh line per epoch: its ETA is the epoch's; the rate is in images/s
                progress = ProgressLine("batches", rate=False)
            progress.update(
                payload.batch,
                payload.batches,
                f"epoch {payload.epoch}  loss {payload.loss:.4f}  {payload.images_per_second:.0f} images/s",
            )
        elif isinstance(payload, EpochRecord):
            progress.close()
            print(event.message, flush=True)
        elif isinstance(payload, DatasetSummary):
            progress.close()
            print("\n".join(payload.lines()), flush=True)
        elif isinstance(payload, Notice):
            progress.close()
            hint, kind = "", "warning: " if isinstance(payload, AtChance) else ""
            if isinstance(payload, SkippedTestEvaluation) and payload.reason == "no-positive-class":
                hint = (
                    "\n  (evaluate it with `camviewer evaluate DATA --model RUN/best.safetensors --split test "
                    "--positive-class NAME`)"
                )
            elif isinstance(payload, AtChance):
                hint = (
                    "\n  (check that the labels match the images; then try more --epochs, a smaller --lr, "
                    "or another --arch)"
                )
            print(f"camviewer: {kind}{payload.text}{hint}", file=sys.stderr, flush=True)
        else:  # checking images before training, evaluating the test split after it
            if progress.unit != "images":
                progress = ProgressLine("images")
            progress.update(event.done, event.total, event.message)

    result = run_to_end(job, show)
    progress.close()
    return result


def _print_result(result) -> None:
    stopped = {"completed": "finished", "early-stopping": "stopped early (patience)", "cancelled": "cancelled"}
    if result.best_epoch is not None:
        print(
            f"{stopped[result.stop_reason]} after {len(result.history)} epoch(s); best epoch {result.best_epoch} "
            f"(val loss {result.best_val_loss:.4f}) -> {result.best_checkpoint}"
        )
    else:
        print(f"{stopped[result.stop_reason]} before any validation; checkpoint: {result.best_checkpoint}")
    metrics = result.test_metrics
    if metrics and "accuracy" in metrics:
        line = f"test ({metrics['n']} images): accuracy {metrics['accuracy']:.4f}"
        if metrics.get("positive_class"):
            line += (
                f", sensitivity {_fmt(metrics['sensitivity'])}, specificity {_fmt(metrics['specificity'])} "
                f"(positive class: {metrics['positive_class']})"
            )
        line += f", ROC-AUC {_fmt(metrics['roc_auc'])}; report in {result.run_dir / 'test'}"
        print(line)


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"
