"""`camviewer refine DATA --mode ... --out NEWDATA`: an enhanced copy of a training set (seed 002's cycle).

With ``--measure HELDOUT`` the model is measured first (accuracy and localization on held-out images
with lesion masks); ``refine.json`` keeps that measurement, and ``camviewer train NEWDATA --init CKPT``
measures the fine-tuned model the same way and prints the comparison (see commands.train).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from camviewer.commands._common import (
    EXIT_OK,
    EXIT_USAGE,
    add_allow_outside,
    add_model_arguments,
    drive,
    fail,
    load_model_from_args,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from camviewer.core.trust.refine import DEFAULT_FLOOR, MIN_ROI_ENERGY

    parser.add_argument("data", metavar="DATA", help="the training set (class sub-folders); it is never modified")
    parser.add_argument(
        "--mode",
        required=True,
        choices=("cam-overlay", "roi-mask", "crop"),
        help="cam-overlay: the originals plus a copy of each image whose map lies in the region of interest, "
        "what the map marks kept and the rest faded; roi-mask: keep only the region of interest; "
        "crop: cut a border margin at training and inference",
    )
    parser.add_argument("--out", required=True, metavar="NEWDATA", help="new, empty folder for the enhanced set")
    parser.add_argument(
        "--roi-masks",
        metavar="DIR",
        help="masks mirroring DATA's layout: what roi-mask keeps, where cam-overlay's maps must lie to count "
        "as accurate (default: DATA/roi when it exists)",
    )
    parser.add_argument("--method", default="gradcam", help="cam-overlay mode: CAM method (default gradcam)")
    parser.add_argument(
        "--floor",
        type=float,
        default=DEFAULT_FLOOR,
        help=f"cam-overlay: weight where the map is 0 (default {DEFAULT_FLOOR})",
    )
    parser.add_argument(
        "--min-roi-energy",
        type=float,
        default=MIN_ROI_ENERGY,
        metavar="F",
        help=f"cam-overlay: share of a map's mass inside the ROI for it to count as accurate (default {MIN_ROI_ENERGY})",
    )
    parser.add_argument(
        "--border-crop",
        type=float,
        metavar="F",
        help="crop mode: fraction cut from each side at training and inference (default 0.1); cam-overlay: "
        "cut it too (seed 002 cropped its model first, then enhanced)",
    )
    measure = parser.add_argument_group("before and after")
    measure.add_argument(
        "--measure",
        metavar="HELDOUT",
        help="measure --model on these held-out images with lesion masks first; `train NEWDATA --init CKPT` "
        "then measures the fine-tuned model the same way and compares",
    )
    measure.add_argument("--measure-masks", metavar="DIR", help="lesion masks of HELDOUT (default HELDOUT/masks)")
    measure.add_argument("--measure-roi", metavar="DIR", help="ROI masks of HELDOUT (default HELDOUT/roi if it exists)")
    measure.add_argument(
        "--positive-class", metavar="NAME", help="for sensitivity and specificity (default: the card's)"
    )
    add_allow_outside(parser)
    add_model_arguments(parser, required=False)


def run(args: argparse.Namespace) -> int:
    from camviewer.core.errors import CamviewerError, WriteFailed
    from camviewer.core.trust.comparison import note_measurement
    from camviewer.core.trust.refine import overlay_advice, refine_dataset

    crop = args.border_crop
    if not 0 <= args.floor <= 1 or not 0 <= (crop or 0) < 0.5 or not 0 <= args.min_roi_energy <= 1:
        return fail("--floor and --min-roi-energy must be in [0, 1] and --border-crop in [0, 0.5)", EXIT_USAGE)
    if args.measure and not args.model:
        return fail("--measure measures the model you refine: give it with --model CKPT", EXIT_USAGE)
    roi_masks = args.roi_masks
    if roi_masks is None and args.mode != "crop" and (Path(args.data) / "roi").is_dir():
        roi_masks = str(Path(args.data) / "roi")
        print(f"region-of-interest masks: {roi_masks}", file=sys.stderr)
    try:
        model = load_model_from_args(args) if args.model else None
        before = _measure_before(args, model) if args.measure else None
        job = refine_dataset(
            args.data,
            args.out,
            args.mode,
            model,
            roi_masks,
            args.method,
            args.floor,
            args.border_crop,
            min_roi_energy=args.min_roi_energy,
            allow_outside=args.allow_outside,
        )
        manifest = drive(job)
        if before is not None:
            note_measurement(args.out, *before)
    except WriteFailed as error:  # the images before it are complete; without refine.json the set is not used
        return fail(error)
    except CamviewerError as error:
        return fail(error, EXIT_USAGE)
    for key, reason in manifest["skipped"]:
        print(f"camviewer: skipped {key}: {reason}", file=sys.stderr)
    if args.mode == "cam-overlay":
        rejected = len(manifest["rejected"])
        print(
            f"{manifest['enhanced']} map(s) judged accurate (inside the region of interest) and enhanced; "
            f"{rejected} not (listed in refine.json): those images are kept as they are"
        )
        advice = overlay_advice(manifest)
        if advice:
            print(f"camviewer: note: {advice} (`camviewer refine DATA --mode crop --border-crop F`)", file=sys.stderr)
    print(f"wrote {manifest['images']} image(s) to {args.out} ({args.mode})")
    init = f" --init {args.model}" if args.model else ""
    print(f"next: camviewer train {args.out}{init} --out <run folder>")
    if args.model and not args.measure:
        print("(add --measure HELDOUT to compare the fine-tuned model with this one on held-out images)")
    return EXIT_OK


def _measure_before(args: argparse.Namespace, model):
    """(spec, measurement) of the model before refinement, printed as it is taken."""
    from camviewer.core.trust.comparison import MeasureSpec, measure

    held = Path(args.measure)
    roi = args.measure_roi or (str(held / "roi") if (held / "roi").is_dir() else None)
    spec = MeasureSpec(
        str(held.resolve()),
        str(Path(args.measure_masks or held / "masks").resolve()),
        str(Path(roi).resolve()) if roi else None,
        args.method,
        args.positive_class,
        args.allow_outside,
    )
    before = drive(measure(model, spec))
    scores = ", ".join(
        f"{name.replace('_', ' ')} {value:.3f}"
        for name, value in (
            ("accuracy", before.metrics.get("accuracy")),
            ("pointing_game", before.localization.get("pointing_game")),
            ("energy_in_region", before.localization.get("energy_in_region")),
        )
        if value is not None
    )
    print(f"before, on {held} ({before.method}): {scores}")
    return spec, before
