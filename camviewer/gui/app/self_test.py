"""`camviewer --self-test`: prove an installation (or a PyInstaller bundle) works, without a screen.

Opens the real window offscreen with a throw-away settings file, loads the built-in demo model,
explains the first sample image, checks the heatmap, prints what it did and exits 0 (1 on failure).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QTimer

TIMEOUT_MS = 180_000


class SelfTest:
    def __init__(self, window, started: float) -> None:
        self.window, self.started, self.code = window, started, None
        self.model_line = ""
        window.session.modelChanged.connect(self._model_ready)
        window.session.explained.connect(self._explained)
        window.session.viewFailed.connect(lambda failure: self._fail(f"viewing failed: {failure}"))
        QTimer.singleShot(TIMEOUT_MS, lambda: self._fail(f"no heatmap after {TIMEOUT_MS // 1000} s"))

    def say(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.started:6.2f} s] {message}", flush=True)

    def _model_ready(self, ready) -> None:
        card, source = ready.model.card, ready.model.source or "(built in code: no weights file)"
        self.say(f"model loaded: {card.arch}, classes {card.class_names}, {source}")
        if not ready.model.source or not Path(ready.model.source).is_file():
            self._fail("the trained demo weights (weights/demo.safetensors) are missing")

    def _explained(self, result, seconds: float) -> None:
        if self.code is not None:
            return
        method, per_class = next(iter(result.maps.items()))
        class_name, map01 = next(iter(per_class.items()))
        if not (np.isfinite(map01).all() and map01.min() >= 0 and map01.max() <= 1 and np.ptp(map01) > 0):
            self._fail(f"the {method} map of {result.source} is not a valid heatmap")
            return
        self.say(
            f"explained {Path(result.source).name}: predicted {result.predicted} "
            f"(p = {result.probs[result.predicted]:.3f}), {method} map for {class_name} "
            f"{map01.shape[1]}x{map01.shape[0]} in {seconds * 1000:.0f} ms"
        )
        self._finish(0, "self-test passed")

    def _fail(self, reason: str) -> None:
        if self.code is None:
            log = self.window.log.messages() if hasattr(self.window, "log") else ""
            self._finish(1, f"self-test FAILED: {reason}" + (f"\n--- log ---\n{log}" if log else ""))

    def _finish(self, code: int, message: str) -> None:
        self.code = code
        self.say(message)
        self.window.close()


def run_self_test(app, open_main_window) -> int:
    """``open_main_window(paths, model, settings_path)`` is launch's, passed in so this module needs no launch."""
    from camviewer import __version__

    started = time.perf_counter()
    print(
        f"camviewer {__version__} self-test (Python {sys.version.split()[0]}, "
        f"{'bundled' if getattr(sys, 'frozen', False) else 'installed'})",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="camviewer-self-test-") as scratch:
        window = open_main_window([], None, str(Path(scratch) / "settings.ini"))
        test = SelfTest(window, started)
        test.say(f"window shown ({'torch not yet imported' if 'torch' not in sys.modules else 'torch imported'})")
        app.exec()
    return 1 if test.code is None else test.code
