"""One self-contained HTML report of a study: model card, data and label mapping, metrics with intervals,
ROC and calibration, the confusion matrix with example maps per cell, training curves, localization and
faithfulness. Images are embedded as data: URIs and the page loads nothing from anywhere else, so the
file can be mailed, archived and opened in any browser.

    read_report_inputs(folder) --> ReportInputs --build_report (generator: example maps)--> HTML text
"""

from __future__ import annotations

import tempfile
from collections.abc import Generator
from datetime import datetime
from pathlib import Path

from camviewer.core.atomic import atomic_path
from camviewer.core.jobs import CancelToken, Progress
from camviewer.core.reporting import sections
from camviewer.core.reporting.gallery import confusion_cells, render_examples
from camviewer.core.reporting.html import page
from camviewer.core.reporting.inputs import ReportInputs, read_report_inputs

__all__ = ["ReportInputs", "build_report", "read_report_inputs", "report_evaluation", "write_html"]


def build_report(
    inputs: ReportInputs,
    model=None,
    method: str = "gradcam",
    per_cell: int = 4,
    cancel: CancelToken | None = None,
    made_by: str = "camviewer",
) -> Generator[Progress, None, str]:
    """The report's HTML; yields Progress while the example maps are computed (``model`` needed for them).

    ``made_by`` names the program and its version in the subtitle (core does not know the version)."""
    metrics = inputs.metrics or {}
    cells, reason = None, None
    if per_cell <= 0:
        reason = "Example images were not asked for."
    elif model is None:
        reason = "No model was found, so no example maps: name the checkpoint to add them."
    elif not inputs.predictions:
        reason = "No predictions.csv was found, so no example images."
    elif "per_label" in metrics:
        reason = "A multi-label model has no confusion matrix, so no examples per cell."
    else:
        cells = confusion_cells(inputs.predictions, metrics.get("positive_class"), per_cell)
        yield from render_examples(model, cells, method, cancel)
    card = model.card.to_dict() if model is not None else (metrics.get("model") or {}).get("card")
    with tempfile.TemporaryDirectory(prefix="camviewer-report-") as scratch:
        curves = inputs.figures.get("training_curves") or _plot_history(inputs.history_csv, Path(scratch))
        parts = [
            ("model", "Model", sections.model_section(card, _checkpoint_text(inputs))),
            ("data", "Data and labels", sections.data_section(inputs)),
            ("metrics", "Metrics", sections.metrics_section(inputs.metrics)),
            ("curves", "Confusion matrix, ROC and calibration", sections.figures_section(inputs)),
            ("examples", "Examples per cell", sections.gallery_section(cells, method, reason)),
            ("training", "Training", sections.training_section(inputs, curves)),
            (
                "localization",
                "Localization",
                sections.localization_section(inputs.localization, inputs.localization_source),
            ),
            (
                "faithfulness",
                "Faithfulness",
                sections.faithfulness_section(inputs.faithfulness, inputs.faithfulness_source),
            ),
        ]
    name = Path(inputs.checkpoint).name if inputs.checkpoint else inputs.folder.name
    subtitle = [f"{card['arch']} · {', '.join(card['class_names'])}" if card else None]
    if metrics.get("n"):
        subtitle.append(f"evaluated on {metrics['n']:,} images")
    subtitle.append(f"written {datetime.now().astimezone():%Y-%m-%d %H:%M %Z} by {made_by}")
    glance = sections.glance(inputs.metrics, inputs.localization)
    return page(f"camviewer report: {name}", " · ".join(p for p in subtitle if p), [p for p in parts if p[2]], glance)


def report_evaluation(
    result,
    model,
    out: str | Path,
    history_csv: str | Path | None = None,
    localization: dict | None = None,
    faithfulness: dict | None = None,
    per_cell: int = 4,
    cancel: CancelToken | None = None,
    made_by: str = "camviewer",
) -> Generator[Progress, None, Path]:
    """The report of an evaluation held in memory (the GUI's): its files are written to a scratch folder
    and read back as ``camviewer report`` reads them, so both give the same document.

    ``localization`` / ``faithfulness``: the records of those runs (``summary.json``), when there are any.
    """
    from camviewer.core.evaluation.run import write_report

    with tempfile.TemporaryDirectory(prefix="camviewer-report-") as scratch:
        write_report(result, scratch)
        inputs = read_report_inputs(scratch, checkpoint=model.source if model is not None else None)
        history = Path(history_csv) if history_csv is not None and Path(history_csv).is_file() else None
        inputs.history_csv, inputs.localization, inputs.faithfulness = history, localization, faithfulness
        inputs.evaluation = None  # a scratch folder: nothing for the reader to open
        text = yield from build_report(inputs, model, per_cell=per_cell, cancel=cancel, made_by=made_by)
    return write_html(text, out)


def _checkpoint_text(inputs: ReportInputs) -> str | None:
    if inputs.checkpoint is not None:
        return str(inputs.checkpoint)
    recorded = ((inputs.metrics or {}).get("model") or {}).get("checkpoint")
    return f"{recorded} (not found now)" if recorded else None


def _plot_history(history_csv: Path | None, scratch: Path) -> Path | None:
    if history_csv is None:
        return None
    from camviewer.core.errors import MetricsError
    from camviewer.core.evaluation.report import plot_training_curves

    try:
        return plot_training_curves(history_csv, scratch / "training_curves.png")
    except MetricsError:
        return None


def write_html(text: str, path: str | Path) -> Path:
    """Write the report atomically (a reader never sees half a file)."""
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
