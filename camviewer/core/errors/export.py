"""Export folders (maps, overlays, predictions.csv)."""

from __future__ import annotations

from pathlib import Path

from camviewer.core.errors.base import CamviewerError, WriteFailed


class ExportError(CamviewerError):
    """An export folder (maps, overlays, predictions.csv) that cannot be written as asked. ``out_dir`` says which."""


class ExportExists(ExportError):
    """``out_dir`` already holds an export (``found``: "predictions.csv", "maps/"...); it is neither replaced nor
    continued unless asked."""

    def __init__(self, out_dir: str | Path, found: list[str]):
        self.out_dir, self.found = Path(out_dir), list(found)
        super().__init__(f"{out_dir} already holds an export ({', '.join(self.found)})")


class ExportMismatch(ExportError):
    """The export to continue was made with other settings: ``differences`` maps each (e.g. "methods") to
    (before, now)."""

    def __init__(self, out_dir: str | Path, differences: dict[str, tuple]):
        self.out_dir, self.differences = Path(out_dir), dict(differences)
        shown = "; ".join(f"{key}: {before!r} then, {now!r} now" for key, (before, now) in self.differences.items())
        super().__init__(f"{out_dir} holds an export made with other settings ({shown})")


class ExportInterrupted(ExportError):
    """An export stopped because an output could not be written (``cause``: the WriteFailed). The ``explained``
    images before it are complete and listed; the image being written was removed."""

    def __init__(self, out_dir: str | Path, explained: int, cause: WriteFailed):
        self.out_dir, self.explained, self.cause = Path(out_dir), explained, cause
        super().__init__(f"the export stopped after {explained} image(s): {cause}")
