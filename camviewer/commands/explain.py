"""`camviewer explain PATH... --model CKPT`: maps, overlays and predictions for images and folders."""

from __future__ import annotations

import argparse
from dataclasses import fields

from camviewer.commands import _scale
from camviewer.commands._common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    add_model_arguments,
    comma_list,
    drive,
    fail,
    load_model_from_args,
    warn,
)
from camviewer.core.cam.names import METHOD_INFO, METHODS, MethodSettings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders (searched recursively)")
    add_model_arguments(parser)
    cam = parser.add_argument_group("CAM")
    cam.add_argument(
        "--method",
        type=comma_list,
        default=["gradcam"],
        metavar="M[,M...]",
        help=f"{', '.join(METHODS)} (default gradcam; slow on a CPU: "
        f"{', '.join(name for name, info in METHOD_INFO.items() if info.slow)})",
    )
    cam.add_argument(
        "--method-option",
        type=_setting,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting of the methods that have any, repeatable: "
        + ", ".join(f"{f.name} ({f.default})" for f in fields(MethodSettings)),
    )
    cam.add_argument(
        "--target",
        default="pred",
        metavar="pred|all|NAME|INDEX",
        help="class to explain: the prediction (default; every positive label for multi-label), all, or one class",
    )
    cam.add_argument(
        "--layer", help="target layer name (default: the last spatial layer; see `camviewer info --layers`)"
    )
    cam.add_argument(
        "--out", default="camviewer-explain", metavar="DIR", help="output folder (default: ./camviewer-explain)"
    )
    again = cam.add_mutually_exclusive_group()
    again.add_argument(
        "--resume", action="store_true", help="DIR holds an earlier export: explain only the images it does not list"
    )
    again.add_argument("--overwrite", action="store_true", help="DIR holds an earlier export: replace it")
    cam.add_argument("--batch-size", type=int, default=16, metavar="N")
    cam.add_argument("--colormap", default="jet", choices=("jet", "turbo", "inferno", "viridis", "gray"))
    cam.add_argument("--alpha", type=float, default=0.5, help="heatmap opacity in the overlays (default 0.5)")
    _scale.add_arguments(cam)


def _setting(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, not {text!r}")
    return name.strip().replace("-", "_"), value.strip()


def run(args: argparse.Namespace) -> int:
    from camviewer.core.distributed.world import current
    from camviewer.core.errors import CamError, CamviewerError
    from camviewer.core.explain.export import explain_to_folder
    from camviewer.core.explain.records import ExplainFailure, ExportNotice
    from camviewer.core.explain.sharded import explain_shards_to_folder
    from camviewer.core.filenames import printable

    unknown = [m for m in args.method if m.lower() not in METHODS]
    if unknown:
        return fail(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}", EXIT_USAGE)
    if args.batch_size < 1 or not 0 <= args.alpha <= 1:
        return fail("--batch-size must be >= 1 and --alpha within [0, 1]", EXIT_USAGE)
    target = int(args.target) if args.target.isdigit() else args.target
    try:
        settings = MethodSettings.from_text(dict(args.method_option))
    except CamError as error:
        return fail(error, EXIT_USAGE)
    try:
        model = load_model_from_args(args)
    except CamviewerError as error:
        return fail(error)

    def report(event) -> None:
        payload = event.payload
        if isinstance(payload, ExplainFailure):
            warn(f"\ncamviewer: skipped {printable(payload.source)}: {payload.reason}")
        elif isinstance(payload, ExportNotice):
            warn(f"camviewer: {payload.text}")
        elif payload is not None:
            for (method, class_name), reason in payload.empty.items():
                warn(f"\ncamviewer: {printable(payload.source)}: {method} for {class_name}: {reason}")

    if_exists = "resume" if args.resume else "overwrite" if args.overwrite else "refuse"
    options = (model, args.paths, args.out, args.method, target, args.layer, args.batch_size, args.colormap, args.alpha)
    world = current()
    if world.size > 1:  # each process its share; rank 0 merges the table
        job = explain_shards_to_folder(
            *options, _scale.cancel_token(), if_exists=if_exists, settings=settings, world=world
        )
    else:
        job = explain_to_folder(*options, if_exists=if_exists, settings=settings)
    try:
        summary = drive(job, report)
    except CamError as error:  # a bad --target / --layer / method for this model
        return fail(error, EXIT_USAGE)
    except CamviewerError as error:
        return fail(error)
    except KeyboardInterrupt:
        return fail("interrupted; predictions.csv lists the images finished so far (continue with --resume)")
    failed, done = len(summary["failed"]), summary["already_done"]
    earlier = f" ({done} already done)" if done else ""
    print(f"explained {summary['explained']} image(s){earlier}, skipped {failed}; wrote {printable(summary['out'])}")
    return EXIT_OK if summary["explained"] or done else EXIT_FAILED
