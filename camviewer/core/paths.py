"""Where camviewer's files live: resources and weights (source checkout, installed wheel, or
PyInstaller bundle) and the user's config/cache folders. Nothing is ever written next to the code.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent
DEMO_MODEL_NAME = "demo.safetensors"


def _data_roots() -> list[Path]:
    roots = []
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:  # PyInstaller one-folder bundle: data collected next to the executable's internals
        roots.append(Path(bundle))
    roots.append(PACKAGE_DIR)  # installed wheel: camviewer/resources, camviewer/weights
    roots.append(PACKAGE_DIR.parent)  # source checkout: resources/ and weights/ beside camviewer/
    return roots


def data_dir(name: str) -> Path:
    """The first existing ``resources`` or ``weights`` folder among the places camviewer can run from."""
    for root in _data_roots():
        candidate = root / name
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"camviewer's '{name}' folder is missing (looked in {', '.join(map(str, _data_roots()))})")


def resource_path(*parts: str) -> Path:
    return data_dir("resources").joinpath(*parts)


def demo_model_path() -> Path:
    return data_dir("weights") / DEMO_MODEL_NAME


def sample_images() -> list[Path]:
    from camviewer.core.images import list_images

    folder = resource_path("samples")
    return list_images(folder) if folder.is_dir() else []


def user_config_dir() -> Path:
    return _user_dir("XDG_CONFIG_HOME", ".config", "APPDATA")


def user_cache_dir() -> Path:
    return _user_dir("XDG_CACHE_HOME", ".cache", "LOCALAPPDATA")


def _user_dir(xdg_variable: str, fallback: str, windows_variable: str) -> Path:
    if sys.platform == "win32" and os.environ.get(windows_variable):
        base = Path(os.environ[windows_variable])
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / ("Caches" if "CACHE" in xdg_variable else "Application Support")
    else:
        base = Path(os.environ.get(xdg_variable) or Path.home() / fallback)
    return base / "camviewer"
