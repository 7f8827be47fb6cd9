"""File names the window proposes and receives: export names, drop contents, where exports go by default,
new folders for runs and enhanced sets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QMimeData


@dataclass(frozen=True)
class ExportNames:
    """The overlay (PNG) and its raw map written side by side with the same stem: ``.npy`` for an image's map,
    ``.nii.gz`` for a volume's (on the volume's grid, to open over it in 3D Slicer or ITK-SNAP)."""

    png: Path
    map: Path

    @classmethod
    def for_view(cls, stem: str, method: str, class_name: str, folder: Path, map_suffix: str = ".npy") -> ExportNames:
        """``stem``: the image's name without its extension."""
        name = f"{stem}__{_safe(method)}__{_safe(class_name)}"
        return cls(folder / f"{name}.png", folder / f"{name}{map_suffix}")

    @classmethod
    def from_png(cls, chosen: str, map_suffix: str = ".npy") -> ExportNames:
        png = Path(chosen)
        if png.suffix.lower() != ".png":
            png = png.with_name(png.name + ".png")
        return cls(png, png.with_suffix(map_suffix))

    def existing(self) -> list[Path]:
        return [path for path in (self.png, self.map) if path.exists()]


def suggested_export_dir(last: str) -> Path:
    """The last export folder, else the user's Pictures or home folder: never the image folder by default."""
    if last and Path(last).is_dir():
        return Path(last)
    pictures = Path.home() / "Pictures"
    return pictures if pictures.is_dir() else Path.home()


def drop_paths(mime: QMimeData) -> list[str]:
    """Local files and folders carried by a drag."""
    if not mime.hasUrls():
        return []
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]


def _safe(text: str) -> str:
    return "".join("_" if c in '<>:"/\\|?*' or ord(c) < 32 else c for c in text).strip() or "_"


def unused_folder(parent: Path, stem: str) -> Path:
    """``parent/stem``, or ``stem-2``, ``stem-3``... : a folder name nothing uses yet (runs never reuse one)."""
    candidate, number = parent / stem, 2
    while candidate.exists():
        candidate, number = parent / f"{stem}-{number}", number + 1
    return candidate


RUN_FILES = ("config.json", "history.csv", "split.csv")  # what makes a folder a training run


def checkpoint_name(source: str | Path | None, demo: str = "demo model") -> str:
    """How to call a model: a run's checkpoint by its run folder ("cells-run-3/best"), other files by name."""
    if not source:
        return demo
    path = Path(source)
    if path.name in ("best.safetensors", "last.pt") and any((path.parent / name).is_file() for name in RUN_FILES):
        return f"{path.parent.name}/{path.stem}"
    return path.name
