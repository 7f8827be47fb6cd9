"""The two exports: the current view (overlay PNG + raw map .npy) and a whole list of images (dialog).

A volume's view is its map as NIfTI on the volume's grid and a PNG montage of axial slices with the map.

Files go where the user picks (the last export folder or the home/Pictures folder is proposed, never the
image folder), and existing files are only replaced after asking.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from camviewer.gui.common.files import ExportNames, suggested_export_dir
from camviewer.gui.common.log_panel import LogPanel
from camviewer.gui.common.settings import Settings
from camviewer.gui.jobs.registry import WorkerRegistry
from camviewer.gui.viewer import tasks
from camviewer.gui.viewer.export_dialog import ExportDialog
from camviewer.gui.viewer.state import ComputeOptions, DisplayOptions, main_map, shown_class
from camviewer.gui.volume.tasks import VolumeFrame, export_volume_view, volume_stem


class Exporter(QObject):
    message = Signal(str)  # for the status bar

    def __init__(self, registry: WorkerRegistry, settings: Settings, log: LogPanel, parent: QWidget) -> None:
        super().__init__(parent)
        self._registry, self._settings, self._log, self._parent = registry, settings, log, parent
        self.dialog: ExportDialog | None = None

    def export_view(self, result, frame, options: ComputeOptions, display: DisplayOptions) -> None:
        """Ask for a PNG name; write the overlay as displayed and the map beside it, in a worker."""
        if result is None or frame is None:
            self.message.emit("Nothing to export yet: open an image and a model first.")
            return
        try:
            map01 = main_map(result, options)
        except KeyError:  # the options changed and their map is still being computed
            self.message.emit("The map for these options is still being computed; export it in a moment.")
            return
        volume = isinstance(frame, VolumeFrame)
        suffix = ".nii.gz" if volume else ".npy"
        proposed = ExportNames.for_view(
            volume_stem(frame.path) if volume else Path(frame.path).stem,
            options.method,
            shown_class(result, options.target),
            suggested_export_dir(self._settings.last_export_dir),
            suffix,
        )
        chosen, _ = QFileDialog.getSaveFileName(
            self._parent,
            "Export overlay and map",
            str(proposed.png),
            "PNG image (*.png)",
            options=QFileDialog.Option.DontConfirmOverwrite,
        )
        if not chosen:
            return
        names = ExportNames.from_png(chosen, suffix)
        if names.existing() and not self._may_replace(names.existing()):
            return
        self._settings.last_export_dir = str(names.png.parent)
        self._registry.start(
            f"Exporting {names.png.name}",
            export_volume_view if volume else tasks.export_view,
            frame.image if volume else frame.image.pixels,
            map01,
            display.colormap,
            display.opacity,
            str(names.png),
            str(names.map),
            display.outline,
            display.threshold,
            returned=lambda written: self._log.info(f"Wrote {written[0]} and {written[1]}"),
        )

    def export_folder(
        self, model, paths: list[str], folder: Path | None, options: ComputeOptions, display: DisplayOptions
    ) -> ExportDialog | None:
        """Open the folder-export dialog (one at a time) for the listed images."""
        if model is None or not paths:
            self.message.emit("Export needs a model and a list of images.")
            return self.dialog
        if self.dialog is not None and self.dialog.running():
            self.dialog.raise_()
            return self.dialog
        out = (
            suggested_export_dir(self._settings.last_export_dir)
            / f"camviewer-export-{folder.name if folder else 'images'}"
        )
        self.dialog = ExportDialog(
            self._registry,
            model,
            paths,
            options.engine_methods(),
            options.engine_target(),
            options.layer,
            display.colormap,
            display.opacity,
            out,
            self._parent,
        )
        self.dialog.done.connect(self._folder_exported)
        self.dialog.show()
        return self.dialog

    def _folder_exported(self, summary: dict | None) -> None:
        if summary is None:
            return
        from camviewer.core.filenames import printable

        self._settings.last_export_dir = str(Path(summary["out"]).parent)
        self._log.info(f"Exported {summary['explained']} image(s) to {printable(summary['out'])}")
        for source, reason in summary["failed"]:
            self._log.warning(f"Skipped {printable(source)}: {reason}")

    def _may_replace(self, existing: list[Path]) -> bool:
        answer = QMessageBox.question(
            self._parent,
            "Replace files?",
            "These files exist and will be replaced:\n" + "\n".join(map(str, existing)),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes
