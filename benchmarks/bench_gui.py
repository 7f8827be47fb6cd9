"""Viewer responsiveness, measured in one run (prints a table; not a test).

    python benchmarks/bench_gui.py [--runs 5] [--images 10000]

1. time to first paint: `camviewer` vs a bare PySide6 + pyqtgraph window, each in a fresh process;
   time to the demo's first heatmap on launch vs `python -c "import torch, torchvision"` (fresh processes,
   alternating, the same run);
2. drop an image -> its heatmap on screen, with the demo model;
3. the largest gap between ticks of a 10 ms heartbeat QTimer while explaining a folder, while loading
   a model (torch already imported), and from window shown to demo model ready (includes torch import);
   and while training a small model in the Training dock (start -> best model loaded, live curves on);
4. opacity change -> repaint, 2048 x 2048 image with its heatmap;
5. a folder of 10,000 tiny PNGs: time until the list is visible; peak memory growth while scrolling through
   every page of thumbnails.

Runs offscreen (QT_QPA_PLATFORM=offscreen) unless a display is set. Timings on a shared machine are noisy:
compare ratios measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Self

if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

PAINT_PROBE = """
import sys, time, json
from PySide6.QtCore import QEvent, QObject, QTimer
class FirstPaint(QObject):
    at = None
    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Paint and self.at is None:
            self.at = time.time()
            self.torch = 'torch' in sys.modules
            QTimer.singleShot(0, lambda: app.exit(0))
        return False
probe = FirstPaint()
"""
BARE_WINDOW = (
    PAINT_PROBE
    + """
import numpy as np
from PySide6.QtWidgets import QApplication, QMainWindow
import pyqtgraph as pg
app = QApplication([])
app.installEventFilter(probe)
window = QMainWindow()
view = pg.GraphicsLayoutWidget()
box = view.addViewBox(lockAspect=True, invertY=True)
box.addItem(pg.ImageItem(np.zeros((64, 64), np.uint8)))
window.setCentralWidget(view)
window.resize(1280, 800)
window.show()
if probe.at is None:
    app.exec()
print(json.dumps({"t": probe.at, "torch": probe.torch}))
"""
)
CAMVIEWER_WINDOW = (
    PAINT_PROBE
    + """
from camviewer.gui.app.launch import make_application, open_main_window
app = make_application()
app.installEventFilter(probe)
window = open_main_window([], settings_path=sys.argv[1])
if probe.at is None:
    app.exec()
print(json.dumps({"t": probe.at, "torch": probe.torch}))
sys.stdout.flush()
import os; os._exit(0)  # the demo model is loading in a worker: do not wait for it
"""
)
FIRST_HEATMAP = """
import sys, time, json
started = float(sys.argv[2])
from camviewer.gui.app.launch import make_application, open_main_window
app = make_application()
window = open_main_window([], settings_path=sys.argv[1])
window.session.explained.connect(lambda *_: app.exit(0))
app.exec()
print(json.dumps({"t": time.time() - started}))
sys.stdout.flush()
import os; os._exit(0)
"""
BARE_TORCH = "import torch, torchvision"


# ------------------------------------------------------------------------------------------ helpers


def median(values: list[float]) -> float:
    return statistics.median(values)


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def wait_until(condition, timeout_s: float = 300.0) -> None:
    from camviewer.gui.app.screenshots import wait_until as wait

    wait(condition, timeout_s)


class Heartbeat:
    """A 10 ms QTimer; ``max_gap_ms`` is the longest the GUI thread went without serving it."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.timer = QTimer(interval=10)
        self.timer.setTimerType(self.timer.timerType().PreciseTimer)
        self.timer.timeout.connect(self._tick)
        self.ticks: list[float] = []

    def _tick(self) -> None:
        self.ticks.append(time.perf_counter())

    def __enter__(self) -> Self:
        self.ticks = [time.perf_counter()]
        self.timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self.timer.stop()
        self._tick()

    @property
    def max_gap_ms(self) -> float:
        return max(b - a for a, b in zip(self.ticks, self.ticks[1:])) * 1000


