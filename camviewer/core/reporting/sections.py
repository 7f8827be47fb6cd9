"""The report's sections, each a function of what was found (``ReportInputs``) returning HTML, or "" when
there is nothing to show. Numbers are read from the files the commands wrote (metrics.json, the
localization and faithfulness summaries), never recomputed, so the report says what those files say."""

from __future__ import annotations

import os
from pathlib import Path

from camviewer.core.reporting.gallery import Cell
from camviewer.core.reporting.html import esc, figure, file_data_uri, number, pair, paragraph, table
from camviewer.core.reporting.inputs import ReportInputs

HEADLINE = (  # metrics.json key -> name in the report
    ("accuracy", "Accuracy"),
    ("balanced_accuracy", "Balanced accuracy"),
    ("sensitivity", "Sensitivity"),
    ("specificity", "Specificity"),
    ("roc_auc", "ROC-AUC"),
    ("cohen_kappa", "Cohen's kappa"),
)
PER_CLASS = (
    ("support", "images"),
    ("sensitivity", "sensitivity"),
    ("specificity", "specificity"),
    ("ppv", "PPV"),
    ("npv", "NPV"),
    ("f1", "F1"),
    ("roc_auc", "ROC-AUC"),
)
OPERATING = (
    ("sensitivity", "sensitivity"),
    ("specificity", "specificity"),
    ("ppv", "PPV"),
    ("npv", "NPV"),
    ("f1", "F1"),
    ("accuracy", "accuracy"),
)
LOCALIZATION = (
    ("pointing_game", "pointing game"),
    ("iou", "IoU"),
    ("dice", "Dice"),
    ("box_iou", "box IoU"),
    ("energy_in_region", "energy in region"),
    ("energy_in_roi", "energy in ROI"),
)
FAITHFULNESS = (
    ("deletion_auc", "deletion AUC ↓"),
    ("insertion_auc", "insertion AUC ↑"),
    ("average_drop", "average drop ↓"),
)


def with_interval(entry: dict, key: str) -> str:
    """'0.517 (0.393–0.638)': a value and its interval from the entry's ``intervals``, when it has one."""
    interval = (entry.get("intervals") or {}).get(key)
    value = number(entry.get(key))
    return (
        f"{value} ({interval['low']:.3f}–{interval['high']:.3f})" if interval and entry.get(key) is not None else value
    )


def interval_text(interval: dict | None) -> str:
    if not interval:
        return "–"
    return f"{interval['low']:.3f} – {interval['high']:.3f}"


def glance(metrics: dict | None, localization: dict | None) -> str:
    """The headline numbers in one line: what a reader wants before scrolling."""
    parts = []
    metrics = metrics or {}
    intervals = metrics.get("intervals") or {}
    for key, name in HEADLINE:
        if metrics.get(key) is not None and key in ("accuracy", "sensitivity", "specificity", "roc_auc"):
            interval = intervals.get(key)
            parts.append(f"{name} {metrics[key]:.3f}" + (f" ({interval_text(interval)})" if interval else ""))
    if metrics.get("positive_class") and parts:
        parts.insert(1, f"positive class {metrics['positive_class']}")
    best = (localization or {}).get("best") or {}
    if localization:
        parts.append(f"best map method: {best['method']}" if best.get("method") else "no map method beats chance")
    return " · ".join(parts)


def model_section(card: dict | None, checkpoint: str | None) -> str:
    if card is None:
        return paragraph("No model checkpoint was found next to these results: the model card is not known.", "warn")
    rows = [
        ("checkpoint", checkpoint or "–"),
        ("architecture", card.get("arch")),
        ("classes", ", ".join(card.get("class_names", []))),
        ("head", "softmax (one class per image)" if card.get("head") == "softmax" else "sigmoid (multi-label)"),
        ("positive class (card)", card.get("positive_class")),
    ]
    preprocessing = [
        ("input size (height × width)", " × ".join(str(v) for v in card.get("input_size", []))),
        (
            "channels",
            f"{card.get('channels')}" + (", colour images converted to grey first" if card.get("grayscale") else ""),
        ),
        ("normalisation mean", ", ".join(f"{v:.4g}" for v in card.get("mean", []))),
        ("normalisation std", ", ".join(f"{v:.4g}" for v in card.get("std", []))),
        ("border crop", f"{card.get('border_crop', 0):.0%} of each side cut before resizing"),
        ("resize", "the whole image to the input size, no crop (aspect ratio not kept)"),
    ]
    out = "<h3>Model card</h3>" + table(["field", "value"], rows, numeric=())
    out += "<h3>Preprocessing (the same for training, evaluation and maps)</h3>"
    out += table(["step", "value"], preprocessing, numeric=())
    training = (card.get("notes") or {}).get("training") if isinstance(card.get("notes"), dict) else None
    if isinstance(training, dict):
        simple = [(key, value) for key, value in training.items() if isinstance(value, (str, int, float, bool))]
        if simple:
            out += "<h3>Training provenance</h3>" + table(["field", "value"], simple, numeric=())
    return out


