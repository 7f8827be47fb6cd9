"""What a report is made of, found in a training run folder or an evaluation folder.

A run folder (``camviewer train --out``) holds ``best.safetensors``, ``history.csv``, ``config.json``
and, with a test split, ``test/`` with its evaluation; an evaluation folder (``camviewer evaluate
--out``) holds ``metrics.json``, ``predictions.csv``, ``roc.csv`` and the figures. Localization and
faithfulness results (the ``summary.json`` of ``camviewer localize`` / ``faithfulness``) are found in
sub-folders, or named explicitly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from camviewer.core import csvfiles
from camviewer.core.errors import DatasetError

CHECKPOINT_NAMES = ("best.safetensors", "model.safetensors")
FIGURES = ("confusion_matrix", "roc", "calibration", "training_curves")
SEARCH_DEPTH = 2  # how deep below the folder localization/faithfulness results are looked for


@dataclass
class ReportInputs:
    folder: Path
    evaluation: Path | None = None  # the folder holding metrics.json
    metrics: dict | None = None
    predictions: list[dict] = field(default_factory=list)
    figures: dict[str, Path] = field(default_factory=dict)  # name (FIGURES) -> PNG
    history_csv: Path | None = None
    checkpoint: Path | None = None
    config: dict | None = None  # the training run's config.json
    localization: dict | None = None  # summary.json of `camviewer localize`
    localization_source: Path | None = None
    faithfulness: dict | None = None
    faithfulness_source: Path | None = None


def read_report_inputs(
    folder: str | Path,
    checkpoint: str | Path | None = None,
    localization: str | Path | None = None,
    faithfulness: str | Path | None = None,
) -> ReportInputs:
    """Everything a report can show about ``folder`` (a run or an evaluation folder)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: not a folder (expected a training run or an evaluation folder)")
    inputs = ReportInputs(folder)
    inputs.evaluation = next((f for f in (folder, folder / "test") if (f / "metrics.json").is_file()), None)
    if inputs.evaluation is not None:
        inputs.metrics = _json(inputs.evaluation / "metrics.json")
        inputs.predictions = _csv_rows(inputs.evaluation / "predictions.csv")
        inputs.figures = {
            name: inputs.evaluation / f"{name}.png" for name in FIGURES if (inputs.evaluation / f"{name}.png").is_file()
        }
    places = [folder] + ([inputs.evaluation.parent] if inputs.evaluation is not None else [])
    inputs.checkpoint = Path(checkpoint) if checkpoint else _find_checkpoint(places, inputs.metrics)
    if inputs.checkpoint is not None:  # the run that made the checkpoint: its history and configuration
        places.append(inputs.checkpoint.parent)
    inputs.history_csv = next((p / "history.csv" for p in places if (p / "history.csv").is_file()), None)
    config = next((p / "config.json" for p in places if (p / "config.json").is_file()), None)
    inputs.config = _json(config) if config else None
    for kind, given in (("localization", localization), ("faithfulness", faithfulness)):
        source = _summary_file(Path(given), kind) if given else _search(folder, kind)
        if source is not None:
            setattr(inputs, kind, _json(source))
            setattr(inputs, f"{kind}_source", source)
    if inputs.metrics is None and inputs.checkpoint is None:
        raise DatasetError(
            f"{folder}: neither an evaluation (metrics.json) nor a model checkpoint (best.safetensors) was found"
        )
    return inputs


def _find_checkpoint(places: list[Path], metrics: dict | None) -> Path | None:
    for place in places:
        for name in CHECKPOINT_NAMES:
            if (place / name).is_file():
                return place / name
    noted = ((metrics or {}).get("model") or {}).get("checkpoint")
    return Path(noted) if noted and Path(noted).is_file() else None


def _summary_file(path: Path, kind: str) -> Path:
    file = path / "summary.json" if path.is_dir() else path
    if not file.is_file():
        raise DatasetError(f"{path}: no {kind} summary.json there")
    if _json(file).get("kind") != kind:
        raise DatasetError(f"{file}: not the summary of a {kind} run")
    return file


def _search(folder: Path, kind: str) -> Path | None:
    """The newest summary.json of that kind up to SEARCH_DEPTH folders below ``folder``."""
    found = []
    for depth in range(SEARCH_DEPTH + 1):
        for file in folder.glob("/".join(["*"] * depth + ["summary.json"])):
            try:
                if _json(file).get("kind") == kind:
                    found.append(file)
            except DatasetError:
                continue
    return max(found, key=lambda file: file.stat().st_mtime, default=None)


def _json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise DatasetError(f"{path}: not readable JSON ({error})") from None
    if not isinstance(data, dict):
        raise DatasetError(f"{path}: expected a JSON object")
    return data


def _csv_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8", errors="surrogateescape") as handle:
        return csvfiles.dict_rows(handle)  # our own CSVs: cells neutralised on writing are restored