def write_pngs(folder: Path, count: int, size: int, seed: int = 0) -> list[Path]:
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for index in range(count):
        pixels = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
        path = folder / f"img{index:05d}.png"
        Image.fromarray(pixels).save(path, compress_level=1)
        paths.append(path)
    return paths


# ---------------------------------------------------------------------------------------- measures


def first_paint(runs: int, scratch: Path) -> dict:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
        "HOME": str(scratch),
        "XDG_CONFIG_HOME": str(scratch / "config"),
    }
    times = {"bare": [], "camviewer": []}
    torch_at_paint = []
    for _ in range(runs):
        for name, code in (("bare", BARE_WINDOW), ("camviewer", CAMVIEWER_WINDOW)):
            started = time.time()
            out = subprocess.run(
                [sys.executable, "-c", code, str(scratch / "paint.ini")],
                env=env,
                text=True,
                capture_output=True,
                timeout=300,
                check=True,
            )
            report = json.loads(out.stdout.strip().splitlines()[-1])
            times[name].append(report["t"] - started)
            if name == "camviewer":
                torch_at_paint.append(report["torch"])
    return {**{k: median(v) for k, v in times.items()}, "torch_at_paint": any(torch_at_paint)}


def first_heatmap(runs: int, scratch: Path) -> dict:
    """Seconds from starting `camviewer` to the demo's first heatmap, and from starting Python to torch and
    torchvision imported, each a fresh process, alternating (median of ``runs``)."""
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
        "HOME": str(scratch),
        "XDG_CONFIG_HOME": str(scratch / "config"),
    }
    times = {"heatmap": [], "torch": []}
    for run in range(runs):
        started = time.time()
        out = subprocess.run(
            [sys.executable, "-c", FIRST_HEATMAP, str(scratch / f"heatmap{run}.ini"), repr(started)],
            env=env,
            text=True,
            capture_output=True,
            timeout=600,
            check=True,
        )
        times["heatmap"].append(json.loads(out.stdout.strip().splitlines()[-1])["t"])
        started = time.time()
        subprocess.run([sys.executable, "-c", BARE_TORCH], env=env, timeout=600, check=True)
        times["torch"].append(time.time() - started)
    return {key: median(values) for key, values in times.items()}


def drop_to_heatmap(window, scratch: Path, runs: int) -> float:
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    samples = sorted(Path(window.browser.paths()[0]).parent.glob("*.png")) if window.browser.paths() else []
    source = samples[0] if samples else write_pngs(scratch / "drop-src", 1, 256)[0]
    results = []
    for run in range(runs):
        copy = scratch / "drops" / f"dropped{run}{source.suffix}"
        copy.parent.mkdir(exist_ok=True)
        shutil.copy(source, copy)
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(copy))])
        where, action = QPointF(400, 300), Qt.DropAction.CopyAction
        buttons, keys = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
        started = time.perf_counter()
        QApplication.sendEvent(window, QDragEnterEvent(where.toPoint(), action, mime, buttons, keys))
        QApplication.sendEvent(window, QDropEvent(where, action, mime, buttons, keys))
        wait_until(
            lambda dropped=str(copy): window.session.result is not None and window.session.result.source == dropped, 60
        )
        window.image_view.viewport().repaint()  # the heatmap is on screen
        results.append(time.perf_counter() - started)
    return median(results)


def gap_while_exporting(window, scratch: Path, count: int = 64) -> tuple[float, float]:
    folder = write_pngs(scratch / "export-src", count, 128, seed=1)[0].parent
    window.open_folder(folder)
    wait_until(lambda: len(window.browser.paths()) == count and not window.session.busy)
    window.export_folder()
    dialog = window.export_dialog
    dialog.out_dir.setText(str(scratch / "export-out"))
    started = time.perf_counter()
    with Heartbeat() as beat:
        dialog.start_button.click()
        wait_until(lambda: not dialog.running())
    seconds = time.perf_counter() - started
    dialog.close()
    return beat.max_gap_ms, seconds


