"""The numbers of an evaluation: a summary (headline metrics, operating point, calibration) and a per-class table.

Every figure carries its 95% interval and, in a tooltip, how it was computed and on how many images (the
report's ``intervals``: Wilson for proportions, DeLong for a class's ROC-AUC, a stratified bootstrap for
kappa, balanced accuracy, F1 and the macro AUC).
"""

from __future__ import annotations

from PySide6.QtWidgets import QTabWidget, QWidget

from camviewer.gui.common.result_table import ResultTable, number

SUMMARY_HEADERS = ["Metric", "Value", "95% interval", "Method"]
PER_CLASS = (
    ("sensitivity", "Sensitivity"),
    ("specificity", "Specificity"),
    ("ppv", "PPV"),
    ("npv", "NPV"),
    ("f1", "F1"),
    ("roc_auc", "ROC AUC"),
)
METHODS = {"wilson": "Wilson", "delong": "DeLong", "bootstrap": "bootstrap"}


def interval_text(interval: dict | None) -> str:
    return "—" if interval is None else f"{number(interval['low'])} – {number(interval['high'])}"


def method_text(interval: dict | None) -> str:
    if interval is None:
        return ""
    text = f"{METHODS.get(interval['method'], interval['method'])}, n = {interval['n']}"
    return text + (f" ({interval['note']})" if interval.get("note") else "")


def _row(name: str, value, interval: dict | None, note: str | None = None) -> tuple[list[str], list[str | None]]:
    cells = [name, number(value), interval_text(interval), method_text(interval)]
    return cells, [note, note, None, method_text(interval) or None]


def summary_rows(report) -> list[tuple[list[str], list[str | None]]]:
    """(cells, tooltips) of the summary table."""
    positive, ci = report.positive_class, report.intervals
    suffix = f" — positive class: {positive}" if positive else ""
    rows = [
        (["Images", f"{report.n:,}", "", ""], [None] * 4),
        _row("Accuracy", report.accuracy, ci.get("accuracy")),
        _row(
            "Balanced accuracy", report.balanced_accuracy, ci.get("balanced_accuracy"), "mean recall over the classes"
        ),
    ]
    if positive is not None:
        rows += [
            _row(f"Sensitivity{suffix}", report.sensitivity, ci.get("sensitivity"), report.sensitivity_note),
            _row(f"Specificity{suffix}", report.specificity, ci.get("specificity"), report.specificity_note),
        ]
    auc_name = f"ROC AUC{suffix}" if positive else "ROC AUC (macro, one vs rest)"
    rows += [
        _row(auc_name, report.roc_auc, ci.get("roc_auc"), report.roc_auc_note),
        _row("Cohen's kappa", report.cohen_kappa, ci.get("cohen_kappa"), report.cohen_kappa_note),
    ]
    point = report.operating_point
    if point is not None:
        where = f"threshold {point['threshold']:.3f}" if point["threshold"] is not None else "argmax"
        for key, label in PER_CLASS[:4]:
            rows.append(
                _row(f"At {point['rule']} ({where}): {label}", point[key], point["intervals"][key], point["note"])
            )
    calibration = report.calibration or {}
    if calibration:
        top = calibration["top_label"]
        rows.append((["Calibration error (ECE, top label)", number(top["ece"]), "", f"n = {top['n']}"], [None] * 4))
        if calibration.get("positive_class"):
            cal = calibration["positive_class"]
            rows.append(([f"Calibration error (ECE, {cal['name']})", number(cal["ece"]), "", ""], [None] * 4))
            rows.append(([f"Brier score ({cal['name']})", number(cal["brier"]), "", ""], [None] * 4))
    return rows


def per_class_rows(report) -> list[tuple[list[str], list[str | None]]]:
    """(cells, tooltips): each class one vs rest at the argmax calls, every figure with its interval (2 decimals)."""
    rows = []
    for name in report.class_names:
        values = report.per_class[name]
        label = f"{name} (positive)" if name == report.positive_class else name
        cells, tips = [label, f"{values['support']:,}"], [None, None]
        for key, _ in PER_CLASS:
            interval = values["intervals"].get(key)
            short = f" ({interval['low']:.2f}–{interval['high']:.2f})" if interval else ""
            cells.append(number(values[key]) + short)
            tips.append(method_text(interval) or None)
        rows.append((cells, tips))
    return rows


class ReportTables(QTabWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = ResultTable()
        self.per_class = ResultTable()
        self.addTab(self.summary, "Summary")
        self.addTab(self.per_class, "Per class (one vs rest)")

    def show_report(self, report) -> None:
        rows = summary_rows(report)
        self.summary.set_rows(SUMMARY_HEADERS, [cells for cells, _ in rows], [tips for _, tips in rows])
        rows = per_class_rows(report)
        headers = ["Class", "Images", *(label for _, label in PER_CLASS)]
        self.per_class.set_rows(headers, [cells for cells, _ in rows], [tips for _, tips in rows])
        self.setTabEnabled(1, True)

    def show_multilabel(self, report: dict) -> None:
        rows = [["Images", f"{report['n']:,}", "", ""], ["Macro AUC", number(report["macro_auc"]), "", ""]]
        for name, values in report["per_label"].items():
            interval = values["intervals"].get("auc")
            rows.append([f"AUC of {name}", number(values["auc"]), interval_text(interval), method_text(interval)])
        self.summary.set_rows(SUMMARY_HEADERS, rows)
        self.per_class.set_rows([], [])
        self.setTabEnabled(1, False)
