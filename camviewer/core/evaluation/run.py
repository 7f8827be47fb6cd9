"""Evaluation as a generator: predict a dataset (or one of its splits) and report the metrics.

:func:`evaluate` resolves which images to use (``split`` from the data's own layout or CSV, else from
the ``split.csv`` of the run that produced the checkpoint), then :func:`evaluate_samples` decodes them
in a thread pool, predicts with :meth:`LoadedModel.predict` (the same preprocessing as training and
the viewer) in batches, and computes the numbers with :mod:`camviewer.core.evaluation.metrics`. With ``out_dir``
the report files are written by :mod:`camviewer.core.evaluation.report`: metrics.json, roc.csv, predictions.csv,
confusion_matrix.png, roc.png and, when a history.csv lies next to the checkpoint, training_curves.png.

The data's labels are matched to the model's classes first (:mod:`camviewer.core.evaluation.classes`,
with an optional label map): the mapping is the first thing the job yields, and a label that matches no
class stops it before any inference. The positive class of a two-class evaluation is explicit: the
``positive_class`` argument, else the card's; with neither, evaluation stops before any inference with an
error listing the class names. With more classes a positive class is optional (one vs rest).
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from camviewer.core import csvfiles
from camviewer.core.atomic import atomic_path
from camviewer.core.data.decode import ordered_map
from camviewer.core.data.index import LABEL_SEPARATOR, SPLIT_ALIASES, SPLITS, Sample, read_partition_csv, scan_dataset
from camviewer.core.data.labels import LabelMapping
from camviewer.core.distributed.shards import shard
from camviewer.core.distributed.world import World
from camviewer.core.errors import DatasetError, ImageError, MetricsError
from camviewer.core.evaluation import classes
from camviewer.core.evaluation.metrics import ClassificationReport, evaluate_predictions, multilabel_report, roc_points
from camviewer.core.evaluation.operating import OperatingRule
from camviewer.core.evaluation.report import plot_training_curves, write_evaluation_report
from camviewer.core.images import read_image
from camviewer.core.jobs import CancelToken, Progress
from camviewer.core.model.loaded import LoadedModel
from camviewer.core.model.loading import load_model

PREDICTED_THRESHOLD = 0.5  # a sigmoid label is predicted when its probability reaches this


@dataclass
class EvaluationResult:
    """Predictions and metrics of one evaluation; ``cell_paths`` maps a confusion-matrix cell to its images.

    ``class_names`` are the evaluated classes: the model's, or the groups of the label mapping.
    """

    class_names: list[str]
    positive_class: str | None
    paths: list[str]
    targets: np.ndarray  # class indices (single-label) or N x K multi-hot (multi-label)
    probabilities: np.ndarray  # N x K
    report: ClassificationReport | None  # single-label models
    multilabel: dict | None  # sigmoid models: metrics.multilabel_report
    roc: dict[str, dict]
    predictions: list[dict]  # rows of predictions.csv
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason) of unreadable files
    files: dict[str, Path] = field(default_factory=dict)  # report files written
    split_source: str | None = None  # where the split came from, when one was asked for
    mapping: LabelMapping | None = None  # data labels -> model classes
    model: dict | None = None  # the evaluated model: {"checkpoint": its file or None, "card": its card}

    @property
    def predicted(self) -> np.ndarray:
        """Predicted class index per image (argmax), for single-label models."""
        return self.probabilities.argmax(axis=1)

    def cell_paths(self, true_class: str | int, predicted_class: str | int) -> list[str]:
        """Images whose truth is ``true_class`` and prediction ``predicted_class`` (names or indices)."""
        if self.report is None:
            raise MetricsError("a multi-label evaluation has no confusion matrix")
        true_index, predicted_index = (self._index(c) for c in (true_class, predicted_class))
        chosen = (self.targets == true_index) & (self.predicted == predicted_index)
        return [path for path, keep in zip(self.paths, chosen) if keep]

    def cells(self) -> dict[tuple[str, str], list[str]]:
        """Every non-empty confusion-matrix cell: (true, predicted) class names -> image paths."""
        out: dict[tuple[str, str], list[str]] = {}
        for path, truth, guess in zip(self.paths, self.targets, self.predicted):
            out.setdefault((self.class_names[int(truth)], self.class_names[int(guess)]), []).append(path)
        return out

    def _index(self, name_or_index: str | int) -> int:
        return self.class_names.index(name_or_index) if isinstance(name_or_index, str) else int(name_or_index)


# ----------------------------------------------------------------------------- public API


def evaluate(
    model: LoadedModel | str | Path,
    data: str | Path,
    split: str | None = None,
    positive_class: str | None = None,
    out_dir: str | Path | None = None,
    batch_size: int = 32,
    device: str = "auto",
    cancel: CancelToken | None = None,
    label_map: str | dict | None = None,
    operating: OperatingRule | str | None = None,
    allow_outside: bool = False,
    world: World | None = None,
) -> Generator[Progress, None, EvaluationResult | None]:
    """Evaluate a model on a dataset folder or CSV; ``split`` is "train", "val", "test" or None (all).

    ``label_map`` (text or :func:`~camviewer.core.data.labels.parse_label_map`'s dict) maps data labels
    to model classes or groups of them; ``operating`` is the operating-point rule (default argmax).
    ``allow_outside``: a CSV partition may name images outside its folder (see camviewer.core.data.index).
    The first event's payload is the :class:`LabelMapping`, yielded before any image is decoded.
    With a ``world`` of several processes each predicts its share; rank 0 returns the result, the others None.
    """
    loaded = model if isinstance(model, LoadedModel) else load_model(model, device=device)
    rule = OperatingRule.parse(operating)
    samples, source = select_samples(data, split, loaded, allow_outside)
    mapping = classes.evaluation_mapping(samples, loaded.card, label_map)
    yield Progress(0, len(samples), "label mapping", mapping)
    positive = classes.resolve_positive_class(loaded.card, positive_class, mapping)
    history = _history_beside(loaded)
    result = yield from evaluate_samples(
        loaded, samples, positive, out_dir, batch_size, history, cancel, mapping=mapping, operating=rule, world=world
    )
    if result is not None:
        result.split_source = source
    return result


def select_samples(
    data: str | Path, split: str | None, model: LoadedModel, allow_outside: bool = False
) -> tuple[list[Sample], str | None]:
    """The images to evaluate and where their split came from (the data itself or a run's split.csv)."""
    index = scan_dataset(data, allow_outside, volumes=model.card.volume is not None)
    if split in (None, "all"):
        return index.samples, None
    split = SPLIT_ALIASES.get(split.lower(), split)
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; use train, val, test or all")
    if index.has_splits:
        return _non_empty(index.in_split(split), split, str(index.source)), str(index.source)
    split_file = _split_file(model)
    if split_file is None:
        raise DatasetError(
            f"{data} has no {split} split of its own and no split.csv was found next to the checkpoint "
            "or in its card's notes; give the split in a CSV (path,label,split) or a {train,val,test} layout"
        )
    samples = read_partition_csv(split_file, allow_outside=True).in_split(split)  # checked against the data below
    _check_inside(samples, Path(data), split_file)
    return _non_empty(samples, split, str(split_file)), str(split_file)


def evaluate_samples(
    model: LoadedModel,
    samples: Sequence[Sample],
    positive_class: str | None = None,
    out_dir: str | Path | None = None,
    batch_size: int = 32,
    history_csv: str | Path | None = None,
    cancel: CancelToken | None = None,
    mapping: LabelMapping | None = None,
    operating: OperatingRule | str | None = None,
    world: World | None = None,
) -> Generator[Progress, None, EvaluationResult | None]:
    """Predict ``samples`` in batches (Progress per batch), compute metrics, write the report if asked.

    Without ``mapping`` the samples' labels are matched to the model's classes by name (case and
    punctuation aside); ``positive_class`` names an evaluated class. With a ``world`` of several processes,
    each predicts its share of the samples and rank 0 computes and writes the whole; the others return None.
    """
    if mapping is None:
        mapping = classes.evaluation_mapping(samples, model.card)
    multi_label = model.card.head == "sigmoid"
    if multi_label:
        targets_all = classes.multilabel_targets(samples, mapping)
    else:
        targets_all = classes.class_targets(samples, mapping)
    shares = yield from _predict_share(model, samples, batch_size, cancel, world or World())
    if shares is None:
        return None
    kept, model_probs, skipped = shares
    if not kept:
        raise DatasetError(f"none of the {len(samples)} images could be decoded")
    probs = model_probs if multi_label else classes.group_probabilities(model_probs, mapping)
    names = list(mapping.model_classes) if multi_label else classes.class_names(mapping)
    kept_samples = [samples[row] for row in kept]
    result = _metrics(names, positive_class, kept_samples, targets_all[kept], probs, multi_label, operating)
    result.skipped, result.mapping = skipped, mapping
    checkpoint = str(Path(model.source).resolve()) if model.source else None
    result.model = {"checkpoint": checkpoint, "card": model.card.to_dict()}
    if not mapping.is_identity:
        _add_mapping_columns(result.predictions, kept_samples, model_probs, mapping)
    if out_dir is not None:
        result.files = write_report(result, out_dir, history_csv)
    return result


def _predict_share(model: LoadedModel, samples: Sequence[Sample], batch_size: int, cancel, world: World):
    """This process's share predicted (Progress per batch); on rank 0 every share, in sample order, as (rows kept,
    probabilities, (path, reason) of the skipped); None on the other ranks."""
    rows = shard(samples, world)
    kept, probabilities, skipped = [], [], []
    for batch in _decoded_batches([samples[row] for row in rows], batch_size, model):
        if cancel is not None:
            cancel.raise_if_cancelled()
        good = [(rows[i], image) for i, image in batch if not isinstance(image, str)]
        skipped += [(rows[i], reason) for i, reason in batch if isinstance(reason, str)]
        if good:
            probabilities.append(_predict(model, [image for _, image in good]))
            kept += [row for row, _ in good]
        yield Progress(len(kept) + len(skipped), len(rows), f"predicted {len(kept)} images")
    width = len(model.card.class_names)
    shares = world.gather((kept, np.concatenate(probabilities) if probabilities else np.zeros((0, width)), skipped))
    if shares is None:
        return None
    kept = np.concatenate([np.asarray(share[0], dtype=np.int64) for share in shares])
    order = np.argsort(kept)
    model_probs = np.concatenate([share[1] for share in shares])[order]
    skipped = sorted(item for share in shares for item in share[2])
    return kept[order].tolist(), model_probs, [(str(samples[row].path), reason) for row, reason in skipped]


def summary_metrics(result: EvaluationResult) -> dict[str, Any]:
    """The headline numbers, for a model card's notes or a terminal line."""
    if result.report is None:
        return {"n": result.multilabel["n"], "macro_auc": result.multilabel["macro_auc"]}
    report = result.report
    keys = (
        "n",
        "accuracy",
        "balanced_accuracy",
        "sensitivity",
        "specificity",
        "roc_auc",
        "cohen_kappa",
        "positive_class",
    )
    return {key: getattr(report, key) for key in keys}


def write_report(
    result: EvaluationResult, out_dir: str | Path, history_csv: str | Path | None = None
) -> dict[str, Path]:
    """The report files for a finished evaluation (see the module docstring)."""
    history = history_csv if history_csv is not None and Path(history_csv).is_file() else None
    extra = {"label_mapping": result.mapping.to_dict()} if result.mapping is not None else {}
    if result.model is not None:  # which model was evaluated: a report finds its card and checkpoint here
        extra["model"] = result.model
    if result.report is not None:
        return write_evaluation_report(out_dir, result.report, result.roc, result.predictions, history, extra)
    out = Path(out_dir)  # multi-label: per-label metrics, predictions and curves; no confusion matrix
    out.mkdir(parents=True, exist_ok=True)
    files = {"metrics.json": _write_json({**result.multilabel, **extra}, out / "metrics.json")}
    files["predictions.csv"] = csvfiles.write_dict_rows(out / "predictions.csv", result.predictions)
    if history is not None:
        files["training_curves.png"] = plot_training_curves(history, out / "training_curves.png")
    return files


# ----------------------------------------------------------------------------- helpers


def _decoded_batches(samples: Sequence[Sample], batch_size: int, model: LoadedModel) -> Iterator[list]:
    """Batches of (row, DecodedImage or failure reason), decoded in threads at most two batches ahead.

    A volume model's volumes are brought to its input in the decoding thread (a C x D x H x W tensor): a batch
    never holds whole volumes.
    """
    from camviewer.core.preprocess_volume import to_unit_volume
    from camviewer.core.volumes import read_volume

    def decode(row: int):
        try:
            if model.card.volume is not None:
                return row, to_unit_volume(read_volume(samples[row].path), model.card)
            return row, read_image(samples[row].path)
        except ImageError as error:  # VolumeError is one too
            return row, error.reason

    with closing(ordered_map(decode, range(len(samples)), threads=4, ahead=2 * batch_size)) as decoded:
        while batch := list(islice(decoded, batch_size)):
            yield batch


def _predict(model: LoadedModel, decoded: list) -> np.ndarray:
    """Probabilities of decoded images, or of volumes already on the model's grid (unit tensors)."""
    if model.card.volume is None:
        return model.predict(decoded)
    import torch

    from camviewer.core.preprocess import normalize

    return model.predict_tensor(normalize(torch.stack(decoded), model.card))


def _metrics(names, positive, samples, targets, probs, multi_label: bool, operating) -> EvaluationResult:
    if multi_label:
        report, multi, roc = None, multilabel_report(targets, probs, names, PREDICTED_THRESHOLD), {}
    else:
        report = evaluate_predictions(targets, probs, names, positive, operating)
        multi, roc = None, roc_points(targets, probs, names, positive)
    paths = [str(sample.path) for sample in samples]
    rows = [_prediction_row(path, truth, p, names, multi_label) for path, truth, p in zip(paths, targets, probs)]
    return EvaluationResult(list(names), positive, paths, targets, probs, report, multi, roc, rows)


def _add_mapping_columns(rows: list[dict], samples, model_probs: np.ndarray, mapping: LabelMapping) -> None:
    """The data's own label(s) beside the evaluated class; the model's own call when classes were grouped."""
    for row, sample, probs in zip(rows, samples, model_probs):
        extra = {"label": LABEL_SEPARATOR.join(sample.labels)}
        if mapping.grouped:
            extra["model_predicted"] = mapping.model_classes[int(np.argmax(probs))]
        rest = {key: value for key, value in row.items() if key != "path"}
        row.clear()
        row.update({"path": str(sample.path), **extra, **rest})  # after path, before true


def _prediction_row(path: str, truth, probs: np.ndarray, names: list[str], multi_label: bool) -> dict:
    if multi_label:
        true = LABEL_SEPARATOR.join(n for n, t in zip(names, truth) if t)
        predicted = LABEL_SEPARATOR.join(n for n, p in zip(names, probs) if p >= PREDICTED_THRESHOLD)
    else:
        true, predicted = names[int(truth)], names[int(np.argmax(probs))]
    return {"path": path, "true": true, "predicted": predicted, **{f"p_{n}": float(p) for n, p in zip(names, probs)}}


def _history_beside(model: LoadedModel) -> Path | None:
    if not model.source:
        return None
    history = Path(model.source).parent / "history.csv"
    return history if history.is_file() else None


def _split_file(model: LoadedModel) -> Path | None:
    """split.csv next to the checkpoint, else the one its card's notes name."""
    candidates = []
    if model.source:
        candidates.append(Path(model.source).parent / "split.csv")
    noted = (model.card.notes.get("training") or {}).get("split_file") if isinstance(model.card.notes, dict) else None
    if noted:
        candidates.append(Path(noted))
    return next((path for path in candidates if path.is_file()), None)


def _check_inside(samples: list[Sample], data: Path, split_file: Path) -> None:
    """A split file must describe the data being evaluated, not another dataset."""
    if data.is_file():
        data = data.parent
    root = data.resolve()
    if samples and not any(Path(s.path).resolve().is_relative_to(root) for s in samples):
        raise DatasetError(f"{split_file} lists images outside {data}: it belongs to another dataset")


def _non_empty(samples: list[Sample], split: str, where: str) -> list[Sample]:
    if not samples:
        raise DatasetError(f"{where}: the {split} split is empty")
    return samples


def _write_json(data: dict, path: Path) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return path
