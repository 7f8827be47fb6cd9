"""What the Evaluation dock runs in workers: `camviewer evaluate` and its report files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from camviewer.core.jobs import CancelToken

if TYPE_CHECKING:  # the engine is imported by the workers, when they run
    from camviewer.core.evaluation.run import EvaluationResult
    from camviewer.core.model.loaded import LoadedModel


def dataset_labels(data: str) -> list[str]:
    """The labels a dataset uses (folder names or a CSV's labels), read without decoding a pixel.

    Only the labels are read: a partition naming files outside its folder is asked about when it is evaluated.
    """
    from camviewer.core.data.index import scan_dataset

    return list(scan_dataset(data, allow_outside=True).class_names)


def evaluate_model(
    model: LoadedModel,
    data: str,
    split: str | None,
    positive_class: str | None,
    label_map: str,
    operating: str,
    allow_outside: bool,
    cancel: CancelToken,
) -> Iterator:
    """``camviewer evaluate``: the split comes from the data or the split.csv beside the checkpoint."""
    from camviewer.core.evaluation.run import evaluate

    job = evaluate(
        model,
        data,
        split,
        positive_class,
        cancel=cancel,
        label_map=label_map,
        operating=operating,
        allow_outside=allow_outside,
    )
    return (yield from job)


def write_evaluation_report(result: EvaluationResult, out_dir: str, checkpoint: str | None) -> dict[str, Path]:
    """The report files of ``camviewer evaluate --out``; training curves too when the run's history is there."""
    from camviewer.core.evaluation.run import write_report

    return write_report(result, out_dir, Path(checkpoint).parent / "history.csv" if checkpoint else None)


def write_html_report(
    result: EvaluationResult,
    model: LoadedModel,
    path: str,
    history_csv: Path | None,
    trust: tuple | None,
    cancel: CancelToken,
) -> Iterator:
    """``camviewer report`` of this evaluation: one HTML file; ``trust`` is the Trust dock's (report, request)."""
    from camviewer import __version__
    from camviewer.core.reporting import report_evaluation
    from camviewer.core.trust.dataset import faithfulness_record
    from camviewer.core.trust.scoring import localization_record

    localization = faithfulness = None
    if trust is not None:
        report, request = trust
        options = {"methods": request.methods, "threshold": request.threshold, "tolerance_px": request.tolerance}
        localization = localization_record(report["localization"], report["truth"], options)
        if report["faithfulness"] is not None:
            faithfulness = faithfulness_record(
                report["faithfulness"], {"methods": request.methods, "steps": request.steps}
            )
    job = report_evaluation(
        result, model, path, history_csv, localization, faithfulness, cancel=cancel, made_by=f"camviewer {__version__}"
    )
    return (yield from job)
