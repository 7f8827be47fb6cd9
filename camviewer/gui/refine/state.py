"""What the refinement wizard has done so far, shared by its pages (plain values, no Qt).

Every artefact a step leaves on disk is recorded here, finished or not, so that leaving the wizard
(Cancel, Back during a job, closing the window) can always say what is where.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from camviewer.gui.refine.tasks import Measurement


@dataclass
class RefineState:
    checkpoint: str  # the model being refined (the viewer's at the start)
    class_names: list[str]
    card_positive: str | None
    methods: tuple[str, ...]
    # step 1: the measurement set (held out, with ground truth), measured before
    measure_data: str = ""
    masks: str = ""
    roi: str = ""
    method: str = "gradcam"
    positive_class: str | None = None
    before: Measurement | None = None
    # step 2: the enhanced training set
    train_data: str = ""
    built: str | None = None  # a complete enhanced set (it has refine.json)
    built_mode: str = ""
    partial_sets: list[str] = field(default_factory=list)  # cancelled builds: incomplete, never used
    # step 3: fine-tuning
    run_dir: str | None = None
    finetuned: str | None = None  # best checkpoint of the fine-tuning run
    finetuned_on: str | None = None  # the enhanced set it was fine-tuned on (a rebuilt set needs a new run)
    stop_reason: str | None = None
    # step 4: the same measurement with the fine-tuned model
    after: Measurement | None = None

    def leftovers(self) -> list[str]:
        """One line per thing left on disk, for the log when the wizard closes."""
        lines = []
        if self.built:
            lines.append(f"enhanced training set ({self.built_mode}): {self.built}")
        lines += [
            f"incomplete enhanced set (cancelled, not used; delete it or keep it): {path}" for path in self.partial_sets
        ]
        if self.run_dir:
            if self.finetuned:
                state = "" if self.stop_reason in (None, "completed", "early-stopping") else f" ({self.stop_reason})"
                lines.append(f"fine-tuning run{state}: {self.run_dir}, best checkpoint {Path(self.finetuned).name}")
            else:
                lines.append(f"fine-tuning run without a checkpoint (cancelled early): {self.run_dir}")
        return lines


def comparison_rows(
    before: Measurement | None, after: Measurement | None
) -> list[tuple[str, float | None, float | None, bool]]:
    """(measure, before, after, is a share) for the before/after table; either measurement may be None."""
    reference = before or after
    if reference is None:
        return []
    positive = reference.metrics.get("positive_class")
    named = f" — positive class: {positive}" if positive else ""

    def metric(m: Measurement | None, key: str) -> float | None:
        return None if m is None else m.metrics.get(key)

    def localization(m: Measurement | None, key: str) -> float | None:
        return None if m is None else m.localization.get(key)

    rows = [("Accuracy", metric(before, "accuracy"), metric(after, "accuracy"), False)]
    if positive:
        rows += [
            (f"Sensitivity{named}", metric(before, "sensitivity"), metric(after, "sensitivity"), False),
            (f"Specificity{named}", metric(before, "specificity"), metric(after, "specificity"), False),
        ]
    rows += [
        ("ROC AUC", metric(before, "roc_auc"), metric(after, "roc_auc"), False),
        (
            f"Pointing game ({reference.method})",
            localization(before, "pointing_game"),
            localization(after, "pointing_game"),
            False,
        ),
        ("IoU of the map (threshold 0.2)", localization(before, "iou"), localization(after, "iou"), False),
        (
            "Energy inside the lesion",
            localization(before, "energy_in_region"),
            localization(after, "energy_in_region"),
            True,
        ),
    ]
    if reference.localization.get("energy_in_roi") is not None:
        rows.append(
            ("Energy inside the ROI", localization(before, "energy_in_roi"), localization(after, "energy_in_roi"), True)
        )
    return rows
