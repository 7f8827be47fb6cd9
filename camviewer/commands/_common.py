"""Arguments and helpers shared by sub-commands that load a model."""

from __future__ import annotations

import argparse
import sys
import time

from camviewer.commands._volume import add_volume_arguments, volume_arguments
from camviewer.core import errors
from camviewer.core.model.recipe import INTERPOLATIONS

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


def input_size(text: str) -> tuple[int, ...]:
    """SIZE or HxW for images; DxHxW (three sizes) for a volume model."""
    parts = text.lower().replace("x", ",").split(",")
    try:
        sizes = [int(p) for p in parts if p.strip()]
    except ValueError:
        sizes = []
    if len(sizes) == 3:  # a volume model's grid
        if min(sizes) < 2 or max(sizes) > 1024:
            raise argparse.ArgumentTypeError(f"expected DEPTHxHEIGHTxWIDTH of 2 to 1024 voxels each, not {text!r}")
        return tuple(sizes)
    if len(sizes) not in (1, 2) or min(sizes) < 8 or max(sizes) > 4096:
        raise argparse.ArgumentTypeError(
            f"expected SIZE or HEIGHTxWIDTH (8 to 4096 pixels), or DEPTHxHEIGHTxWIDTH for a volume, not {text!r}"
        )
    return (sizes[0], sizes[-1])


def image_size(text: str) -> tuple[int, int]:
    """SIZE or HxW (a crop or a resize of images)."""
    size = input_size(text)
    if len(size) == 3:
        raise argparse.ArgumentTypeError(f"expected SIZE or HEIGHTxWIDTH, not {text!r}")
    return size


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


def resize_size(text: str) -> int | tuple[int, int]:
    """``256``: the shorter side (an int); ``224x224``: an exact size."""
    size = image_size(text)
    return size if "x" in text.lower() or "," in text else size[0]


def add_recipe_arguments(group, default_size: str = "224") -> None:
    """--input-size (the stretch shorthand), --resize, --crop, --letterbox, --interpolation; the volume recipe."""
    group.add_argument(
        "--input-size",
        type=input_size,
        metavar="HxW|DxHxW",
        help=f"stretch images to this size (= --resize HxW; default {default_size}); for a 3-D model, the volume "
        "size it sees",
    )
    group.add_argument(
        "--resize",
        type=resize_size,
        metavar="N|HxW",
        help="N: shorter side to N, aspect kept (torchvision Resize(N)); HxW: stretch to exactly HxW",
    )
    group.add_argument("--crop", type=image_size, metavar="N|HxW", help="centre crop after --resize (CenterCrop)")
    group.add_argument(
        "--letterbox", action="store_true", default=None, help="fit inside --resize, aspect kept, pad with black"
    )
    group.add_argument(
        "--interpolation",
        choices=INTERPOLATIONS,
        help="resize filter: bilinear (default, as torchvision Resize on PIL images), bicubic, nearest, "
        "or area (camviewer 0.x, the default of checkpoints it wrote)",
    )
    add_volume_arguments(group)


def recipe_arguments(args: argparse.Namespace) -> dict | None:
    """The recipe flags as load_model's ``recipe`` (None: none given); exits 2 on a combination that makes no sense."""
    given = {key: getattr(args, key, None) for key in ("resize", "crop", "letterbox", "interpolation")}
    given = {key: value for key, value in given.items() if value is not None}
    problem = None
    volume_size = len(getattr(args, "input_size", None) or ()) == 3
    if volume_size and given:
        problem = "--resize, --crop, --letterbox and --interpolation are for images; a DxHxW --input-size is a volume's"
    elif getattr(args, "input_size", None) is not None and "resize" in given:
        problem = "--input-size is the stretch shorthand of --resize HxW: give one of them"
    elif ("crop" in given or "letterbox" in given) and "resize" not in given:
        problem = "--crop and --letterbox apply after --resize: give --resize too (e.g. --resize 256 --crop 224)"
    elif "crop" in given and "letterbox" in given:
        problem = "--letterbox keeps the whole image: it takes no --crop"
    elif isinstance(given.get("resize"), int) and not {"crop", "letterbox"} & set(given):
        problem = "--resize N keeps each image's aspect ratio: add --crop (e.g. --resize 256 --crop 224) or --letterbox"
    if problem:
        raise SystemExit(fail(problem, EXIT_USAGE))
    return given or None


def add_allow_outside(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-outside",
        action="store_true",
        help="a CSV partition may name images outside its own folder (refused by default: a CSV from elsewhere "
        "could point at any file on this machine)",
    )


def add_model_arguments(parser: argparse.ArgumentParser, required: bool = True, flag: str = "--model") -> None:
    """--model CKPT plus what a bare state_dict may need: architecture, classes, preprocessing."""
    group = parser.add_argument_group("model")
    if flag:
        group.add_argument(flag, dest="model", required=required, metavar="CKPT", help="checkpoint file")
    group.add_argument("--arch", help="architecture of a bare state_dict (inferred when unambiguous), or timm:NAME")
    group.add_argument("--num-classes", type=int, help="number of classes (checked against the weights)")
    group.add_argument("--classes", type=comma_list, metavar="A,B,...", help="class names in output order")
    add_recipe_arguments(group)
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
        recipe=recipe_arguments(args),
        volume=volume_arguments(args),
        spatial_dims=args.spatial_dims,
    )


