"""`camviewer evaluate DATA --model CKPT [--split test] [--positive-class NAME] --out DIR`.

Writes metrics.json, roc.csv, predictions.csv, confusion_matrix.png, roc.png and (when a history.csv
lies next to the checkpoint) training_curves.png into DIR. ``--split`` uses DATA's own split (a
train/val/test tree or a CSV with a split column), else the split.csv of the run that made CKPT.
"""

from __future__ import annotations

import argparse
import sys

from camviewer.commands._common import EXIT_FAILED, EXIT_OK, add_model_arguments, fail


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", metavar="DATA", help="class folders, a train/val/test tree, or a CSV partition")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the report files")
    parser.add_argument("--split", metavar="NAME", help="train, val, test or all (default all)")
    parser.add_argument(
        "--positive-class",
        metavar="NAME",
        help="class whose sensitivity/specificity/ROC are reported (default: the model card's)",
    )
    parser.add_argument("--batch-size", type=int, default=32, help="default 32")
    add_model_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from camviewer.commands._common import drive, load_model_from_args
    from camviewer.core.errors import CamviewerError
    from camviewer.core.evaluation.run import evaluate

    try:
        model = load_model_from_args(args)
        result = drive(evaluate(model, args.data, args.split, args.positive_class, args.out, args.batch_size))
    except (CamviewerError, OSError) as error:
        return fail(error)
    except KeyboardInterrupt:
        return fail("interrupted")
    for path, reason in result.skipped:
        print(f"camviewer: skipped {path}: {reason}", file=sys.stderr)
    print("\n".join(_summary_lines(result, args.out)))
    return EXIT_OK if result.paths else EXIT_FAILED


def _summary_lines(result, out: str) -> list[str]:
    where = f" ({result.split_source})" if result.split_source else ""
    lines = [f"evaluated {len(result.paths)} image(s){where}, skipped {len(result.skipped)}"]
    report = result.report
    if report is None:
        lines.append(f"multi-label: macro ROC-AUC {_fmt(result.multilabel['macro_auc'])}")
    else:
        lines.append(
            f"accuracy {_fmt(report.accuracy)}  balanced accuracy {_fmt(report.balanced_accuracy)}  "
            f"Cohen's kappa {_fmt(report.cohen_kappa)}  ROC-AUC {_fmt(report.roc_auc)}"
        )
        if report.positive_class is not None:
            lines.append(
                f"positive class: {report.positive_class}  sensitivity {_fmt(report.sensitivity)}  "
                f"specificity {_fmt(report.specificity)}"
            )
        lines.append(
            f"confusion matrix (rows true, columns predicted; {', '.join(report.class_names)}): "
            f"{report.confusion_matrix}"
        )
    lines.append(f"wrote {', '.join(sorted(result.files))} to {out}")
    return lines


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"
