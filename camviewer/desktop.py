"""Desktop integration for the current user: the freedesktop entry and icons (Linux and other XDG desktops).

``install()`` copies ``resources/camviewer.desktop`` with ``Exec`` pointing at this very
installation, plus the icons into the hicolor theme, and records what it wrote; ``uninstall()``
removes exactly those files and nothing else.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from camviewer.core.paths import resource_path

ENTRY_NAME = "camviewer.desktop"
ICON_SIZES = (16, 32, 48, 64, 128, 256, 512)


def data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def manifest_path() -> Path:
    return data_home() / "camviewer" / "desktop-install.json"


def launcher_command() -> str:
    """How the desktop should start this installation (frozen bundle, script, or the interpreter)."""
    if getattr(sys, "frozen", False):
        return shlex.quote(sys.executable)
    script = shutil.which("camviewer")
    if script and Path(script).resolve().parent == Path(sys.executable).resolve().parent:
        return shlex.quote(script)
    return f"{shlex.quote(sys.executable)} -m camviewer"


def desktop_entry_text(command: str) -> str:
    lines = []
    for line in resource_path(ENTRY_NAME).read_text().splitlines():
        if line.startswith("Exec="):
            line = f"Exec={command} %F"
        elif line.startswith("TryExec="):
            continue  # TryExec needs a bare program name; ours may be "python -m camviewer"
        lines.append(line)
    return "\n".join(lines) + "\n"


def _planned_files() -> dict[Path, Path | str]:
    """Destination -> source file (or text) of everything install() writes."""
    icons = data_home() / "icons" / "hicolor"
    plan: dict[Path, Path | str] = {data_home() / "applications" / ENTRY_NAME: desktop_entry_text(launcher_command())}
    for size in ICON_SIZES:
        plan[icons / f"{size}x{size}" / "apps" / "camviewer.png"] = resource_path("icons", f"camviewer-{size}.png")
    plan[icons / "scalable" / "apps" / "camviewer.svg"] = resource_path("icons", "camviewer.svg")
    return plan


def install() -> list[Path]:
    written = []
    for destination, source in _planned_files().items():
        destination.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(source, str):
            destination.write_text(source)
        else:
            shutil.copyfile(source, destination)
        written.append(destination)
    manifest_path().parent.mkdir(parents=True, exist_ok=True)
    manifest_path().write_text(json.dumps([str(p) for p in written], indent=2))
    _refresh_caches()
    return written


def uninstall() -> list[Path]:
    if not manifest_path().is_file():
        return []
    removed = []
    for name in json.loads(manifest_path().read_text()):
        path = Path(name)
        if path.is_file():
            path.unlink()
            removed.append(path)
    manifest_path().unlink()
    _refresh_caches()
    return removed


def _refresh_caches() -> None:
    """Let menus notice the change; harmless where the tools are missing."""
    for command in (
        ["update-desktop-database", str(data_home() / "applications")],
        ["gtk-update-icon-cache", "-q", "-t", str(data_home() / "icons" / "hicolor")],
    ):
        if shutil.which(command[0]):
            subprocess.run(command, capture_output=True, check=False)


def main(action: str) -> int:
    if action == "install":
        written = install()
        print(f"installed the camviewer menu entry and {len(written) - 1} icons under {data_home()}")
    else:
        removed = uninstall()
        print(f"removed {len(removed)} file(s)" if removed else "nothing to remove: no desktop entry was installed")
    return 0