ERRORS = None  # where errors go when stderr is silenced (the processes other than rank 0 of a torchrun run)


def fail(problem: str | BaseException, code: int = EXIT_FAILED) -> int:
    """Tell what went wrong on stderr (an error with what to do about it) and return the exit code."""
    _record_for_torchrun(problem)
    if isinstance(problem, BaseException):
        hint = remedy(problem)
        problem = f"{problem}\n  ({hint})" if hint else str(problem)
    print(f"camviewer: {problem}", file=ERRORS or sys.stderr)
    return code


def warn(text: str) -> None:
    """A line on stderr that every process of a torchrun run prints (about the images of its own share)."""
    print(text, file=ERRORS or sys.stderr)


def _record_for_torchrun(problem: str | BaseException) -> None:
    """In a process torchrun started: the error in the file torchrun reports a failed process's reason from."""
    import json
    import os
    import traceback

    path = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if not path:
        return
    text = f"{type(problem).__name__}: {problem}" if isinstance(problem, BaseException) else str(problem)
    info = {"py_callstack": traceback.format_exc(), "timestamp": str(int(time.time()))}
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"message": {"message": text, "extraInfo": info}}, handle)


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
        case errors.SpatialDimsMismatch(network_dims=3):
            return "a 3-D network sees volumes: give --input-size DxHxW (e.g. 64x96x96), or --spatial-dims 2"
        case errors.SpatialDimsMismatch():
            return "a 2-D network sees images: give --input-size HxW, or --spatial-dims 3 for MONAI or TinyVGG"
        case errors.RecipeError():
            return "see --resize, --crop and --letterbox (e.g. --resize 256 --crop 224, or --resize 224x224)"
        case errors.DeviceUnavailable():
            return "use --device cpu or auto"
        case errors.TooFewDevices(devices=devices):
            return f"give --nproc {devices} or fewer (torchrun: --nproc-per-node), or --device cpu"
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
            return f"use the model's own names ({', '.join(classes)}) in --label-map, --positive-class or --target"
        case errors.OverlappingGroups():
            return "give each label in --label-map the same classes as the other, or none of them"
        case errors.NotOneToOne():
            return "with --init, map each label to exactly one class of the checkpoint (--label-map), or drop --init"
        case errors.ClassMismatch():
            return "rename the class folders or labels, or train without --init"
        case errors.EmptySplit(split="val"):
            return "give a --val-split above 0, or add a val folder"
        case errors.AmbiguousGroundTruth():
            return "give exactly one of --masks DIR, --boxes CSV, --coco JSON or --voc DIR"
        case errors.AnnotationError(missing=missing) if missing:
            return "name the columns with --columns image=...,x=...,y=...,w=...,h=...,label=..."
        case errors.NoApplicableMethod():
            return "choose other methods with --method (gradcam applies to every CNN)"
        case errors.PositiveClassRequired(class_names=names):
            return f"pass --positive-class with one of {', '.join(names)}"
        case errors.MissingInput(needed="model"):
            return "give --model CKPT"
        case errors.MissingInput(needed="roi_masks"):
            return "give --roi-masks DIR (one mask per image, same relative path)"
        case errors.OutsidePartitionFolder(csv_path=csv_path):
            return f"if you trust {csv_path.name}, add --allow-outside"
        case errors.RunInterrupted(run_dir=run_dir, epochs_done=done, cause=cause):
            first = _first_step(cause)
            if done:
                return f"{first}, then continue with --resume {run_dir} (the {done} finished epoch(s) are kept)"
            return f"{first}, then start it again with the same command and --out (no epoch had finished)"
        case errors.ExportExists():
            return "add --resume to continue it, --overwrite to replace it, or choose another --out"
        case errors.ExportMismatch():
            return "continue it with the same options, replace it with --overwrite, or choose another --out"
        case errors.ExportInterrupted(cause=cause):
            first = _first_step(cause)
            return f"{first}, then add --resume to continue: the images already listed in predictions.csv are kept"
        case errors.WriteFailed(no_space=True):
            return "free some space on that disk, or choose another folder"
        case errors.WriteFailed(not_allowed=True):
            return "choose a folder you can write to"
        case errors.NonFiniteWeights():
            return "the file is damaged or its training diverged: use another checkpoint (an earlier epoch)"
        case errors.NonFiniteOutput():
            return "check the normalisation (--mean, --std) and the weights"
        case errors.MethodNotApplicable(alternative=None):
            return "choose another --method"
        case errors.MethodNotApplicable(alternative=alternative):
            return f"use --method {alternative}"
    return None


def _first_step(cause: errors.WriteFailed) -> str:
    if cause.no_space:
        return "free some space"
    return "make the folder writable" if cause.not_allowed else "once the folder can be written"


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
