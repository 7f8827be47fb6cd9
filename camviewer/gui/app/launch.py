"""`camviewer [PATH...]`: show the window first, then load torch, the model and the images in workers."""

from __future__ import annotations

import argparse
import os
import sys

from PySide6.QtCore import QEvent, QObject, QTimer  # importing Qt needs no display; creating the app does

NO_DISPLAY = (
    "camviewer: no display found; run it under xvfb-run -a camviewer, set QT_QPA_PLATFORM=offscreen, "
    "or use the CLI (camviewer --help)"
)


def display_missing() -> bool:
    """On Linux without X11/Wayland, Qt would abort the process; say so instead."""
    return (
        sys.platform.startswith("linux")
        and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
        and not os.environ.get("QT_QPA_PLATFORM")
    )


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="camviewer", description="Open the camviewer window.")
    parser.add_argument("paths", nargs="*", metavar="PATH", help="image files or folders to open")
    parser.add_argument("--model", metavar="CHECKPOINT", help="checkpoint to load instead of the demo model")
    parser.add_argument("--settings", metavar="INI", help="settings file (default: the user's config folder)")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="open the window offscreen, explain a sample with the demo model, exit 0 if all works",
    )
    return parser.parse_args(argv)


def make_application():
    """The QApplication (created once), named and configured for camviewer and pyqtgraph."""
    import pyqtgraph as pg
    from PySide6.QtGui import QGuiApplication, QIcon
    from PySide6.QtWidgets import QApplication

    from camviewer.gui.app.qt_fixes import fix_signal_emit_refcount

    fix_signal_emit_refcount()

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "camviewer"])
    app.setApplicationName("camviewer")
    app.setOrganizationName("camviewer")
    app.setApplicationDisplayName("camviewer")
    QGuiApplication.setDesktopFileName("camviewer")
    icon = _icon_path()
    if icon is not None:
        app.setWindowIcon(QIcon(str(icon)))
    pg.setConfigOptions(imageAxisOrder="row-major")  # else pyqtgraph shows images transposed
    return app


def _icon_path():
    from camviewer.core.paths import resource_path

    try:
        icon = resource_path("icons", "camviewer.svg")
    except FileNotFoundError:
        return None
    return icon if icon.is_file() else None


def open_main_window(paths: list[str], model: str | None = None, settings_path: str | None = None):
    """Build and show the window; the model and images start loading once it has painted.

    Starting earlier, a worker could begin importing torch before the window is on screen.
    """
    from camviewer.gui.app.main_window import MainWindow
    from camviewer.gui.common.settings import Settings

    window = MainWindow(Settings(settings_path))
    AfterFirstPaint(window, lambda: window.start(paths, model))  # owned by the window
    window.show()
    return window


class AfterFirstPaint(QObject):
    """Calls back once ``widget`` has painted, or after a second if it never does (e.g. started minimized)."""

    FALLBACK_MS = 1000

    def __init__(self, widget, callback) -> None:
        super().__init__(widget)
        self._callback = callback
        self._fallback = QTimer(self, singleShot=True, interval=self.FALLBACK_MS)
        self._fallback.timeout.connect(self._fire)
        self._fallback.start()
        widget.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Paint and self._callback is not None:
            QTimer.singleShot(0, self._fire)  # once this paint has reached the screen
        return False

    def _fire(self) -> None:
        callback, self._callback = self._callback, None
        self._fallback.stop()
        self.parent().removeEventFilter(self)
        if callback is not None:
            callback()


def launch(argv: list[str]) -> int:
    args = parse_arguments(argv)
    if args.self_test:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        # The offscreen plugin warns about window features it lacks ("propagateSizeHints"): noise here.
        os.environ.setdefault("QT_LOGGING_RULES", "default.warning=false")
    if display_missing():
        print(NO_DISPLAY, file=sys.stderr)
        return 1
    app = make_application()
    if args.self_test:
        from camviewer.gui.app.self_test import run_self_test

        return run_self_test(app, open_main_window)
    window = open_main_window(args.paths, args.model, args.settings)
    log_uncaught_errors(window)
    close_on_ctrl_c(window)
    return app.exec()


def close_on_ctrl_c(window) -> None:
    """Ctrl+C in the terminal closes the window the normal way (asking about running exports)."""
    import signal

    signal.signal(signal.SIGINT, lambda *_: window.close())
    wake = QTimer(window, interval=250)  # Python runs signal handlers only when it gets control back
    wake.timeout.connect(lambda: None)
    wake.start()


def log_uncaught_errors(window) -> None:
    """A bug in a slot shows in the log panel and the status bar, and the session goes on."""
    from camviewer.gui.jobs.registry import describe_error

    previous = sys.excepthook

    def hook(kind, error, trace) -> None:
        if isinstance(error, KeyboardInterrupt):
            previous(kind, error, trace)
            return
        window.report_error(*describe_error("camviewer", error.with_traceback(trace)))
        previous(kind, error, trace)  # developers still see the traceback where they started camviewer

    sys.excepthook = hook
