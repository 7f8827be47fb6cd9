"""The CAM-guided refinement cycle (seed 002) on data with a known shortcut, end to end, with numbers.

Run: python benchmarks/refine_cycle.py [--work build/refine-cycle] [--mode crop|roi-mask|cam-overlay]

1. `camviewer synth` three sets of malaria-like cells: training and held-out sets where 90% of the
   parasitized images carry a corner tag (the shortcut), and a shortcut-free test set.
2. `camviewer train` a CAM-ready TinyVGG on the shortcut set.
3. Before: `camviewer localize` on the held-out set (pointing game and energy against the lesion
   masks and against the tags) and `camviewer evaluate` on the shortcut-free set.
4. `camviewer refine` the training set (default: a 20% border crop that the model card keeps for inference), then
   `camviewer train --init` to fine-tune the first model on it.
5. After: the same measurements with the fine-tuned model. Prints a before/after table.
Every step is a `camviewer` command (printed as it runs), so the table can be reproduced by hand.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import time
from pathlib import Path

from camviewer.cli import main as camviewer

TRAIN = [
    "--arch",
    "tinyvgg_gap",
    "--widths",
    "8,16,32",
    "--input-size",
    "96",
    "--batch-size",
    "16",
    "--patience",
    "4",
    "--val-split",
    "0.2",
    "--seed",
    "0",
    "--device",
    "cpu",
    "--threads",
    "1",
]


def run(*args: str) -> None:
    print("$ camviewer " + " ".join(shlex.quote(str(a)) for a in args), flush=True)
    started = time.perf_counter()
    code = camviewer([str(a) for a in args])
    if code != 0:
        sys.exit(f"camviewer {args[0]} failed with exit code {code}")
    print(f"  ({time.perf_counter() - started:.0f} s)", flush=True)


def measure(work: Path, model: Path, tag: str) -> dict:
    held, clean = work / "heldout", work / "clean"
    out = work / f"measure-{tag}"
    run(
        "localize",
        held,
        "--model",
        model,
        "--masks",
        held / "masks",
        "--roi",
        held / "roi",
        "--target",
        "parasitized",
        "--tolerance",
        "4",
        "--out",
        out / "lesion",
    )
    run(
        "localize",
        held,
        "--model",
        model,
        "--boxes",
        held / "markers.csv",
        "--target",
        "parasitized",
        "--tolerance",
        "4",
        "--out",
        out / "marker",
    )
    run("evaluate", clean, "--model", model, "--positive-class", "parasitized", "--out", out / "clean")
    lesion = json.loads((out / "lesion" / "summary.json").read_text())["summary"]["gradcam"]
    marker = json.loads((out / "marker" / "summary.json").read_text())["summary"]["gradcam"]
    metrics = json.loads((out / "clean" / "metrics.json").read_text())
    return {
        "pointing game, lesion (held-out, 4 px)": lesion["pointing_game"],
        "energy inside the lesion": lesion["energy_in_region"],
        "energy inside the cell (ROI)": lesion["energy_in_roi"],
        "pointing game, corner tag": marker["pointing_game"],
        "accuracy, shortcut-free test set": metrics["accuracy"],
        "sensitivity (parasitized)": metrics["sensitivity"],
        "specificity (parasitized)": metrics["specificity"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="build/refine-cycle")
    parser.add_argument("--mode", default="crop", choices=("crop", "roi-mask", "cam-overlay"))
    parser.add_argument("--images", type=int, default=1000)
    args = parser.parse_args()
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    started = time.perf_counter()
    run("synth", work / "train", "--kind", "cells", "--n", args.images, "--seed", 10, "--shortcut", 0.9)
    run("synth", work / "heldout", "--kind", "cells", "--n", 200, "--seed", 11, "--shortcut", 0.9)
    run("synth", work / "clean", "--kind", "cells", "--n", 200, "--seed", 12, "--shortcut", 0)
    run("train", work / "train", *TRAIN, "--epochs", 12, "--out", work / "run-shortcut")
    before = measure(work, work / "run-shortcut" / "best.safetensors", "before")
    refine = (
        ["--roi-masks", work / "train" / "roi"]
        if args.mode == "roi-mask"
        else (
            ["--model", work / "run-shortcut" / "best.safetensors"]
            if args.mode == "cam-overlay"
            else ["--border-crop", 0.2]
        )
    )
    run("refine", work / "train", "--mode", args.mode, *refine, "--out", work / "train-refined")
    run(
        "train",
        work / "train-refined",
        *TRAIN,
        "--epochs",
        8,
        "--lr",
        "5e-4",
        "--init",
        work / "run-shortcut" / "best.safetensors",
        "--out",
        work / "run-refined",
    )
    after = measure(work, work / "run-refined" / "best.safetensors", "after")
    print(f"\nRefinement cycle ({args.mode}), Grad-CAM, {time.perf_counter() - started:.0f} s in all:\n")
    print("| measure | before | after |")
    print("|---|---|---|")
    for name in before:
        print(f"| {name} | {before[name]:.3f} | {after[name]:.3f} |")
    (work / "before-after.json").write_text(json.dumps({"mode": args.mode, "before": before, "after": after}, indent=2))


if __name__ == "__main__":
    main()
