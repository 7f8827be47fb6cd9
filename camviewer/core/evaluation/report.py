"""Evaluation report files: metrics.json, roc.csv, predictions.csv and PNG figures (confusion, ROC, calibration).

Used by ``camviewer evaluate --out DIR`` and the GUI's "export report". Figures are drawn with
matplotlib's object API on an Agg canvas (``Figure`` + ``FigureCanvasAgg``): never pyplot and never
``matplotlib.use``, so the Qt backend of the GUI process is left alone and nothing here is global.
Every file is written atomically: a temporary file in the same folder, then ``os.replace``, so a
reader never sees half a report.
"""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Callable
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from camviewer.core import csvfiles
from camviewer.core.atomic import atomic_path
from camviewer.core.errors import MetricsError
from camviewer.core.evaluation.metrics import ClassificationReport

DPI = 100
HISTORY_COLUMNS = (
    "epoch",
    "train_loss",
    "val_loss",
    "train_acc",
    "val_acc",
    "lr",
    "seconds",
    "batch_size",
    "processes",
)


# ----------------------------------------------------------------------------- atomic writes


def _write_atomically(path: Path, write: Callable[[io.IOBase], None], binary: bool = False) -> Path:
    """Call ``write(file)`` on a temporary file next to ``path``, then move it into place."""
    with (
        atomic_path(path) as tmp,
        open(tmp, "wb") if binary else open(tmp, "w", newline="", encoding="utf-8", errors="surrogateescape") as fh,
    ):
        write(fh)
    return Path(path)


def _save_figure(fig: Figure, path: str | Path) -> Path:
    return _write_atomically(Path(path), lambda fh: fig.savefig(fh, format="png", dpi=DPI), binary=True)


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="tight")
    FigureCanvasAgg(fig)  # attaches itself to fig; Agg renders off-screen, no GUI backend involved
    return fig


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


# ----------------------------------------------------------------------------- figures


def _confusion_subtitle(report: ClassificationReport) -> str:
    parts = [f"n = {report.n}", f"accuracy {_fmt(report.accuracy)}"]
    if report.positive_class is not None:
        parts += [f"sensitivity {_fmt(report.sensitivity)}", f"specificity {_fmt(report.specificity)}"]
    else:
        parts.append(f"balanced accuracy {_fmt(report.balanced_accuracy)}")
    return "  ·  ".join(parts)


def plot_confusion_matrix(report: ClassificationReport, path: str | Path) -> Path:
    """Counts (and share of each true class) with class names on both axes; rows are the truth."""
    counts = np.asarray(report.confusion_matrix, dtype=np.int64)
    k = len(report.class_names)
    row_totals = counts.sum(axis=1, keepdims=True)
    # Colour by share of the true class so that a small class's errors are as visible as a large one's.
    shares = np.divide(counts, row_totals, out=np.zeros(counts.shape), where=row_totals > 0)

    side = min(14.0, max(5.0, 1.6 + 0.75 * k))
    fig = _new_figure(side + 1.2, side)
    ax = fig.add_subplot()
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, shrink=0.8, label="share of the true class")

    font = max(6.5, 13.0 - 0.4 * k)
    for (row, col), count in np.ndenumerate(counts if k <= 30 else np.empty((0, 0))):  # beyond 30: colour only
        if count == 0:  # a bare grey 0 keeps the eye on the cells that hold images
            ax.text(col, row, "0", ha="center", va="center", color="0.6", fontsize=font)
            continue
        colour = "white" if shares[row, col] > 0.55 else "black"
        ax.text(col, row, f"{count}\n{shares[row, col]:.0%}", ha="center", va="center", color=colour, fontsize=font)

    rotate = k > 4 or max(len(name) for name in report.class_names) > 8
    ax.set_xticks(range(k), report.class_names, rotation=35 if rotate else 0, ha="right" if rotate else "center")
    ax.set_yticks(range(k), report.class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    title = "Confusion matrix"
    if report.positive_class is not None:
        title += f" — positive class: {report.positive_class}"
    ax.set_title(f"{title}\n{_confusion_subtitle(report)}", fontsize=11)
    return _save_figure(fig, path)


def plot_roc(roc: dict[str, dict], path: str | Path, title: str | None = None, note: str | None = None) -> Path:
    """ROC curve(s) with the AUC in the legend and the chance diagonal; ``note`` explains an empty ``roc``.

    A single curve is the two-class case (see ``roc_points``): the default title names its positive class.
    """
    if title is None:
        title = f"ROC — positive class: {next(iter(roc))}" if len(roc) == 1 else "ROC curve"
    legend_outside = len(roc) > 5  # many curves: a legend inside would hide them
    fig = _new_figure(8.6 if legend_outside else 5.6, 5.4)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], linestyle="--", color="0.6", linewidth=1, label="chance (AUC = 0.5)")
    colours = matplotlib.colormaps["tab20" if len(roc) > 10 else "tab10"].colors
    for colour, (name, curve) in zip(itertools.cycle(colours), roc.items()):
        label = f"{name} vs rest" if len(roc) > 1 else name
        ax.plot(
            curve["fpr"],
            curve["tpr"],
            color=colour,
            linewidth=2 if len(roc) <= 5 else 1.4,
            label=f"{label} (AUC = {curve['auc']:.3f})",
        )
    if not roc:
        ax.text(
            0.5,
            0.55,
            note or "no ROC curve: it needs images of both classes",
            ha="center",
            va="center",
            wrap=True,
            fontsize=10,
            color="0.25",
            bbox={"boxstyle": "round", "facecolor": "0.95", "edgecolor": "0.7"},
        )
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    ax.set_xlabel("false positive rate (1 − specificity)")
    ax.set_ylabel("true positive rate (sensitivity)")
    ax.set_title(title, fontsize=11)
    if legend_outside:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    else:
        ax.legend(loc="lower right", fontsize=9)
    return _save_figure(fig, path)


