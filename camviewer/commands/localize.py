"""`camviewer localize DATA --model CKPT (--masks DIR | --boxes CSV | --coco JSON)`: do the maps point at the lesion?"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from camviewer.commands._common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    LABEL_MAP_HELP,
    add_model_arguments,
    comma_list,
    drive,
    fail,
    label_map,
    load_model_from_args,
)


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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", metavar="DATA", help="dataset folder (class sub-folders) or any folder of images")
    add_model_arguments(parser)
    truth = parser.add_argument_group("ground truth (exactly one)")
    truth.add_argument("--masks", metavar="DIR", help="masks mirroring DATA's layout (same relative path and stem)")
    truth.add_argument("--boxes", metavar="CSV", help="path,x,y,w,h,label CSV or ChestX-ray14's BBox_List")
    truth.add_argument("--coco", metavar="JSON", help="COCO annotation file")
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
    options.add_argument("--roi", metavar="DIR", help="region-of-interest masks (e.g. lungs) for energy-in-ROI")
    options.add_argument(
        "--target", default="gt", help="class to explain: gt (default: the region's class), pred, or a name"
    )
    options.add_argument("--label-map", type=label_map, metavar="MAP", help=LABEL_MAP_HELP)
    options.add_argument("--out", default="camviewer-localize", metavar="DIR")
    options.add_argument("--batch-size", type=int, default=16)


def run(args: argparse.Namespace) -> int:
    from camviewer.core.errors import AmbiguousGroundTruth, CamError, CamviewerError
    from camviewer.core.trust.dataset import dataset_images, format_table, localize_dataset, rows_as_dicts
    from camviewer.core.trust.groundtruth import MaskFolder, load_ground_truth

    try:
        truth = load_ground_truth(args.masks, args.boxes, args.coco)
        roi = MaskFolder(args.roi) if args.roi else None
        entries = dataset_images(args.data)
        model = load_model_from_args(args)
    except CamviewerError as error:
        return fail(error, EXIT_USAGE if isinstance(error, AmbiguousGroundTruth) else EXIT_FAILED)
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
        label_map=args.label_map,
    )
    try:
        result = drive(job)
    except CamError as error:
        return fail(error, EXIT_USAGE)
    except CamviewerError as error:
        return fail(error)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = rows_as_dicts(result["rows"])
    with open(out / "localization.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["path"])
        writer.writeheader()
        writer.writerows(rows)
    summary = {
        "summary": result["summary"],
        "thresholds": result["thresholds"],
        "failed": result["failed"],
        "threshold": args.threshold,
        "tolerance_px": args.tolerance,
        "target": args.target,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    for path, reason in result["failed"]:
        print(f"camviewer: skipped {path}: {reason}", file=sys.stderr)
    columns = ["with_region", "pointing_game", "iou", "dice", "box_iou", "energy_in_region", "energy_in_roi"]
    print(format_table(result["summary"], columns))
    print(f"wrote {out / 'localization.csv'} and {out / 'summary.json'}")
    return EXIT_OK if rows else EXIT_FAILED
