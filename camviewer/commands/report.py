"""`camviewer report RUN_OR_EVAL_DIR --out report.html`: one self-contained HTML file to send a colleague."""

from __future__ import annotations

import argparse
from pathlib import Path

from camviewer.commands._common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, add_model_arguments, drive, fail


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "folder",
        metavar="RUN_OR_EVAL_DIR",
        help="a training run folder (camviewer train --out) or an evaluation folder (camviewer evaluate --out)",
    )
    parser.add_argument("--out", required=True, metavar="HTML", help="the report file to write")
    parser.add_argument("--overwrite", action="store_true", help="replace HTML if it exists")
    parser.add_argument(
        "--localization", metavar="DIR", help="a `camviewer localize` output folder (default: found below the folder)"
    )
    parser.add_argument(
        "--faithfulness", metavar="DIR", help="a `camviewer faithfulness` output folder (default: found below)"
    )
    parser.add_argument("--method", default="gradcam", help="CAM method of the example maps (default gradcam)")
    parser.add_argument("--examples", type=int, default=4, metavar="N", help="example images per cell (default 4)")
    add_model_arguments(parser, required=False)


def run(args: argparse.Namespace) -> int:
    from camviewer import __version__
    from camviewer.core.errors import CamError, CamviewerError
    from camviewer.core.reporting import build_report, read_report_inputs, write_html

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        return fail(f"{out} exists; pass --overwrite to replace it", EXIT_USAGE)
    if args.examples < 0:
        return fail("--examples must be 0 or more", EXIT_USAGE)
    try:
        inputs = read_report_inputs(args.folder, args.model, args.localization, args.faithfulness)
        model = None
        if inputs.checkpoint is not None:
            from camviewer.commands._common import load_model_from_args

            args.model = str(inputs.checkpoint)
            model = load_model_from_args(args)
        made_by = f"camviewer {__version__}"
        text = drive(build_report(inputs, model, args.method, args.examples, made_by=made_by))
        write_html(text, out)
    except CamError as error:
        return fail(str(error), EXIT_USAGE)
    except (CamviewerError, OSError) as error:
        return fail(str(error))
    found = [
        name
        for name, present in (
            ("evaluation", inputs.metrics is not None),
            ("model card", inputs.checkpoint is not None),
            ("example maps", model is not None and args.examples > 0),
            ("training curves", inputs.history_csv is not None or "training_curves" in inputs.figures),
            ("localization", inputs.localization is not None),
            ("faithfulness", inputs.faithfulness is not None),
        )
        if present
    ]
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB): {', '.join(found)}")
    return EXIT_OK if found else EXIT_FAILED