def _plot_reliability(ax, curve: dict, title: str) -> None:
    ax.plot([0, 1], [0, 1], linestyle="--", color="0.6", linewidth=1, label="perfect calibration")
    filled = [row for row in curve["bins"] if row["count"]]
    if filled:
        ax.plot(
            [row["mean_predicted"] for row in filled],
            [row["observed"] for row in filled],
            marker="o",
            color="tab:blue",
            label="observed",
        )
    counts = ax.twinx()  # how many images each bin holds: a point resting on 2 images says little
    edges = [row["low"] for row in curve["bins"]]
    width = curve["bins"][0]["high"] - curve["bins"][0]["low"]
    counts.bar(edges, [row["count"] for row in curve["bins"]], width=width, align="edge", color="0.85", zorder=0)
    counts.set_ylim(0, 3 * max(1, max(row["count"] for row in curve["bins"])))  # bars in the lower third
    counts.set_ylabel("images per bin", color="0.45")
    counts.tick_params(axis="y", colors="0.45")
    ax.set_zorder(counts.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.01, 1.01)
    ax.grid(alpha=0.3)
    ax.set_title(
        f"{title}\nECE {curve['ece']:.3f} · largest gap {curve['max_gap']:.3f} · n = {curve['n']}", fontsize=10
    )
    ax.legend(loc="upper left", fontsize=8)


