"""What a training set holds: its layout, classes and images per split, and later the files training skipped.

Filled twice: from a quick scan when the folder is chosen (no pixel decoded, so splits that training
will carve out are not known yet), then from the engine's DatasetSummary once training has decoded and
split every image (unreadable files are listed then).
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

SPLIT_TITLES = {"all": "images", "train": "train", "val": "validation", "test": "test"}
ROW_HEIGHT = 22


class DatasetPreview(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("datasetPreview")
        self.summary = QLabel(
            "<i>Choose a folder with one sub-folder per class, {train,val,test}/&lt;class&gt; "
            "folders, or a CSV (path,label[,split]).</i>",
            wordWrap=True,
        )
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setVisible(False)
        self.skipped = QLabel(wordWrap=True, visible=False)
        self.skipped.setStyleSheet("color: #a15c00")
        self.skipped.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.table)
        layout.addWidget(self.skipped)

    def show_message(self, text: str, error: bool = False) -> None:
        colour = "#b00020" if error else "#555555"
        self.summary.setText(f"<span style='color:{colour}'>{html.escape(text)}</span>")
        self.table.setVisible(False)
        self.skipped.setVisible(False)

    def show_preview(self, preview, val_split: float, test_split: float) -> None:
        """A ``tasks.DatasetPreview`` (before training decoded anything)."""
        parts = [f"<b>{len(preview.class_names)} classes</b>", f"{preview.total:,} images", preview.layout]
        if preview.multi_label:
            parts.append("multi-label")
        if preview.positive_class:
            parts.append(f"positive class <b>{html.escape(preview.positive_class)}</b> (synth.json)")
        text = " · ".join(parts)
        if "all" in preview.counts:
            text += (
                f"<br><span style='color:#555'>No split given: training holds out {val_split:.0%} for "
                f"validation{f' and {test_split:.0%} for test' if test_split else ''} (stratified, seeded).</span>"
            )
        else:
            text += "<br><span style='color:#555'>Splits from the data's own layout.</span>"
        if preview.ignored_folders:
            text += f"<br><span style='color:#a15c00'>Not classes (no images): {html.escape(', '.join(preview.ignored_folders))}</span>"
        self.summary.setText(text)
        self._fill(preview.class_names, preview.counts)
        self.skipped.setVisible(False)

    def show_summary(self, summary) -> None:
        """The engine's ``DatasetSummary``: the real split and what could not be decoded."""
        splits = {split: counts for split, counts in summary.counts.items() if sum(counts.values())}
        imbalance = (
            "" if summary.imbalance is None or summary.imbalance < 1.5 else f" · imbalance {summary.imbalance:.1f}×"
        )
        where = f"in memory ({summary.cache_megabytes:.0f} MB)" if summary.in_memory else "streamed from disk"
        total = sum(sum(counts.values()) for counts in splits.values())
        balance = ""
        if summary.class_weights:
            weights = ", ".join(f"{html.escape(name)} {weight:.2f}" for name, weight in summary.class_weights.items())
            balance = f"<br><span style='color:#555'>Loss weights (balanced on the training split): {weights}</span>"
        self.summary.setText(
            f"<b>{len(summary.class_names)} classes</b> · {total:,} readable images · "
            f"{summary.layout} · {where}{imbalance}{balance}"
        )
        self._fill(summary.class_names, splits)
        if summary.skipped:
            lines = [f"{path}: {reason}" for path, reason in summary.skipped[:8]]
            more = len(summary.skipped) - len(lines)
            self.skipped.setText(
                f"Skipped {len(summary.skipped)} unreadable file(s):\n"
                + "\n".join(lines)
                + (f"\n… and {more} more (skipped.csv in the run folder)" if more > 0 else "")
            )
        self.skipped.setVisible(bool(summary.skipped))

    def counts(self) -> dict[str, dict[str, int]]:
        """What the table shows: column title -> class -> images."""
        out = {}
        for column in range(self.table.columnCount()):
            title = self.table.horizontalHeaderItem(column).text()
            out[title] = {
                self.table.verticalHeaderItem(row).text(): int(self.table.item(row, column).text().replace(",", ""))
                for row in range(self.table.rowCount())
            }
        return out

    def _fill(self, class_names: list[str], counts: dict[str, dict[str, int]]) -> None:
        columns = list(counts)
        self.table.clear()
        self.table.setRowCount(len(class_names))
        self.table.setColumnCount(len(columns))
        self.table.setHorizontalHeaderLabels([SPLIT_TITLES.get(split, split) for split in columns])
        self.table.setVerticalHeaderLabels(class_names)
        for row, name in enumerate(class_names):
            for column, split in enumerate(columns):
                item = QTableWidgetItem(f"{counts[split].get(name, 0):,}")
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, item)
        shown = min(len(class_names), 6)
        self.table.setFixedHeight(self.table.horizontalHeader().sizeHint().height() + ROW_HEIGHT * shown + 6)
        self.table.setVisible(True)