def gap_while_loading(window, scratch: Path) -> tuple[float, float]:
    from camviewer.core.model.card import ModelCard
    from camviewer.core.model.loading import new_model

    path = new_model(ModelCard(arch="resnet50", class_names=["normal", "pneumonia"]), device="cpu").save(
        scratch / "resnet50.safetensors"
    )
    started = time.perf_counter()
    with Heartbeat() as beat:
        window.open_model(path)
        wait_until(lambda: window.session.model is not None and window.session.model.source == str(path), 120)
        wait_until(lambda: not window.session.busy, 120)
    return beat.max_gap_ms, time.perf_counter() - started


def gap_while_training(window, scratch: Path, images: int = 300, epochs: int = 4) -> tuple[float, float, int]:
    """Train TinyVGG-GAP on synthetic cells from the Training dock; the heartbeat runs from Start until the
    best model is loaded and explained in the viewer. Returns (largest gap ms, seconds, batches)."""
    from camviewer.core.jobs import run_to_end
    from camviewer.core.synth import generate

    data = scratch / "train-cells"
    run_to_end(generate(data, "cells", images, 0, size=64))
    panel, form = window.workbench.training, window.workbench.training.form
    window.workbench.show_dock("training")
    form.arch.setCurrentText("tinyvgg_gap")
    form.arch_options.setText('{"widths": [8, 16, 32]}')
    for spin, value in ((form.input_size, 64), (form.epochs, epochs), (form.batch_size, 16), (form.patience, epochs)):
        spin.setValue(value)
    form.device.setCurrentText("cpu")
    panel.data.set_path(data)  # as a user picks it: the dataset is scanned (and the training code imported)
    wait_until(lambda: panel.preview.table.isVisible() and len(window.registry) == 0, 120)  # and code imported
    panel.run_dir.setText(str(scratch / "train-run"))
    best = str(scratch / "train-run" / "best.safetensors")
    settle_until = time.perf_counter() + 0.5  # the dock has been laid out and painted at its new width
    wait_until(lambda: time.perf_counter() > settle_until)
    started = time.perf_counter()
    with Heartbeat() as beat:
        panel.start()
        wait_until(lambda: not panel.running(), 600)
        wait_until(
            lambda: (
                window.session.model is not None and window.session.model.source == best and not window.session.busy
            ),
            120,
        )
    return beat.max_gap_ms, time.perf_counter() - started, panel.curves.counts()[0]


def opacity_repaint(window, scratch: Path, runs: int = 30) -> float:
    big = write_pngs(scratch / "big", 1, 2048, seed=2)[0]
    window.open_paths([big])
    wait_until(lambda: window.session.result is not None and window.session.result.source == str(big), 120)
    window.image_view.fit()
    view = window.image_view
    times = []
    for run in range(runs):
        started = time.perf_counter()
        window.cam_panel.opacity.setValue(20 + (run % 2) * 50)
        view.viewport().repaint()  # synchronous: returns once the scene is painted
        times.append(time.perf_counter() - started)
    return median(times) * 1000


def big_folder(window, scratch: Path, count: int) -> tuple[float, float, int]:
    from PySide6.QtWidgets import QApplication

    folder = scratch / "many"
    write_pngs(folder, count, 24, seed=3)
    before = rss_mb()
    started = time.perf_counter()
    window.open_folder(folder)
    wait_until(lambda: len(window.browser.paths()) == count)
    window.browser.list.viewport().repaint()
    visible = time.perf_counter() - started
    bar = window.browser.list.verticalScrollBar()
    loader = window.browser.loader
    peak = rss_mb()
    while True:  # every page, top to bottom (the maximum grows while the list lays out in batches)
        QApplication.processEvents()
        wait_until(lambda: not loader.busy(), 60)
        peak = max(peak, rss_mb())
        if bar.value() >= bar.maximum():
            break
        bar.setValue(bar.value() + bar.pageStep())
    return visible, peak - before, loader.cached_count()