def data_section(inputs: ReportInputs) -> str:
    metrics = inputs.metrics or {}
    out = ""
    paths = [row["path"] for row in inputs.predictions if row.get("path")]
    if paths:
        out += paragraph(f"{len(paths):,} images evaluated, from {os.path.commonpath(paths)}")
    if inputs.evaluation is not None:
        out += paragraph(f"Evaluation files: {inputs.evaluation}", "note")
    per_class = metrics.get("per_class") or {}
    if per_class:
        rows = [(name, number(entry.get("support"))) for name, entry in per_class.items()]
        out += "<h3>Images per class</h3>" + table(["class", "images"], rows)
    mapping = metrics.get("label_mapping")
    if mapping:
        rows = [
            (m["label"], " + ".join(m["classes"]) or "no class (unmatched)", m.get("how", ""))
            for m in mapping["labels"]
        ]
        out += "<h3>Label mapping (data label → model class)</h3>" + table(
            ["data label", "model class(es)", "how"], rows, numeric=()
        )
        if mapping.get("unmatched"):
            out += paragraph(f"Unmatched data labels: {', '.join(mapping['unmatched'])}", "warn")
        grouped = [g for g in mapping.get("groups", []) if len(g["classes"]) > 1]
        for group in grouped:
            out += paragraph(f"{group['name']} is scored as one class: the sum of {', '.join(group['classes'])}.")
    elif metrics:
        out += paragraph("The data's labels are the model's class names.")
    return out or paragraph("No evaluation was found.", "warn")


def metrics_section(metrics: dict | None) -> str:
    if not metrics:
        return paragraph("No evaluation was found in this folder.", "warn")
    if "per_label" in metrics:  # a multi-label model
        rows = [(name, number(entry.get("auc"))) for name, entry in metrics["per_label"].items()]
        return paragraph(
            f"{metrics.get('n', 0):,} images, multi-label; macro AUC {number(metrics.get('macro_auc'))}"
        ) + (table(["label", "ROC-AUC"], rows))
    positive = metrics.get("positive_class")
    intervals = metrics.get("intervals") or {}
    rows = []
    for key, name in HEADLINE:
        if key in ("sensitivity", "specificity") and positive is None:
            continue
        interval = intervals.get(key)
        method = f"{interval['method']}, n = {interval['n']}" if interval else ""
        rows.append((name, number(metrics.get(key)), interval_text(interval), method))
    confidence = (metrics.get("interval_methods") or {}).get("confidence", 0.95)
    out = paragraph(
        f"{metrics.get('n', 0):,} images"
        + (f"; positive class: {positive} (sensitivity, specificity and ROC-AUC are its)" if positive else "")
    )
    out += table(["metric", "value", f"{confidence:.0%} interval", "interval method"], rows, numeric=(1, 2))
    per_class = metrics.get("per_class") or {}
    if per_class:
        header = ["class (one vs rest)"] + [name for _, name in PER_CLASS]
        body = [[name] + [with_interval(entry, key) for key, _ in PER_CLASS] for name, entry in per_class.items()]
        out += "<h3>Per class (value and 95% interval)</h3>" + table(header, body)
    methods = metrics.get("interval_methods") or {}
    notes = [f"{name}: {text}" for name, text in methods.items() if name != "confidence" and isinstance(text, str)]
    if notes:
        out += "".join(paragraph(note, "note") for note in notes)
    operating = metrics.get("operating_point")
    if operating:
        rows = [("threshold", number(operating.get("threshold")))]
        rows += [(name, with_interval(operating, key)) for key, name in OPERATING]
        out += f"<h3>Operating point: {esc(operating.get('rule'))}</h3>"
        out += paragraph(operating["note"], "note") if operating.get("note") else ""
        out += table(["measure", "value (95% interval)"], rows)
    calibration = metrics.get("calibration")
    if calibration:
        rows = [("top label (confidence vs accuracy)", number(calibration["top_label"]["ece"]))]
        if calibration.get("positive_class"):
            entry = calibration["positive_class"]
            rows.append((f"positive class {entry['name']}", number(entry["ece"])))
        out += "<h3>Calibration</h3>" + table(["reliability of", "expected calibration error"], rows)
    return out


