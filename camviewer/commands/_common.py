"""Arguments and helpers shared by sub-commands that load a model."""

from __future__ import annotations

import argparse
import sys
import time

from camviewer.core import errors

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
LIST_ARCHS = "`camviewer info --list-archs` lists them"
MIN_RATE_SECONDS = 0.5  # a rate over less time than this is noise


def comma_list(text: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def float_list(text: str) -> list[float]:
    try:
        return [float(item) for item in comma_list(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, not {text!r}") from None


def input_size(text: str) -> tuple[int, int]:
    parts = text.lower().replace("x", ",").split(",")
    try:
        sizes = [int(p) for p in parts if p.strip()]
    except ValueError:
        sizes = []
    if len(sizes) not in (1, 2) or min(sizes) < 8:
        raise argparse.ArgumentTypeError(f"expected SIZE or HEIGHTxWIDTH (>= 8), not {text!r}")
    return (sizes[0], sizes[-1])


def label_map(text: str) -> str:
    """--label-map: 'LABEL=CLASS;LABEL=CLASS|CLASS' or a file holding such entries (one per line); checked here."""
    from pathlib import Path

    from camviewer.core.data.labels import LabelMapSyntaxError, parse_label_map

    path = Path(text)
    if "=" not in text and path.is_file():
        text = path.read_text(encoding="utf-8")
    try:
        parse_label_map(text)
    except LabelMapSyntaxError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


LABEL_MAP_HELP = (
    "match data labels to model classes: 'NORMAL=Normal;PNEUMONIA=Bacterial Pneumonia|Viral Pneumonia' "
    "(| makes a group, scored as one class), or a file with one LABEL=CLASS entry per line; names that "
    "differ only in case or punctuation match without it"
)


def add_model_arguments(parser: argparse.ArgumentParser, required: bool = True, flag: str = "--model") -> None:
    """--model CKPT plus what a bare state_dict may need: architecture, classes, preprocessing."""
    group = parser.add_argument_group("model")
    if flag:
        group.add_argument(flag, dest="model", required=required, metavar="CKPT", help="checkpoint file")
    group.add_argument("--arch", help="architecture of a bare state_dict (inferred when unambiguous)")
    group.add_argument("--num-classes", type=int, help="number of classes (checked against the weights)")
    group.add_argument("--classes", type=comma_list, metavar="A,B,...", help="class names in output order")
    group.add_argument("--input-size", type=input_size, metavar="HxW", help="model input size (default 224)")
    group.add_argument("--mean", type=float_list, metavar="M[,M,M]", help="normalisation mean per channel")
    group.add_argument("--std", type=float_list, metavar="S[,S,S]", help="normalisation std per channel")
    group.add_argument("--grayscale", action="store_true", default=None, help="convert images to grey first")
    group.add_argument("--multi-label", action="store_true", default=None, help="sigmoid head (multi-label)")
    group.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="default: auto")
    group.add_argument("--trust-pickle", action="store_true", help="allow unpickling a file you trust (runs its code)")


def load_model_from_args(args: argparse.Namespace):
    from camviewer.core.model.loading import load_model

    return load_model(
        args.model,
        arch=args.arch,
        num_classes=args.num_classes,
        class_names=args.classes,
        device=args.device,
        trust_pickle=args.trust_pickle,
        input_size=args.input_size,
        mean=args.mean,
        std=args.std,
        grayscale=args.grayscale,
        multi_label=args.multi_label,
    )


def fail(problem: str | BaseException, code: int = EXIT_FAILED) -> int:
    """Tell what went wrong on stderr (an error with what to do about it) and return the exit code."""
    if isinstance(problem, BaseException):
        hint = remedy(problem)
        problem = f"{problem}\n  ({hint})" if hint else str(problem)
    print(f"camviewer: {problem}", file=sys.stderr)
    return code


def remedy(error: BaseException) -> str | None:
    """What to do about an engine error, in the command line's words (the engine states only what is wrong)."""
    match error:
        case errors.UnsafeCheckpointError():
            return "if you trust its source, add --trust-pickle; better, re-save it as a state_dict"
        case errors.StateDictMismatchError(looks_like=(arch, _outputs)):
            return f"try --arch {arch}"
        case errors.ArchitectureInferenceError(needs_classes=needs_classes):
            return f"pass --arch{' and --num-classes' if needs_classes else ''} ({LIST_ARCHS})"
        case errors.ArchitectureConflict(found=found):
            return f"drop --arch, or give --arch {found}"
        case errors.UnknownArchitecture():
            return "`camviewer info --list-archs` lists the architectures"
        case errors.DeviceUnavailable():
            return "use --device cpu or auto"
        case errors.PretrainedWeightsUnavailable(cached_path=None):
            return "drop --pretrained"
        case errors.PretrainedWeightsUnavailable(cached_path=cached):
            return f"copy {cached.name} into {cached.parent}, or add --allow-random-init to train from random weights"
        case errors.RunFolderInUse(run_dir=run_dir):
            return f"choose a new --out folder, or continue that run with --resume {run_dir}"
        case errors.StoppedEarly(stale_epochs=stale):
            return f"give a --patience above {stale} to continue it"
        case errors.AlreadyTrained(epochs_done=done):
            return f"give --epochs above {done} to continue it"
        case errors.TrainingOptionError(option="arch"):
            return f"give --arch ({LIST_ARCHS}) or --init CKPT"
        case errors.TrainingOptionError(option=option):
            return f"see --{option.replace('_', '-')}"
        case errors.UnmatchedLabels():
            return "map them with --label-map 'LABEL=CLASS', or 'LABEL=CLASS|CLASS' for a group"
        case errors.UnknownClasses(model_classes=classes):
            return f"use the model's own names ({', '.join(classes)}) in --label-map or --positive-class"
        case errors.OverlappingGroups():
            return "give each label in --label-map the same classes as the other, or none of them"
        case errors.NotOneToOne():
            return "with --init, map each label to exactly one class of the checkpoint (--label-map), or drop --init"
        case errors.ClassMismatch():
            return "rename the class folders or labels, or train without --init"
        case errors.EmptySplit(split="val"):
            return "give a --val-split above 0, or add a val folder"
        case errors.AmbiguousGroundTruth():
            return "give exactly one of --masks DIR, --boxes CSV or --coco JSON"
        case errors.PositiveClassRequired(class_names=names):
            return f"pass --positive-class with one of {', '.join(names)}"
        case errors.MissingInput(needed="model"):
            return "give --model CKPT"
        case errors.MissingInput(needed="roi_masks"):
            return "give --roi-masks DIR (one mask per image, same relative path)"
    return None


class ProgressLine:
    """A single updating line on a terminal (count, rate, ETA); occasional plain lines when stderr is a file.

    The rate counts from the first update, not from when the line was made: a job whose first report
    already says "32 done" (a batch) would otherwise show 32 / 0.0001 s = 320,000 images/s. It is shown
    once half a second has passed, with its unit ("58.2 images/s").
    """

    def __init__(self, unit: str = "images", rate: bool = True) -> None:
        self.unit = unit
        self.rate = rate
        self.tty = sys.stderr.isatty()
        self.last_percent = -10
        self.first: tuple[float, int] | None = None  # (time, count) at the first update

    def update(self, done: int, total: int | None, extra: str = "") -> None:
        now = time.perf_counter()
        if self.first is None:
            self.first = (now, done)
        started, counted = self.first
        elapsed, progressed = now - started, done - counted
        text = f"  {done}/{total} {self.unit}" if total else f"  {done} {self.unit}"
        if elapsed >= MIN_RATE_SECONDS and progressed > 0:
            per_second = progressed / elapsed
            if self.rate:
                text += f"  {per_second:.1f} {self.unit}/s"
            if total:
                text += f"  ETA {max(0.0, (total - done) / per_second):.0f}s"
        text += f"  {extra}" if extra else ""
        if self.tty:
            print(f"\r{text}\033[K", end="", file=sys.stderr, flush=True)
            return
        percent = int(100 * done / total) if total else 0
        if percent >= self.last_percent + 10 or done == total:
            self.last_percent = percent
            print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.tty:
            print(file=sys.stderr)


def drive(job, on_event=None, unit: str = "images"):
    """Run a job generator to its end with a progress line on stderr; return the job's value."""
    from camviewer.core.jobs import run_to_end

    progress = ProgressLine(unit)

    def show(event) -> None:
        if on_event is not None:
            on_event(event)
        progress.update(event.done, event.total)

    try:
        return run_to_end(job, show)
    finally:
        progress.close()
