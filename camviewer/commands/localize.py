"""`camviewer localize DATA --model CKPT (--masks DIR | --boxes CSV | --coco JSON | --voc DIR)`: do the maps point at the lesion?"""

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
    LABEL_MAP_HELP,
    add_allow_outside,
    add_model_arguments,
    comma_list,
    drive,
    fail,
    label_map,
    load_model_from_args,
)
from camviewer.core import csvfiles
from camviewer.core.atomic import write_text_atomic

TABLE_COLUMNS = ("with_region", "pointing_game", "iou", "dice", "box_iou", "energy_in_region", "energy_in_roi")


def threshold_value(text: str):
    if text in ("otsu", "tuned"):
        return text
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError("expected otsu, tuned or a fraction of the map's maximum in (0, 1)")
    return value


def columns_value(text: str) -> dict[str, str]:
    from camviewer.core.trust.groundtruth import parse_columns

    try:
        return parse_columns(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "data",
        metavar="DATA",
        help="dataset folder (class sub-folders) or any folder of images (volumes, for a 3-D model)",
    )
    add_model_arguments(parser)
    truth = parser.add_argument_group("ground truth (exactly one)")
    truth.add_argument(
        "--masks", metavar="DIR", help="masks mirroring DATA's layout (same relative path and stem; NIfTI for volumes)"
    )
    truth.add_argument(
        "--boxes", metavar="CSV", help="boxes CSV: columns found by their names (see --columns), ChestX-ray14's too"
    )
    truth.add_argument("--coco", metavar="JSON", help="COCO annotation file")
    truth.add_argument("--voc", metavar="DIR", help="folder of Pascal VOC XML files, one per image")
    truth.add_argument(
        "--columns",
        type=columns_value,
        metavar="ROLE=COLUMN,...",
        help="which CSV columns hold what, when the names are not recognised: roles image, x, y, w, h "
        "(or x1, y1, x2, y2), label; a column by its header or its number from 1; 'label=' ignores labels",
    )
    options = parser.add_argument_group("scoring")
    options.add_argument("--method", type=comma_list, default=["gradcam"], metavar="M[,M...]")
    options.add_argument(
        "--threshold",
        type=threshold_value,
        default=0.2,
        metavar="otsu|FRACTION|tuned",
        help="binarize maps for IoU/Dice: a fraction of the maximum (default 0.2, Zhou et al.), "
        "Otsu, or tuned per class on half of the images (reported on the other half)",
    )
    options.add_argument(
        "--tolerance",
        type=float,
        default=0.0,
        metavar="PX",
        help="pointing game: count a peak within PX pixels of the region as a hit (default 0)",
    )
    options.add_argument(
        "--split",
        metavar="NAME",
        help="train, val, test or all (default all): DATA's own split, else the split.csv of the run that made CKPT",
    )
    options.add_argument("--roi", metavar="DIR", help="region-of-interest masks (e.g. lungs) for energy-in-ROI")
    options.add_argument(
        "--target",
        default="gt",
        metavar="gt|pred|NAME",
        help="class whose map is scored: gt (default: the ground truth's label, through the label mapping; "
        "images whose label matches no class are refused and listed), pred, or a class name",
    )
    options.add_argument("--label-map", type=label_map, metavar="MAP", help=LABEL_MAP_HELP)
    options.add_argument("--layer", metavar="NAME", help="layer to read the maps from (`camviewer info --layers`)")
    options.add_argument("--out", default="camviewer-localize", metavar="DIR")
    options.add_argument("--batch-size", type=int, default=16)
    add_allow_outside(parser)
    _scale.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from camviewer.core.distributed.world import current
    from camviewer.core.errors import AmbiguousGroundTruth, CamError, CamviewerError, UnknownClasses
    from camviewer.core.trust.dataset import dataset_images, format_table, split_images
    from camviewer.core.trust.groundtruth import MaskFolder, load_ground_truth
    from camviewer.core.trust.scoring import localization_record, localize_dataset, rows_as_dicts
    from camviewer.core.trust.targets import plan_targets

    if args.columns and not args.boxes:
        return fail("--columns applies to --boxes CSV files", EXIT_USAGE)
    try:
        truth = load_ground_truth(args.masks, args.boxes, args.coco, args.voc, args.columns)
        print(f"ground truth: {truth.description}")
        roi = MaskFolder(args.roi) if args.roi else None
        model = load_model_from_args(args)
        if args.split:
            entries = split_images(args.data, args.split, model, args.allow_outside)
        else:
            entries = dataset_images(args.data, args.allow_outside, volumes=model.card.volume is not None)
        plan = plan_targets(model, entries, truth, args.target, args.label_map)
    except CamError as error:
        return fail(error, EXIT_USAGE)
    except CamviewerError as error:
        return fail(error, EXIT_USAGE if isinstance(error, (AmbiguousGroundTruth, UnknownClasses)) else EXIT_FAILED)
    print("\n".join(_plan_lines(plan)))
    if entries and not plan.matched:
        print(_unmatched_note(args, entries, truth), file=sys.stderr)
    job = localize_dataset(
        model,
        entries,
        truth,
        args.method,
        args.threshold,
        args.tolerance,
        roi,
        args.target,
        args.batch_size,
        layer=args.layer,
        plan=plan,
        world=current(),
    )
    try:
        result = drive(job)
    except CamError as error:
        return fail(error, EXIT_USAGE)
    except CamviewerError as error:
        return fail(error)
    if result is None:  # a process other than rank 0 of a torchrun run: rank 0 reports the whole
        return EXIT_OK
    out = Path(args.out)
    rows = rows_as_dicts(result["rows"])
    options = {"methods": args.method, "threshold": args.threshold, "tolerance_px": args.tolerance}
    record = localization_record(result, truth.description, options)
    try:
        csvfiles.write_dict_rows(out / "localization.csv", rows)
        write_text_atomic(out / "summary.json", json.dumps(record, indent=2, ensure_ascii=False))
    except CamviewerError as error:
        return fail(error)
    for path, reason in result["failed"]:
        print(f"camviewer: skipped {path}: {reason}", file=sys.stderr)
    for method, reason in result["skipped_methods"].items():
        print(f"camviewer: method {method} skipped: {reason}", file=sys.stderr)
    print(format_table(_with_chance(result["summary"]), TABLE_COLUMNS))
    print("(in brackets: chance, the same score for a random point, a flat map or randomly placed pixels)")
    best = result["best"]
    print(
        f"best method: {best['method']} ({best['reason']})"
        if best["method"]
        else f"best method: none ({best['reason']})"
    )
    print(f"wrote {out / 'localization.csv'} and {out / 'summary.json'}")
    return EXIT_OK if rows else EXIT_FAILED