def figures_section(inputs: ReportInputs) -> str:
    captions = {
        "confusion_matrix": "Confusion matrix: rows are the true class, columns the predicted class",
        "roc": "ROC curve",
        "calibration": "Reliability diagram",
    }
    shown = [
        figure(file_data_uri(inputs.figures[name]), caption, css="wide" if name == "calibration" else "")
        for name, caption in captions.items()
        if name in inputs.figures
    ]
    return f'<div class="figures">{"".join(shown)}</div>' if shown else ""


def gallery_section(cells: list[Cell] | None, method: str, reason: str | None) -> str:
    if not cells:
        return paragraph(reason or "No example images.", "warn")
    out = paragraph(
        f"The most confident images of each cell, each beside its {method} map of the class the model predicted."
    )
    for cell in cells:
        out += f"<h3>{esc(cell.title)} ({cell.count:,} image{'s' if cell.count != 1 else ''})</h3>"
        items = []
        for example in cell.examples:
            name = Path(example.path).name
            if example.error:
                items.append(f"<figure><figcaption>{esc(name)}: {esc(example.error)}</figcaption></figure>")
                continue
            caption = f"{name} · p = {number(example.probability)} · map of {example.mapped_class}"
            items.append(pair(example.image, example.overlay, caption, (f"image {name}", f"map {name}")))
        out += f'<div class="gallery">{"".join(items)}</div>' if items else paragraph("No images in this cell.", "note")
    return out


def training_section(inputs: ReportInputs, curves: Path | None) -> str:
    out = ""
    if curves is not None:
        out += f'<div class="figures">{figure(file_data_uri(curves), "Training curves per epoch", css="wide")}</div>'
    config = inputs.config or {}
    simple = [(key, value) for key, value in config.items() if isinstance(value, (str, int, float, bool))]
    if simple:
        out += "<h3>Training configuration</h3>" + table(["setting", "value"], simple, numeric=())
    return out


def localization_section(record: dict | None, source: Path | None) -> str:
    if not record:
        return ""
    summary = record.get("summary") or {}
    best = (record.get("best") or {}).get("method")
    header = ["method", "maps with a region"] + [f"{name} (chance)" for _, name in LOCALIZATION] + ["p vs chance"]
    rows, classes = [], []
    for method, entry in summary.items():
        cells = [method, number(entry.get("with_region"))]
        for key, _ in LOCALIZATION:
            value, chance = entry.get(key), entry.get(f"chance_{key}")
            cells.append("–" if value is None else f"{value:.3f}" + (f" ({chance:.3f})" if chance is not None else ""))
        cells.append(number(entry.get("pointing_game_p"), 4))
        rows.append(cells)
        classes.append("best" if method == best else "")
    out = paragraph(f"From {source}" if source else "", "note")
    out += paragraph(
        f"Target: {record.get('target')}; ground truth: {record.get('ground_truth', '–')}; layer: {record.get('layer') or 'automatic'}"
    )
    out += table(header, rows, classes=classes)
    reason = (record.get("best") or {}).get("reason", "")
    out += paragraph(f"Best method: {best} ({reason})" if best else f"No best method: {reason}")
    out += paragraph(
        "Chance: the pointing game of a random point (the region's share of the image), the energy of a flat "
        "map (the same share), IoU and Dice of as many pixels scattered at random, box IoU of the box at a random place.",
        "note",
    )
    for reason, count in (record.get("refused_counts") or {}).items():
        out += paragraph(f"Refused {count} image(s): {reason}", "warn")
    for method, reason in (record.get("skipped_methods") or {}).items():
        out += paragraph(f"Skipped method {method}: {reason}", "warn")
    return out


def faithfulness_section(record: dict | None, source: Path | None) -> str:
    if not record:
        return ""
    rows = []
    for method, entry in (record.get("summary") or {}).items():
        sanity = entry.get("sanity")
        verdict = "not run" if not sanity else ("passed" if sanity.get("passed") else "FAILED")
        rows.append([method] + [number(entry.get(key)) for key, _ in FAITHFULNESS] + [verdict])
    out = paragraph(f"From {source}" if source else "", "note")
    out += table(["method"] + [name for _, name in FAITHFULNESS] + ["weight-randomization sanity check"], rows)
    for method, reason in (record.get("skipped_methods") or {}).items():
        out += paragraph(f"Skipped method {method}: {reason}", "warn")
    return out
