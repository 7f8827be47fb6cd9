"""One typed wrapper around QSettings (INI file): every persistent preference has a name, a type and a default.

Call sites read ``settings.opacity`` and write ``settings.opacity = 0.4``; nothing else in the GUI
spells a QSettings key. The file lives in the user's config folder unless a path is given (tests
point it at a temporary directory).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QByteArray, QSettings

T = TypeVar("T")
MAX_RECENT = 10
MAX_LABEL_MAPS = 50  # label maps remembered, most recent first
SETTINGS_FILE = "camviewer.ini"


class _Setting(Generic[T]):
    """A descriptor: one key with a default; the default's type decides how the INI text is read back."""

    def __init__(self, key: str, default: T) -> None:
        self.key, self.default = key, default

    def __get__(self, settings: Settings | None, owner: type) -> T:
        if settings is None:
            return self  # type: ignore[return-value]  # class attribute access
        return _convert(settings.store.value(self.key, None), self.default)

    def __set__(self, settings: Settings, value: T) -> None:
        if isinstance(self.default, tuple):
            value = list(value)  # type: ignore[assignment]
        settings.store.setValue(self.key, value)


def _convert(raw: Any, default: Any) -> Any:
    """INI values come back as text (or a list of text); bring them back to the default's type."""
    if raw is None:
        return default
    try:
        if isinstance(default, bool):
            return raw if isinstance(raw, bool) else str(raw).lower() in ("true", "1", "yes")
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, tuple):  # tuples of strings: QSettings returns a 1-item list as a str
            return tuple(str(item) for item in ([raw] if isinstance(raw, str) else raw) if str(item))
        if isinstance(default, QByteArray):
            return raw if isinstance(raw, QByteArray) else QByteArray(raw)
        if isinstance(default, str) or default is None:
            return str(raw)
    except (TypeError, ValueError):
        return default
    return raw


class Settings:
    """camviewer's preferences. ``Settings(path)`` uses that INI file; ``Settings()`` the user's config folder."""

    # window
    geometry = _Setting("window/geometry", QByteArray())
    window_state = _Setting("window/state", QByteArray())
    # recent places
    recent_folders = _Setting("recent/folders", ())
    recent_models = _Setting("recent/models", ())
    model_options = _Setting("recent/model_options", "")  # JSON {checkpoint: what its model dialog was told}
    last_export_dir = _Setting("export/last_dir", "")
    # CAM options (what to compute)
    method = _Setting("cam/method", "gradcam")
    target = _Setting("cam/target", "pred")
    compare = _Setting("cam/compare", "off")
    compare_methods = _Setting(
        "cam/compare_methods", ("gradcam", "gradcam++", "xgradcam", "layercam", "hirescam", "eigencam")
    )
    # CAM display (how to show it)
    colormap = _Setting("cam/colormap", "jet")
    opacity = _Setting("cam/opacity", 0.5)
    outline = _Setting("cam/outline", "none")
    threshold = _Setting("cam/threshold", 0.5)
    map_scale = _Setting("cam/map_scale", "image")  # "image" (min-max each map) or "fixed" (one maximum)
    # browser
    thumbnails = _Setting("browser/thumbnails", True)
    recursive = _Setting("browser/recursive", False)  # list the images of sub-folders too
    # training, evaluation, trust, refinement
    train_dataset = _Setting("train/dataset", "")
    train_runs_dir = _Setting("train/runs_dir", "")  # new run folders are proposed in here
    train_options = _Setting("train/options", "")  # the training form's hyper-parameters, as JSON
    eval_dataset = _Setting("evaluate/dataset", "")
    eval_split = _Setting("evaluate/split", "all")
    eval_label_maps = _Setting("evaluate/label_maps", "")  # JSON: [[model, dataset, label map text], ...]
    eval_operating_point = _Setting("evaluate/operating_point", "argmax")
    trust_dataset = _Setting("trust/dataset", "")
    refine_dataset = _Setting("refine/measure_dataset", "")

    def __init__(self, path: str | Path | None = None) -> None:
        if path is None:
            from camviewer.core.paths import user_config_dir

            path = user_config_dir() / SETTINGS_FILE
        self.path = Path(path)
        self.store = QSettings(str(self.path), QSettings.Format.IniFormat)

    def remember_folder(self, folder: str | Path) -> None:
        self.recent_folders = _most_recent_first(self.recent_folders, str(folder))

    def remember_model(self, checkpoint: str | Path) -> None:
        self.recent_models = _most_recent_first(self.recent_models, str(checkpoint))

    def label_map(self, model: str, dataset: str) -> str:
        """The label map last used for this model and dataset ("" if none)."""
        return next((text for m, d, text in self._label_maps() if (m, d) == (model, dataset)), "")

    def remember_label_map(self, model: str, dataset: str, text: str) -> None:
        others = [entry for entry in self._label_maps() if tuple(entry[:2]) != (model, dataset)]
        entries = ([[model, dataset, text]] if text else []) + others
        self.eval_label_maps = json.dumps(entries[:MAX_LABEL_MAPS])

    def _label_maps(self) -> list[list[str]]:
        try:
            entries = json.loads(self.eval_label_maps or "[]")
        except ValueError:
            return []
        return [entry for entry in entries if isinstance(entry, list) and len(entry) == 3]

    def options_for_model(self, checkpoint: str | Path) -> dict | None:
        """What the user told the model dialog about this file last time (load_model's keywords), if anything."""
        return self._all_model_options().get(str(checkpoint))

    def remember_model_options(self, checkpoint: str | Path, options: dict) -> None:
        stored = self._all_model_options()
        stored.pop(str(checkpoint), None)
        stored[str(checkpoint)] = options
        self.model_options = json.dumps(dict(list(stored.items())[-MAX_RECENT:]))

    def _all_model_options(self) -> dict:
        try:
            stored = json.loads(self.model_options or "{}")
        except ValueError:
            return {}
        return stored if isinstance(stored, dict) else {}

    def sync(self) -> None:
        self.store.sync()


def _most_recent_first(items: tuple[str, ...], newest: str) -> tuple[str, ...]:
    return (newest, *[item for item in items if item != newest])[:MAX_RECENT]
