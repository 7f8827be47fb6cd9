"""`camviewer refine DATA --mode ... --out NEWDATA`: an enhanced copy of a training set (seed 002's cycle)."""

from __future__ import annotations

import argparse
import sys

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
    parser.add_argument("data", metavar="DATA", help="the training set (class sub-folders); it is never modified")
    parser.add_argument(
        "--mode",
        required=True,
        choices=("cam-overlay", "roi-mask", "crop"),
        help="cam-overlay: weight images by their map; roi-mask: keep only the region of interest; "
        "crop: cut a border margin at training and inference",
    )
    parser.add_argument("--out", required=True, metavar="NEWDATA", help="new, empty folder for the enhanced set")
    parser.add_argument("--roi-masks", metavar="DIR", help="roi-mask mode: masks mirroring DATA's layout")
    parser.add_argument("--method", default="gradcam", help="cam-overlay mode: CAM method (default gradcam)")
    parser.add_argument("--floor", type=float, default=0.3, help="cam-overlay: weight where the map is 0 (default 0.3)")
    parser.add_argument("--border-crop", type=float, default=0.1, help="crop mode: fraction cut from each side")
    add_allow_outside(parser)
    add_model_arguments(parser, required=False)


def run(args: argparse.Namespace) -> int:
    from camviewer.core.errors import CamviewerError, WriteFailed
    from camviewer.core.trust.refine import refine_dataset

    if not 0 <= args.floor <= 1 or not 0 <= args.border_crop < 0.5:
        return fail("--floor must be in [0, 1] and --border-crop in [0, 0.5)", EXIT_USAGE)
    try:
        model = load_model_from_args(args) if args.model else None
        job = refine_dataset(
            args.data,
            args.out,
            args.mode,
            model,
            args.roi_masks,
            args.method,
            args.floor,
            args.border_crop,
            allow_outside=args.allow_outside,
        )
        manifest = drive(job)
    except WriteFailed as error:  # the images before it are complete; without refine.json the set is not used
        return fail(error)
    except CamviewerError as error:
        return fail(error, EXIT_USAGE)
    for key, reason in manifest["skipped"]:
        print(f"camviewer: skipped {key}: {reason}", file=sys.stderr)
    print(f"wrote {manifest['images']} image(s) to {args.out} ({args.mode})")
    init = f" --init {args.model}" if args.model else ""
    print(f"next: camviewer train {args.out} --arch <same as before>{init} --out <run folder>")
    return EXIT_OK
