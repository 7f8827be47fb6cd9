"""`camviewer` / `python -m camviewer`: a sub-command runs headless, anything else opens the viewer."""

from __future__ import annotations

import io
import multiprocessing
import sys

DESKTOP_FLAGS = {"--install-desktop-entry": "install", "--uninstall-desktop-entry": "uninstall"}


def _ensure_streams() -> None:
    """A windowed (no console) frozen app has no stdout/stderr; printing must not crash it."""
    if sys.stdout is None:
        sys.stdout = io.StringIO()
    if sys.stderr is None:
        sys.stderr = io.StringIO()


def main(argv: list[str] | None = None) -> int:
    multiprocessing.freeze_support()  # DataLoader workers in a PyInstaller bundle re-enter here
    _ensure_streams()
    argv = sys.argv[1:] if argv is None else list(argv)
    from camviewer import cli

    if argv and (argv[0] in cli.COMMANDS or argv[0] in ("-h", "--help", "--version")):
        return cli.main(argv)
    if argv and argv[0] in DESKTOP_FLAGS:
        from camviewer import desktop

        return desktop.main(DESKTOP_FLAGS[argv[0]])
    from camviewer.gui.app.launch import launch

    return launch(argv)


if __name__ == "__main__":
    sys.exit(main())
