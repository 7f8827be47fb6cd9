"""`camviewer faithfulness DATA --model CKPT`: deletion/insertion, average drop, and the sanity check."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from camviewer.commands import _scale
from camviewer.commands._common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    add_allow_outside,
    add_model_arguments,
    comma_list,
    drive,
    fail,
    load_model_from_args,
)
from camviewer.core import csvfiles
from camviewer.core.atomic import write_text_atomic


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", metavar="DATA", help="dataset folder or folder of images")
    add_model_arguments(parser)
    options = parser.add_argument_group("faithfulness")
    options.add_argument("--method", type=comma_list, default=["gradcam"], metavar="M[,M...]")
    options.add_argument("--steps", type=int, default=20, help="points on the deletion/insertion curves (default 20)")
    options.add_argument("--limit", type=int, default=200, metavar="N", help="use at most N images (default 200)")
    options.add_argument(
        "--sanity-images",
        type=int,
        default=8,
        metavar="N",
        help="images for the weight-randomization sanity check (default 8; 0 to skip)",
    )
    options.add_argument("--out", default="camviewer-faithfulness", metavar="DIR")
    options.add_argument("--batch-size", type=int, default=8)
    add_allow_outside(parser)
    _scale.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from camviewer.core.distributed.world import current
    from camviewer.core.errors import CamError, CamviewerError
    from camviewer.core.trust.dataset import dataset_images, faithfulness_dataset, faithfulness_record, format_table

    if args.steps < 1 or args.limit < 1 or args.sanity_images < 0:
        return fail("--steps and --limit must be >= 1, --sanity-images >= 0", EXIT_USAGE)
    try:
        entries = dataset_images(args.data, args.allow_outside)[: args.limit]
        model = load_model_from_args(args)
        paths = [e.path for e in entries]
        job = faithfulness_dataset(
            model, paths, args.method, args.steps, args.batch_size, args.sanity_images, world=current()
        )
        result = drive(job)
    except CamError as error:
        return fail(error, EXIT_USAGE)
    except CamviewerError as error:
        return fail(error)
    if result is None:  # a process other than rank 0 of a torchrun run: rank 0 reports the whole
        return EXIT_OK
    for path, reason in result["failed"]:
        print(f"camviewer: skipped {path}: {reason}", file=sys.stderr)
    out = Path(args.out)
    rows = result["rows"]
    record = faithfulness_record(result, {"methods": args.method, "steps": args.steps})
    try:
        csvfiles.write_dict_rows(out / "faithfulness.csv", rows)
        write_text_atomic(out / "summary.json", json.dumps(record, indent=2, ensure_ascii=False))
    except CamviewerError as error:
        return fail(error)
    for method, reason in result["skipped_methods"].items():
        print(f"camviewer: method {method} skipped: {reason}", file=sys.stderr)
    table = {method: {**entry, "sanity": _sanity_word(entry)} for method, entry in result["summary"].items()}
    print(format_table(table, ["deletion_auc", "insertion_auc", "average_drop", "increase", "sanity"]))
    print(
        "(deletion: lower is better; insertion: higher is better; sanity: maps must change when weights are randomized)"
    )
    print(f"wrote {out / 'faithfulness.csv'} and {out / 'summary.json'}")
    return EXIT_OK if rows else EXIT_FAILED


def _sanity_word(entry: dict) -> str:
    sanity = entry.get("sanity")
    if not sanity:
        return "not run"
    rho = sanity["stages"][-1]["spearman"]
    return f"{'passed' if sanity['passed'] else 'FAILED'} (rho {rho:.2f})"
