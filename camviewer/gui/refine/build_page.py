"""The wizard's building page: the enhanced copy of the training set (cam-overlay, roi-mask or crop)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QLabel,
    QRadioButton,
    QVBoxLayout,
)

from camviewer.core.trust.refine import DEFAULT_FLOOR, overlay_advice
from camviewer.gui.common.files import unused_folder
from camviewer.gui.common.log_panel import LogPanel
from camviewer.gui.common.path_field import PathField
from camviewer.gui.jobs.registry import WorkerRegistry
from camviewer.gui.refine import tasks
from camviewer.gui.refine.job_page import JobPage
from camviewer.gui.refine.state import RefineState


class BuildPage(JobPage):
    """Step 2: the enhanced copy of the training set (the original is never touched)."""

    MODES: ClassVar[dict[str, str]] = {
        "cam-overlay": "Add a copy of each image whose map lies in the region of interest, what the map marks kept "
        "and the rest faded; the originals stay (uses the ROI masks below to judge the maps)",
        "roi-mask": "Keep only the region of interest (nothing outside it, e.g. a marker, can be learned)",
        "crop": "Cut a border margin, at training and inference (stored in the model card)",
    }

    def __init__(self, state: RefineState, registry: WorkerRegistry, log: LogPanel, model, default_train: str) -> None:
        super().__init__(
            state,
            registry,
            log,
            "2. Build the enhanced training set",
            "A new folder is written; the original images are never modified.",
            "Build",
        )
        self.model = model
        self.data = PathField("Choose the training set", placeholder="the training set (class sub-folders)")
        self.mode_group = QButtonGroup(self)
        self.floor = QDoubleSpinBox(minimum=0.0, maximum=1.0, singleStep=0.05, value=DEFAULT_FLOOR)
        self.floor.setToolTip("Weight where the map is 0")
        self.roi = PathField("Choose ROI masks", placeholder="roi/ mirroring the training set")
        self.border = QDoubleSpinBox(minimum=0.01, maximum=0.45, singleStep=0.01, value=0.1)
        self.border.setToolTip("Fraction cut from each side")
        self.out = PathField("Choose a new folder for the enhanced set", placeholder="a new, empty folder")
        self.out.chosen.connect(lambda _path: setattr(self, "_auto_out", False))  # typed or browsed
        grid = QGridLayout()
        extras = {
            "cam-overlay": ("floor", self.floor),
            "roi-mask": ("ROI masks", self.roi),
            "crop": ("border", self.border),
        }
        for row, (mode, text) in enumerate(self.MODES.items()):
            button = QRadioButton(mode, checked=row == 0)
            button.setToolTip(text)
            button.setProperty("mode", mode)
            self.mode_group.addButton(button, row)
            grid.addWidget(button, 2 * row, 0)
            grid.addWidget(QLabel(extras[mode][0]), 2 * row, 1, alignment=Qt.AlignmentFlag.AlignRight)
            grid.addWidget(extras[mode][1], 2 * row, 2)
            note = QLabel(text, wordWrap=True)
            note.setStyleSheet("color: #555")
            grid.addWidget(note, 2 * row + 1, 0, 1, 3)
        grid.setColumnStretch(2, 1)
        self.mode_group.idToggled.connect(lambda *_: self._propose_out())
        self.data.chosen.connect(self._data_chosen)
        form = QFormLayout()
        form.addRow("Training set", self.data)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(grid)
        out_form = QFormLayout()
        out_form.addRow("Enhanced set", self.out)
        layout.addLayout(out_form)
        layout.addWidget(self.controls)
        layout.addStretch(1)
        self._auto_out = True
        if default_train:
            self.data.set_path(default_train)

    def mode(self) -> str:
        return self.mode_group.checkedButton().property("mode")

    def set_mode(self, mode: str) -> None:
        for button in self.mode_group.buttons():
            button.setChecked(button.property("mode") == mode)

    def _data_chosen(self, data: str) -> None:
        if data and (Path(data) / "roi").is_dir():
            self.roi.setText(str(Path(data) / "roi"))
        self._propose_out()

    def _propose_out(self) -> None:
        if self._auto_out and self.data.text():
            data = Path(self.data.text())
            self.out.setText(str(unused_folder(data.parent, f"{data.name}-{self.mode()}")))

    def has_result(self) -> bool:
        return self.state.built is not None

    def run(self) -> None:
        data, out, mode = self.data.text(), self.out.text(), self.mode()
        if not data or not out:
            return self.show_status("Choose the training set and a new folder for the enhanced set.", error=True)
        if mode != "crop" and not self.roi.text():
            return self.show_status(f"{mode} needs the ROI masks folder.", error=True)
        self.state.train_data, self._building = data, out
        self.state.built = None
        self.completeChanged.emit()
        model = self.model if mode == "cam-overlay" else None
        self.start_job(
            f"Building {Path(out).name}",
            tasks.build_refined_set,
            data,
            out,
            mode,
            model,
            self.roi.text() or None,
            self.state.method,
            self.floor.value(),
            self.border.value() if mode == "crop" else None,
            self.partitions.allowed(data),
        )

    def job_returned(self, manifest: dict) -> None:
        self.state.built, self.state.built_mode = self._building, manifest["mode"]
        skipped = len(manifest["skipped"])
        text = (
            f"Wrote {manifest['images']} images to {self._building} ({manifest['mode']})"
            + (f"; skipped {skipped}" if skipped else "")
            + "."
        )
        self.show_status(text)
        self._log.info(f"Refinement: {text}")
        advice = overlay_advice(manifest)
        if advice:
            self.show_status(f"{text}\n{advice}: choose crop, build and fine-tune, then start again from that model.")
            self._log.warning(f"Refinement: {advice}")
        self._auto_out = True

    def cancelled_text(self) -> str:
        done = self.last_progress.done if self.last_progress is not None else 0
        if Path(self._building).exists():
            self.state.partial_sets.append(self._building)
        self._auto_out = True
        self._propose_out()
        return (
            f"Building was cancelled after {done} images: {self._building} holds an incomplete set (no "
            "refine.json) and will not be used. Build again into a new folder."
        )

    _building = ""
