"""`camviewer evaluate DATA --model CKPT [--split test] [--positive-class NAME] [--label-map MAP] --out DIR`.

Writes metrics.json, roc.csv, predictions.csv, confusion_matrix.png, roc.png, calibration.png and (when a
history.csv lies next to the checkpoint) training_curves.png into DIR. ``--split`` uses DATA's own split (a
train/val/test tree or a CSV with a split column), else the split.csv of the run that made CKPT. The label
mapping (data labels -> model classes) is printed before any image is read.
"""

from __future__ import annotations

import argparse
import sys

from camviewer.commands import _scale
from camviewer.commands._common import (
    EXIT_FAILED,
    EXIT_OK,
    LABEL_MAP_HELP,
    add_allow_outside,
    add_model_arguments,
    fail,
    label_map,
)


def operating_rule(text: str):
    from camviewer.core.errors import MetricsError
    from camviewer.core.evaluation.operating import OperatingRule

    try:
        return OperatingRule.parse(text)
    except MetricsError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", metavar="DATA", help="class folders, a train/val/test tree, or a CSV partition")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the report files")
    parser.add_argument("--split", metavar="NAME", help="train, val, test or all (default all)")
    parser.add_argument(
        "--positive-class",
        metavar="NAME",
        help="class whose sensitivity, specificity, ROC and operating point are reported, one vs rest: any class; "
        "required for two classes unless the model card names one",
    )
    parser.add_argument("--label-map", type=label_map, metavar="MAP", help=LABEL_MAP_HELP)
    parser.add_argument(
        "--operating-point",
        type=operating_rule,
        default=None,
        metavar="RULE",
        help="where the positive class is called: argmax (default), youden, sensitivity:0.9 (highest threshold "
        "reaching that sensitivity) or threshold:0.3 (probability at least 0.3)",
    )
    parser.add_argument("--batch-size", type=int, default=32, help="default 32")
    add_allow_outside(parser)
    add_model_arguments(parser)
    _scale.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from camviewer.commands._common import drive, load_model_from_args
    from camviewer.core.data.labels import LabelMapping
    from camviewer.core.distributed.world import current
    from camviewer.core.errors import CamviewerError
    from camviewer.core.evaluation.run import evaluate

    def show_mapping(event) -> None:
        if isinstance(event.payload, LabelMapping):
            print("\n".join(event.payload.preview_lines()), flush=True)

    try:
        model = load_model_from_args(args)
        job = evaluate(
            model,
            args.data,
            args.split,
            args.positive_class,
            args.out,
            args.batch_size,
            label_map=args.label_map,
            operating=args.operating_point,
            allow_outside=args.allow_outside,
            world=current(),
        )
        result = drive(job, show_mapping)
    except (CamviewerError, OSError) as error:
        return fail(error)
    except KeyboardInterrupt:
        return fail("interrupted")
    if result is None:  # a process other than rank 0 of a torchrun run: rank 0 reports the whole
        return EXIT_OK
    for path, reason in result.skipped:
        print(f"camviewer: skipped {path}: {reason}", file=sys.stderr)
    print("\n".join(summary_lines(result, args.out)))
    return EXIT_OK if result.paths else EXIT_FAILED


def summary_lines(result, out: str) -> list[str]:
    where = f" ({result.split_source})" if result.split_source else ""
    lines = [f"evaluated {len(result.paths)} image(s){where}, skipped {len(result.skipped)}"]
    report = result.report
    if report is None:
        lines.append(f"multi-label: macro ROC-AUC {_fmt(result.multilabel['macro_auc'])}")
        lines.append(f"wrote {', '.join(sorted(result.files))} to {out}")
        return lines
    ci = report.intervals
    lines.append(
        f"accuracy {_with_ci(report.accuracy, ci['accuracy'])}  "
        f"balanced accuracy {_with_ci(report.balanced_accuracy, ci['balanced_accuracy'])}"
    )
    auc_kind = "" if report.positive_class is not None else " (macro, one vs rest)"
    lines.append(
        f"Cohen's kappa {_with_ci(report.cohen_kappa, ci['cohen_kappa'])}  "
        f"ROC-AUC{auc_kind} {_with_ci(report.roc_auc, ci['roc_auc'])}"
    )
    if report.positive_class is not None:
        lines.append(
            f"positive class: {report.positive_class} (one vs rest, argmax)  "
            f"sensitivity {_with_ci(report.sensitivity, ci['sensitivity'])}  "
            f"specificity {_with_ci(report.specificity, ci['specificity'])}"
        )
    lines += per_class_lines(report)
    if report.operating_point is not None:
        lines += operating_lines(report.operating_point, report.positive_class)
    calibration = report.calibration
    line = f"calibration: ECE {calibration['top_label']['ece']:.4f} (top label)"
    if calibration["positive_class"] is not None:
        positive = calibration["positive_class"]
        line += f", {positive['ece']:.4f} ({positive['name']}; Brier {positive['brier']:.4f})"
    lines.append(line + f", {calibration['bins']} equal-width bins")
    lines.append(
        f"confusion matrix (rows true, columns predicted; {', '.join(report.class_names)}): {report.confusion_matrix}"
    )
    methods = report.interval_methods
    lines.append(
        f"[low, high]: {methods['confidence']:.0%} intervals: Wilson for proportions (n = the images in the "
        f"denominator), DeLong for a class's ROC-AUC, a stratified bootstrap ({methods['resamples']} resamples, "
        f"seed {methods['seed']}) for the rest"
    )
    lines.append(f"wrote {', '.join(sorted(result.files))} to {out}")
    return lines


PER_CLASS_COLUMNS = (("sensitivity", "sensitivity"), ("specificity", "specificity"), ("ppv", "PPV"), ("npv", "NPV"))


def per_class_lines(report) -> list[str]:
    """One line per class, one vs rest at the argmax calls, every figure with its interval."""
    width = max(len(name) for name in report.class_names)
    lines = ["per class (one vs rest; value [95% interval]):"]
    for name in report.class_names:
        values = report.per_class[name]
        ci = values["intervals"]
        parts = [f"{label} {_with_ci(values[key], ci[key])}" for key, label in PER_CLASS_COLUMNS]
        parts += [f"F1 {_with_ci(values['f1'], ci['f1'])}", f"AUC {_with_ci(values['roc_auc'], ci['roc_auc'])}"]
        lines.append(f"  {name:<{width}}  n={values['support']:<4} " + "  ".join(parts))
    return lines


def operating_lines(point: dict, positive: str) -> list[str]:
    where = f"threshold {point['threshold']:.4f}" if point["threshold"] is not None else "the highest probability"
    ci = point["intervals"]
    head = f"operating point {point['rule']} for {positive} ({where}"
    head += f"; {point['note']})" if point["note"] else ")"
    rates = "  ".join(
        f"{label} {_with_ci(point[key], ci[key])}"
        for key, label in (*PER_CLASS_COLUMNS, ("f1", "F1"), ("accuracy", "accuracy"))
    )
    return [f"{head}: TP {point['tp']} FP {point['fp']} FN {point['fn']} TN {point['tn']}", f"  {rates}"]


def _with_ci(value, interval) -> str:
    if value is None:
        return "n/a"
    if interval is None:
        return f"{value:.4f}"
    return f"{value:.4f} [{interval['low']:.3f}, {interval['high']:.3f}]"


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"