def _unmatched_note(args, entries, truth) -> str:
    """Why nothing matched, as far as can be told: the keys on either side."""
    note = (
        f"camviewer: none of the {len(entries)} images of {args.data} has ground truth: they are matched by "
        f"their path relative to {args.data} (e.g. {entries[0].key!r})"
    )
    keys = list(getattr(truth, "boxes", {}))[:1]
    return note + (f"; the ground truth names e.g. {keys[0]!r}" if keys else "")


def _plan_lines(plan) -> list[str]:
    lines = plan.mapping.preview_lines() if plan.mapping is not None else []
    scored = len({str(t.entry.path) for t in plan.targets})
    line = f"target {plan.target}: {scored} image(s) to explain"
    if plan.refused:
        reasons = "; ".join(f"{reason} ({count})" for reason, count in plan.refusal_counts().most_common())
        line += f", {len(plan.refused)} refused: {reasons}"
    return [*lines, line]


def _with_chance(summary: dict) -> dict:
    """Each score as 'value (chance)' for the terminal table."""
    table = {}
    for method, entry in summary.items():
        table[method] = {"with_region": entry["with_region"]}
        for column in TABLE_COLUMNS[1:]:
            value, chance = entry.get(column), entry.get(f"chance_{column}")
            table[method][column] = (
                "-" if value is None else f"{value:.3f}" + (f" ({chance:.3f})" if chance is not None else "")
            )
    return table
