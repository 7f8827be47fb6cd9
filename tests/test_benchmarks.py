"""The benchmark scripts run end to end, scaled down, so `make bench` cannot break unnoticed.

Their figures are measured by `make bench` on a quiet machine (README, Speed); here only that each
script completes and prints every row it promises, each with a number.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NUMBER = re.compile(r"\d+(\.\d+)?")

CASES = {
    "bench_cam.py": (
        [
            *["--archs", "resnet18", "--batches", "1", "--repeats", "1", "--images", "4", "--recipe-sizes", "64x80"],
            *["--many-archs", "resnet18", "--many-size", "32", "--many-repeats", "1"],
            *["--volume-archs", "r3d_18", "--volume-size", "4x16x16"],
        ],
        [
            "| resnet18 | ablationcam |",
            "| resnet18 | scorecam |",
            "| resnet18 | 1 | gradcam |",
            "| r3d_18 | gradcam |",
            "pytorch-grad-cam GradCAM",
            "torchcam GradCAM",
            "| 16 x 64x80 |",
            "camviewer explain",
        ],
    ),
    "bench_volume.py": (
        ["--size", "24x48x48", "--input", "16x24x24", "--runs", "1"],
        [
            "decode -> three planes shown",
            "after decode -> Grad-CAM map over the three planes",
            "peak memory growth, whole open",
            "largest GUI heartbeat gap, whole open",
            "one slice step -> three planes repainted",
        ],
    ),
    "bench_train.py": (
        ["--n", "40", "--epochs", "2", "--batch-size", "8", "--input-size", "32"],
        ["ratio camviewer / plain"],
    ),
    "bench_scale.py": (
        ["--images", "8", "--size", "64", "--arch", "tinyvgg_gap", "--train-images", "24", "--epochs", "2"]
        + ["--repeats", "1"],
        ["| 1 |", "| 2 |"],
    ),
    "bench_gui.py": (
        ["--runs", "1", "--images", "60"],
        [
            "first paint, camviewer",
            "the demo's first heatmap",
            "drop an image -> heatmap shown",
            "exporting 64 images",
            "loading resnet50",
            "while training in the window",
            "opacity change -> repaint",
            "list visible",
            "peak memory growth",
        ],
    ),
}


@pytest.mark.parametrize("script", sorted(CASES))
def test_benchmark_script_runs(script, tmp_path):
    args, rows = CASES[script]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    for row in rows:
        found = [line for line in lines if row in line]
        assert found, f"{script} printed no line with {row!r}:\n{done.stdout}"
        assert NUMBER.search(found[0].split(row, 1)[1]), f"no figure after {row!r}: {found[0]}"