# ---------------------------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--images", type=int, default=10_000)
    args = parser.parse_args()
    from camviewer.gui.app.launch import make_application, open_main_window

    rows = []
    with tempfile.TemporaryDirectory(prefix="camviewer-bench-") as tmp:
        scratch = Path(tmp)
        paint = first_paint(args.runs, scratch)
        rows.append(("first paint, bare PySide6 + pyqtgraph", f"{paint['bare'] * 1000:.0f} ms", ""))
        rows.append(
            (
                "first paint, camviewer",
                f"{paint['camviewer'] * 1000:.0f} ms",
                (
                    f"{paint['camviewer'] / paint['bare']:.2f}x bare (target <= 1.2x); "
                    f"torch loaded at paint: {paint['torch_at_paint']}"
                ),
            )
        )

        launch = first_heatmap(max(1, (args.runs + 1) // 2), scratch)
        rows.append(("`import torch, torchvision` (fresh process)", f"{launch['torch'] * 1000:.0f} ms", ""))
        rows.append(
            (
                "launch -> the demo's first heatmap",
                f"{launch['heatmap'] * 1000:.0f} ms",
                f"{launch['heatmap'] / launch['torch']:.2f}x the torch import (target <= 1.5x)",
            )
        )

        app = make_application()
        idle = Heartbeat()
        with idle:
            wait_until(lambda: len(idle.ticks) > 200)
        rows.append(("largest heartbeat gap, idle event loop (machine noise)", f"{idle.max_gap_ms:.0f} ms", "2 s"))
        with Heartbeat() as beat:
            window = open_main_window([], settings_path=str(scratch / "bench.ini"))
            window.resize(1280, 800)
            wait_until(lambda: window.session.model is not None and not window.session.busy, 300)
        rows.append(
            (
                "largest heartbeat gap, show -> demo ready (torch import)",
                f"{beat.max_gap_ms:.0f} ms",
                "first start only",
            )
        )
        rows.append(
            (
                "drop an image -> heatmap shown (demo model)",
                f"{drop_to_heatmap(window, scratch, args.runs) * 1000:.0f} ms",
                f"median of {args.runs}",
            )
        )
        gap, seconds = gap_while_exporting(window, scratch)
        rows.append(
            ("largest heartbeat gap, exporting 64 images", f"{gap:.0f} ms", f"target <= 50 ms; export {seconds:.1f} s")
        )
        gap, seconds = gap_while_loading(window, scratch)
        rows.append(
            ("largest heartbeat gap, loading resnet50", f"{gap:.0f} ms", f"target <= 50 ms; load {seconds:.1f} s")
        )
        gap, seconds, batches = gap_while_training(window, scratch)
        rows.append(
            (
                "largest GUI heartbeat gap while training in the window",
                f"{gap:.0f} ms",
                f"target <= 50 ms; {batches} batches in {seconds:.1f} s, live curves",
            )
        )
        rows.append(
            (
                "opacity change -> repaint, 2048x2048",
                f"{opacity_repaint(window, scratch):.1f} ms",
                "target <= 16 ms; median of 30",
            )
        )
        visible, growth, cached = big_folder(window, scratch, args.images)
        rows.append(
            (f"open a folder of {args.images:,} images: list visible", f"{visible * 1000:.0f} ms", "target <= 1 s")
        )
        cache_mb = cached * window.browser.loader.size**2 * 4 / 2**20
        rows.append(
            (
                "peak memory growth scrolling every page of thumbnails",
                f"{growth:.0f} MB",
                f"target <= 300 MB; {cached} thumbnails (<= {cache_mb:.0f} MB) in the bounded cache",
            )
        )
        window.close()
        wait_until(lambda: not window.isVisible(), 120)
        app.processEvents()

    width = max(len(name) for name, _, _ in rows)
    print(f"{'measure':<{width}}  {'median':>9}  notes")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>9}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
