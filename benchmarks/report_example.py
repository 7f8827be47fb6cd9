"""The README's example report, reproduced: `python benchmarks/report_example.py OUT_DIR` (about 2 minutes).

A short real study with camviewer's own commands: synthetic cells with a shortcut tag on some positives,
a TinyVGG-GAP trained with a test split, localization against the lesion masks and the lung-like ROI,
faithfulness, then `camviewer report` on the run folder. Writes OUT_DIR/report.html and, when Chromium
is installed, OUT_DIR/report.png (the top of the page, as the README shows it).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from camviewer.cli import main as camviewer


def run(command: str, data: Path, **options) -> None:
    """``camviewer COMMAND DATA --option value ...`` (option names with _ for -; True: a flag)."""
    args = [command, str(data)]
    for name, value in options.items():
        args += [f"--{name.replace('_', '-')}"] + ([] if value is True else [str(value)])
    code = camviewer(args)
    if code != 0:
        sys.exit(f"camviewer {command} failed with exit code {code}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--height", type=int, default=2400, help="height of the screenshot in pixels")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    html = args.out / "report.html"
    with tempfile.TemporaryDirectory(prefix="camviewer-report-example-") as scratch:
        data, run_dir = Path(scratch) / "cells", Path(scratch) / "run"
        run("synth", data, kind="cells", n=args.n, seed=4, shortcut=0.5)
        training = {"arch": "tinyvgg_gap", "widths": "8,16,32", "input_size": 64, "epochs": args.epochs}
        split = {"val_split": 0.15, "test_split": 0.2, "seed": 0, "device": "cpu", "threads": 1}
        run("train", data, **training, **split, out=run_dir)
        model, methods = run_dir / "best.safetensors", "gradcam,layercam,eigencam"
        truth = {"masks": data / "masks", "roi": data / "roi", "tolerance": 2}
        run("localize", data, model=model, method=methods, **truth, out=run_dir / "localize")
        run("faithfulness", data, model=model, method=methods, limit=32, out=run_dir / "faithfulness")
        run("report", run_dir, out=html, examples=3, overwrite=True)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("Chromium not found: no screenshot")
        return
    with tempfile.TemporaryDirectory(prefix="camviewer-chromium-") as profile:
        shot = args.out / "report.png"
        browser = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
        page = [f"--user-data-dir={profile}", f"--screenshot={shot}", f"--window-size=1280,{args.height}"]
        subprocess.run(
            [chromium, *browser, *page, html.resolve().as_uri()], check=True, capture_output=True, timeout=120
        )
    print(f"wrote {html} and {shot}")


if __name__ == "__main__":
    main()
