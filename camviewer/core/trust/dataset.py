"""Dataset-level trust reports: the images of a dataset, and faithfulness with the sanity check over them.

Generators yielding Progress (the GUI's trust panel and the CLI drive the same code) and returning a
summary per method, so a user can pick the method that is right for their model. Localization over a
dataset is in ``scoring``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from camviewer.core.cam.display import upsample_map
from camviewer.core.distributed.shards import shard
from camviewer.core.distributed.world import World
from camviewer.core.errors import DatasetError, NoApplicableMethod
from camviewer.core.jobs import CancelToken, Progress, run_to_end
from camviewer.core.model.loaded import LoadedModel
from camviewer.core.trust.groundtruth import relative_key


@dataclass
class ImageEntry:
    path: Path
    key: str  # path relative to the dataset root: how ground truth is matched
    label: str | None  # class from the dataset layout, if any


def dataset_images(data: str | Path, allow_outside: bool = False, volumes: bool = False) -> list[ImageEntry]:
    """Images (or ``volumes``) of a dataset (class folders, split folders, CSV) or, failing that, of any folder.

    ``allow_outside``: a CSV partition may name images outside its folder (see camviewer.core.data.index).
    """
    from camviewer.core.data.index import scan_dataset
    from camviewer.core.images import list_images
    from camviewer.core.volumes import list_volumes

    data = Path(data)
    try:
        index = scan_dataset(data, allow_outside, volumes=volumes)
        return _entries(index.samples, data)
    except DatasetError:
        if not data.is_dir():
            raise
        found = [v.path for v in list_volumes(data)] if volumes else list_images(data, recursive=True)
        return [ImageEntry(p, relative_key(p, data), None) for p in dict.fromkeys(found)]


def split_images(data: str | Path, split: str, model: LoadedModel, allow_outside: bool = False) -> list[ImageEntry]:
    """The images of one split: the dataset's own, else the split.csv of the run that trained ``model``."""
    from camviewer.core.evaluation.run import select_samples

    samples, _ = select_samples(data, split, model, allow_outside)
    return _entries(samples, Path(data))


def _entries(samples, data: Path) -> list[ImageEntry]:
    root = data.parent if data.is_file() else data
    return [
        ImageEntry(s.path, relative_key(s.path, root), s.labels[0] if len(s.labels) == 1 else None) for s in samples
    ]


# --- faithfulness and sanity over a dataset -----------------------------------------------------


def faithfulness_dataset(
    model: LoadedModel,
    paths: Sequence[Path],
    methods: Sequence[str] = ("gradcam",),
    steps: int = 20,
    batch_size: int = 8,
    sanity_images: int = 8,
    cancel: CancelToken | None = None,
    world: World | None = None,
) -> Iterator[Progress]:
    """Deletion/insertion AUC, average drop and increase per method; then the sanity check.

    Methods that cannot explain this model are skipped with their reason. Yields Progress per image
    (then per sanity stage); returns {"rows", "summary", "failed", "skipped_methods"}, the rows per image in
    input order. With a ``world`` of several processes each scores its share of the images; rank 0 gathers
    them, runs the sanity check (on the first images, as one process would) and returns the whole; the others
    return None.
    """
    from camviewer.core.cam.engine import compute_cams, inapplicable_methods
    from camviewer.core.images import as_decoded
    from camviewer.core.trust.faithfulness import faithfulness
    from camviewer.core.trust.sanity import sanity_check

    skipped = inapplicable_methods(model, methods)
    methods = [method for method in methods if method not in skipped]
    if not methods:
        raise NoApplicableMethod(skipped)
    world = world or World()
    rows, failed = [], []  # (image index, method index, row), (image index, (path, reason))
    size = model.card.input_size
    mine = shard(paths, world)
    total = len(mine) + len(methods)
    for start in range(0, len(mine), batch_size):
        chunk, images = [], []
        for index in mine[start : start + batch_size]:
            try:
                images.append(as_decoded(paths[index]))
                chunk.append(index)
            except Exception as error:  # an unreadable image is reported, not fatal
                failed.append((index, (str(paths[index]), str(error))))
        if not images:
            continue
        batch = model.to_batch(images)
        out = compute_cams(model, batch, methods, target="pred", cancel=cancel)
        classes = [t[0] for t in out.targets]
        for number, method in enumerate(methods):
            maps = np.stack([upsample_map(raw[method][c], size) for raw, c in zip(out.raw, classes)])
            scores = faithfulness(model, batch, maps, classes, steps=steps, cancel=cancel)
            for j, index in enumerate(chunk):
                row = {
                    "path": str(paths[index]),
                    "method": method,
                    "class_name": model.card.class_names[classes[j]],
                    "deletion_auc": float(scores.deletion_auc[j]),
                    "insertion_auc": float(scores.insertion_auc[j]),
                    "average_drop": float(scores.drop[j]),
                    "increase": bool(scores.increase[j]),
                }
                rows.append((index, number, row))
        yield Progress(min(start + batch_size, len(mine)), total, str(paths[chunk[-1]]))
    shares = world.gather((rows, failed))
    if shares is None:
        return None
    rows = [row for *_, row in sorted((item for share in shares for item in share[0]), key=lambda item: item[:2])]
    failed = [failure for _, failure in sorted(item for share in shares for item in share[1])]
    summary = {m: defaultdict(list) for m in methods}
    for row in rows:
        for key in ("deletion_auc", "insertion_auc", "average_drop", "increase"):
            summary[row["method"]][key].append(float(row[key]))
    means = {m: {key: float(np.mean(values)) for key, values in table.items()} for m, table in summary.items()}
    decoded = _first_decoded(paths, sanity_images)
    if decoded:
        batch = model.to_batch(decoded)
        for done, method in enumerate(methods, start=len(mine) + 1):
            report = run_to_end(sanity_check(model, batch, method, cancel=cancel))
            means[method]["sanity"] = {
                "passed": report.passed,
                "stages": [asdict(stage) for stage in report.stages],
            }
            yield Progress(done, total, f"sanity check of {method}: {'passed' if report.passed else 'FAILED'}")
    return {"rows": rows, "summary": means, "failed": failed, "skipped_methods": skipped}


def _first_decoded(paths: Sequence[Path], count: int) -> list:
    """The first ``count`` images that decode (the sanity check's images)."""
    from camviewer.core.images import as_decoded

    decoded = []
    for path in paths:
        if len(decoded) == count:
            break
        try:
            decoded.append(as_decoded(path))
        except Exception:  # reported with the scores
            continue
    return decoded


def faithfulness_record(result: dict, options: dict) -> dict:
    """What ``summary.json`` holds (and a report shows): the means per method, skipped methods, the options."""
    record = {"kind": "faithfulness", "summary": result["summary"], "skipped_methods": result["skipped_methods"]}
    return {**record, "failed": result["failed"], **options}


def format_table(summary: dict[str, dict], columns: Sequence[str]) -> str:
    """A plain-text table, one row per method (for the CLI)."""
    header = ["method", *columns]
    lines = [header]
    for method, entry in summary.items():
        cells = [method]
        for column in columns:
            value = entry.get(column)
            cells.append(
                "-"
                if value is None or (isinstance(value, float) and math.isnan(value))
                else f"{value:.3f}"
                if isinstance(value, float)
                else str(value)
            )
        lines.append(cells)
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) for row in lines)
