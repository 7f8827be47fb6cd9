"""What the user should see before training: classes, counts per split, imbalance, skipped files."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from camviewer.core.data.index import SPLITS, DatasetIndex

if TYPE_CHECKING:
    from camviewer.core.data.decode import DecodedSet


@dataclass
class DatasetSummary:
    """What the user should see before training: classes, counts per split, imbalance, skipped files."""

    source: str
    layout: str
    class_names: list[str]
    multi_label: bool
    counts: dict[str, dict[str, int]]  # split -> class -> images
    skipped: list[tuple[str, str]]
    in_memory: bool
    cache_megabytes: float
    imbalance: float | None  # largest / smallest training class count (None if a class has none)
    ignored_folders: list[str] = field(default_factory=list)
    balance: str = "none"  # how training handles class imbalance: "loss-weights" or "none"
    class_weights: dict[str, float] | None = None  # class -> loss weight (multi-label: positives' weight)

    def lines(self) -> list[str]:
        """A few lines of plain text for the terminal."""
        header = f"{self.source} ({self.layout}{', multi-label' if self.multi_label else ''}): {len(self.class_names)} classes"
        out = [header]
        width = max(len(name) for name in self.class_names)
        splits = [split for split in SPLITS if sum(self.counts.get(split, {}).values())]
        out.append(f"  {'class':<{width}}  " + "  ".join(f"{split:>6}" for split in splits))
        for name in self.class_names:
            out.append(f"  {name:<{width}}  " + "  ".join(f"{self.counts[split][name]:>6}" for split in splits))
        if self.imbalance is not None and self.imbalance >= 1.5:
            out.append(f"  class imbalance: the largest training class is {self.imbalance:.1f}x the smallest")
        elif self.imbalance is None:
            out.append("  warning: a class has no training images")
        if self.class_weights:
            kind = "positive-label weights" if self.multi_label else "class weights"
            weights = ", ".join(f"{name} {weight:.2f}" for name, weight in self.class_weights.items())
            out.append(f"  {kind} in the loss (balanced on the training split): {weights}")
        if self.ignored_folders:
            out.append(f"  folders without images, not classes: {', '.join(self.ignored_folders)}")
        where = f"in memory ({self.cache_megabytes:.0f} MB)" if self.in_memory else "streamed from disk"
        out.append(f"  images decoded and checked; training data {where}")
        if self.skipped:
            out.append(f"  skipped {len(self.skipped)} unreadable file(s):")
            out += [f"    {path}: {reason}" for path, reason in self.skipped[:10]]
            out += [f"    ... and {len(self.skipped) - 10} more"] if len(self.skipped) > 10 else []
        return out


def summarize(index: DatasetIndex, decoded: DecodedSet) -> DatasetSummary:
    usable = replace(index, samples=decoded.samples)
    counts = {split: usable.class_counts(split) for split in SPLITS}
    train_counts = list(counts["train"].values())
    imbalance = max(train_counts) / min(train_counts) if min(train_counts) > 0 else None
    megabytes = 0.0 if decoded.pixels is None else decoded.pixels.numel() / 2**20
    return DatasetSummary(
        str(index.source),
        index.layout,
        index.class_names,
        index.multi_label,
        counts,
        decoded.skipped,
        decoded.pixels is not None,
        megabytes,
        imbalance,
        index.ignored_folders,
    )
