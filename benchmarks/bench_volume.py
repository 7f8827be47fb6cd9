"""A CT volume in the window: time from decode to its map on screen, memory, and slices from memory.

    python benchmarks/bench_volume.py [--size 300x512x512] [--input 64x96x96] [--runs 3]

Writes a CT-like volume (int16 HU: body, two lungs, a nodule; uncompressed NIfTI) and a 3-D model
(TinyVGG-GAP, random weights: the cost of a map does not depend on training), opens the volume in the
window with that model and measures, per run (each a fresh open of the same file):

1. decode: open -> the three planes on screen (reading the file in a worker; reported, no target);
2. after decode -> map on screen: the planes shown -> Grad-CAM computed, placed back on the source's
   voxels and drawn over the three planes (target <= 5 s for 512 x 512 x 300);
3. peak memory growth of the process over the whole open (RSS sampled every 10 ms; target <= 2 GB);
4. the largest gap of a 10 ms GUI heartbeat during the open (the window stays responsive);
5. one slice step -> repaint of the three planes, median of 30 (slices come from memory).

Runs offscreen unless a display is set. Timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_gui import Heartbeat, rss_mb, wait_until


def write_ct(path: Path, size: tuple[int, int, int]) -> None:
    """A chest-like CT (d, h, w) = ``size`` as NIfTI: air, body, two lungs, a nodule; 0.7 x 0.7 x 1 mm voxels."""
    import nibabel as nib
    import numpy as np

    depth, rows, cols = size
    y, x = np.ogrid[-1 : 1 : rows * 1j, -1 : 1 : cols * 1j]
    body = (x / 0.9) ** 2 + (y / 0.7) ** 2 < 1
    lungs = ((np.abs(x) - 0.4) / 0.3) ** 2 + (y / 0.45) ** 2 < 1
    axial = np.where(body, 40, -1000).astype(np.int16)
    axial[lungs] = -850
    volume = np.broadcast_to(axial, (depth, rows, cols)).copy()
    rng = np.random.default_rng(0)
    volume += rng.integers(-20, 20, size=(1, rows, cols), dtype=np.int16)  # texture without a 300 MB draw
    d, r, c = np.ogrid[:depth, :rows, :cols]
    volume[(d - depth // 2) ** 2 + ((r - rows // 2) / 1.5) ** 2 + ((c - cols // 4) / 1.5) ** 2 < 100] = 60
    affine = np.diag([-0.7, -0.7, 1.0, 1.0])  # NIfTI (i, j, k) = (w, h, d): an axial series in RAS
    nib.save(nib.Nifti1Image(np.ascontiguousarray(volume.transpose(2, 1, 0)), affine), path)


def write_model(path: Path, input_size: tuple[int, int, int]) -> Path:
    import torch

    from camviewer.core.model.card import ModelCard
    from camviewer.core.model.loading import new_model
    from camviewer.core.model.volume_recipe import VolumeRecipe

    torch.manual_seed(0)
    card = ModelCard(
        arch="tinyvgg_gap",
        class_names=["normal", "nodule"],
        channels=1,
        mean=(0.5,),
        std=(0.25,),
        arch_options={"spatial_dims": 3, "widths": [8, 16, 32]},
        volume=VolumeRecipe(input_size, window=(-1350.0, 150.0)),
    )
    return new_model(card, device="cpu").save(path)


def open_once(window, path: Path) -> dict:
    """Open ``path`` (after a different item, so it is read afresh); the timings of one open."""
    from PySide6.QtWidgets import QApplication

    from camviewer.gui.volume.tasks import VolumeFrame

    window.viewer.clear("next run")
    QApplication.processEvents()
    memory = [rss_mb()]
    shown: dict[str, float] = {}
    view = window.viewer.volume_view

    def drawn(name: str) -> None:
        for plane in view.planes.values():
            plane.viewport().repaint()  # on screen, not just queued
        shown[name] = time.perf_counter()

    def planes_shown(frame) -> None:
        if isinstance(frame, VolumeFrame):
            drawn("planes")

    def map_shown(*_result) -> None:
        drawn("map")

    window.session.imageReady.connect(planes_shown)  # after the window's own slots: they draw first
    window.session.explained.connect(map_shown)
    beat = Heartbeat()
    beat._tick = lambda: (beat.ticks.append(time.perf_counter()), memory.append(rss_mb()))  # memory too
    started = time.perf_counter()
    with beat:
        window.open_paths([str(path)])
        wait_until(lambda: "map" in shown, 600)
    window.session.imageReady.disconnect(planes_shown)
    window.session.explained.disconnect(map_shown)
    return {
        "decode": shown["planes"] - started,
        "map": shown["map"] - shown["planes"],
        "memory": max(memory) - memory[0],
        "gap": beat.max_gap_ms,
    }


def slice_step(window, runs: int = 30) -> float:
    view = window.viewer.volume_view
    times = []
    for run in range(runs):
        started = time.perf_counter()
        view.step("axial", 1 if run % 2 else -1)
        for plane in view.planes.values():
            plane.viewport().repaint()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="300x512x512", metavar="DxHxW")
    parser.add_argument("--input", default="64x96x96", metavar="DxHxW", help="the model's grid")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    size = tuple(int(n) for n in args.size.split("x"))
    from camviewer.gui.app.launch import make_application, open_main_window

    with tempfile.TemporaryDirectory(prefix="camviewer-bench-volume-") as tmp:
        scratch = Path(tmp)
        volume = scratch / "ct.nii"
        write_ct(volume, size)
        model = write_model(scratch / "model.safetensors", tuple(int(n) for n in args.input.split("x")))
        app = make_application()
        window = open_main_window([], model=str(model), settings_path=str(scratch / "bench.ini"))
        window.resize(1280, 800)
        wait_until(lambda: window.session.model is not None and not window.session.busy, 300)
        opens = [open_once(window, volume) for _ in range(args.runs)]
        step = slice_step(window)
        window.close()
        wait_until(lambda: not window.isVisible(), 120)
        app.processEvents()

    def middle(key: str) -> float:
        return statistics.median(run[key] for run in opens)

    grid = "x".join(map(str, size))
    rows = [
        (f"open a {grid} CT: decode -> three planes shown", f"{middle('decode'):.2f} s", "reading the file"),
        ("after decode -> Grad-CAM map over the three planes", f"{middle('map'):.2f} s", "target <= 5 s"),
        ("peak memory growth, whole open", f"{middle('memory'):.0f} MB", "target <= 2048 MB"),
        ("largest GUI heartbeat gap, whole open", f"{middle('gap'):.0f} ms", "decode and CAM in workers"),
        ("one slice step -> three planes repainted", f"{step:.1f} ms", "median of 30; slices from memory"),
    ]
    width = max(len(name) for name, _, _ in rows)
    print(f"{'measure':<{width}}  {'median':>9}  notes (median of {args.runs} opens)")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>9}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
