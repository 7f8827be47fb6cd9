"""`camviewer synth OUT --kind cells|xray|ct --n N --seed S [--size PX|DxHxW] [--shortcut P]`.

Writes a synthetic two-class dataset with lesion masks, ROI masks, boxes.csv, markers.csv and
synth.json (see camviewer.core.synth); ct writes NIfTI volumes, their masks and lesions.csv. OUT must be new, empty, or a previous synth output (which
is then replaced); any other non-empty folder is refused with exit code 2. There is deliberately
no --force: deleting a folder of user data is left to the user.
"""

from __future__ import annotations

import argparse
import time

from camviewer.commands._common import EXIT_OK, EXIT_USAGE, drive, fail


def size_argument(text: str) -> int | tuple[int, ...]:
    """PX (a square image) or DxHxW (a volume)."""
    try:
        sizes = tuple(int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected PX or DxHxW, not {text!r}") from None
    return sizes[0] if len(sizes) == 1 else sizes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", metavar="OUT", help="output folder (new, empty, or a previous synth output)")
    parser.add_argument(
        "--kind",
        required=True,
        metavar="cells|xray|ct",
        help="cells: malaria cell crops (parasitized/uninfected); xray: chest radiographs (pneumonia/normal); "
        "ct: chest CT volumes as NIfTI (nodule/normal)",
    )
    parser.add_argument(
        "--n", type=int, required=True, metavar="N", help="number of images; N//2 positives, the rest negatives"
    )
    parser.add_argument(
        "--seed", type=int, required=True, metavar="S", help="random seed: same arguments give byte-identical files"
    )
    parser.add_argument(
        "--size",
        type=size_argument,
        default=None,
        metavar="PX|DxHxW",
        help="square image side in pixels (default 128 for cells, 256 for xray); ct: voxels DxHxW (default 64x96x96)",
    )
    parser.add_argument(
        "--shortcut",
        type=float,
        default=0.0,
        metavar="P",
        help="probability that a positive image gets a spurious corner tag (default 0)",
    )


def run(args: argparse.Namespace) -> int:
    from camviewer.core import synth
    from camviewer.core.errors import CamviewerError

    problem = synth.check_arguments(args.kind, args.n, args.seed, args.size, args.shortcut)
    if problem:
        return fail(f"synth: {problem}", EXIT_USAGE)
    started = time.perf_counter()
    job = synth.generate(args.out, args.kind, args.n, args.seed, args.size, args.shortcut)
    try:
        summary = drive(job, unit="volumes" if args.kind == "ct" else "images")
    except synth.SynthOutputError as error:
        return fail(f"synth: {error}", EXIT_USAGE)
    except (CamviewerError, OSError) as error:
        return fail(f"synth: {error}")
    except KeyboardInterrupt:
        return fail("synth: interrupted; the next run into the same folder replaces the partial output")
    counts = ", ".join(f"{count} {name}" for name, count in summary["counts"].items())
    elapsed = time.perf_counter() - started
    if summary["kind"] == "ct":
        grid = "x".join(str(n) for n in summary["size"])
        spacing = " x ".join(f"{mm:g}" for mm in summary["spacing_mm"])
        print(f"wrote {summary['n']} ct volumes of {grid} voxels ({spacing} mm) to {args.out} in {elapsed:.1f} s")
    else:
        print(f"wrote {summary['n']} {summary['kind']} images of {summary['size']} px to {args.out} in {elapsed:.1f} s")
    print(f"  classes: {counts} (positive: {summary['positive_class']})")
    if summary["kind"] != "ct":
        print(f"  shortcut markers: {summary['markers']} (P={summary['shortcut']:g})")
    return EXIT_OK