def plot_calibration(calibration: dict, path: str | Path) -> Path:
    """Reliability diagram(s): top-label confidence, and the positive class's probability when there is one."""
    panels = [("top_label", "Top label: confidence vs accuracy", "confidence of the predicted class", "share correct")]
    positive = calibration.get("positive_class")
    if positive is not None:
        panels.append(
            ("positive_class", f"Positive class: {positive['name']}", "predicted probability", "observed frequency")
        )
    fig = _new_figure(5.2 * len(panels), 4.6)
    for ax, (key, title, xlabel, ylabel) in zip(fig.subplots(1, len(panels), squeeze=False)[0], panels):
        _plot_reliability(ax, calibration[key], title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
    fig.suptitle(f"Calibration ({calibration['bins']} equal-width bins)", fontsize=11)
    return _save_figure(fig, path)


def _read_history(history_csv: str | Path) -> dict[str, np.ndarray]:
    """The known numeric columns of a training history; blank cells become NaN."""
    path = Path(history_csv)
    with path.open(newline="", encoding="utf-8") as fh:
        rows = csvfiles.dict_rows(fh)
    if not rows:
        raise MetricsError(f"{path}: training history has no epochs")
    columns = {}
    for name in HISTORY_COLUMNS:
        if name not in rows[0]:
            continue
        try:
            columns[name] = np.array([float(r[name]) if (r[name] or "").strip() else np.nan for r in rows])
        except ValueError as error:
            raise MetricsError(f"{path}: column {name!r} holds a non-number ({error})") from None
    if not any(name in columns for name in ("train_loss", "val_loss", "train_acc", "val_acc")):
        raise MetricsError(f"{path}: training history has none of train_loss, val_loss, train_acc, val_acc")
    columns.setdefault("epoch", np.arange(1, len(rows) + 1, dtype=float))
    return columns


def _plot_series(ax, epochs: np.ndarray, values: np.ndarray, **style) -> None:
    # Blank cells are skipped, not drawn as gaps: validation may be logged every few epochs only.
    logged = ~np.isnan(values)
    if logged.any():
        ax.plot(epochs[logged], values[logged], marker="o", markersize=3, **style)


def _style_epoch_axis(ax, title: str) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_title(title)
    ax.grid(alpha=0.3)


def _plot_pair(ax, history: dict[str, np.ndarray], metric: str, label: str) -> None:
    for split, colour in (("train", "tab:blue"), ("val", "tab:orange")):  # same colours in every panel
        if f"{split}_{metric}" in history:
            _plot_series(ax, history["epoch"], history[f"{split}_{metric}"], color=colour, label=split)
    ax.set_ylabel(label)
    _style_epoch_axis(ax, label)


def plot_training_curves(history_csv: str | Path, path: str | Path) -> Path:
    """Loss, accuracy and (when logged) learning rate per epoch; the best validation loss is marked."""
    history = _read_history(history_csv)
    panels = [m for m in ("loss", "acc") if f"train_{m}" in history or f"val_{m}" in history]
    has_lr = "lr" in history and not np.all(np.isnan(history["lr"]))
    fig = _new_figure(4.6 * (len(panels) + has_lr), 3.8)
    axes = fig.subplots(1, len(panels) + has_lr, squeeze=False)[0]

    best_epoch = None
    val_loss = history.get("val_loss")
    if val_loss is not None and not np.all(np.isnan(val_loss)):
        best_epoch = history["epoch"][int(np.nanargmin(val_loss))]
    for ax, metric in zip(axes, panels):
        _plot_pair(ax, history, metric, "loss" if metric == "loss" else "accuracy")
        if best_epoch is not None:
            ax.axvline(best_epoch, color="0.5", linestyle=":", label=f"best val loss (epoch {best_epoch:g})")
        ax.legend(fontsize=8)
    if has_lr:
        ax = axes[-1]
        _plot_series(ax, history["epoch"], history["lr"], color="tab:green")
        if np.nanmin(history["lr"]) > 0:
            ax.set_yscale("log")
        _style_epoch_axis(ax, "learning rate")

    epochs = len(history["epoch"])
    title = f"Training: {epochs} epoch{'s' if epochs != 1 else ''}"
    if "seconds" in history and not np.all(np.isnan(history["seconds"])):
        title += f", {np.nansum(history['seconds']) / 60:.1f} min"
    fig.suptitle(title, fontsize=11)
    return _save_figure(fig, path)


# ----------------------------------------------------------------------------- tables


def _write_roc_csv(roc: dict[str, dict], path: Path) -> Path:
    def write(fh):
        writer = csvfiles.writer(fh)
        writer.writerow(["curve", "fpr", "tpr", "threshold"])
        for name, curve in roc.items():
            for fpr, tpr, threshold in zip(curve["fpr"], curve["tpr"], curve["thresholds"]):
                writer.writerow([name, repr(float(fpr)), repr(float(tpr)), repr(float(threshold))])

    return _write_atomically(path, write)


def _write_metrics_json(report: ClassificationReport, roc: dict[str, dict], path: Path, extra: dict) -> Path:
    data = {**report.to_dict(), **extra}
    data["roc_curve_auc"] = {name: float(curve["auc"]) for name, curve in roc.items()}
    # allow_nan=False: a NaN here would be a bug upstream; fail loudly rather than write invalid JSON.
    text = json.dumps(data, indent=2, allow_nan=False, ensure_ascii=False) + "\n"
    return _write_atomically(path, lambda fh: fh.write(text))


def _roc_title(report: ClassificationReport) -> str:
    if report.positive_class is not None and len(report.class_names) == 2:
        return f"ROC — positive class: {report.positive_class}"
    if report.positive_class is not None:
        return f"ROC, one vs rest — positive class: {report.positive_class}"
    if report.roc_auc is not None:
        return f"ROC, one vs rest — macro AUC {report.roc_auc:.3f}"
    return "ROC, one vs rest"


def write_evaluation_report(
    out_dir: str | Path,
    report: ClassificationReport,
    roc: dict[str, dict],
    predictions: list[dict] | None = None,
    history_csv: str | Path | None = None,
    extra: dict | None = None,
) -> dict[str, Path]:
    """Write every report file into ``out_dir`` (created if needed); returns ``{name: path}``.

    ``extra`` (such as the label mapping) is added to metrics.json.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {
        "metrics.json": _write_metrics_json(report, roc, out / "metrics.json", extra or {}),
        "roc.csv": _write_roc_csv(roc, out / "roc.csv"),
    }
    if predictions is not None:
        written["predictions.csv"] = csvfiles.write_dict_rows(out / "predictions.csv", predictions)
    written["confusion_matrix.png"] = plot_confusion_matrix(report, out / "confusion_matrix.png")
    written["roc.png"] = plot_roc(roc, out / "roc.png", title=_roc_title(report), note=report.roc_auc_note)
    if report.calibration is not None:
        written["calibration.png"] = plot_calibration(report.calibration, out / "calibration.png")
    if history_csv is not None:
        written["training_curves.png"] = plot_training_curves(history_csv, out / "training_curves.png")
    return written
