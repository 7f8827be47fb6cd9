"""The CAM-guided refinement cycle (seed 002) on data with a known shortcut, every mode side by side.

Run: python benchmarks/refine_cycle.py [--work build/refine-cycle] [--arch tinyvgg_gap,tinyvgg]
                                       [--modes crop,roi-mask,cam-overlay,crop+cam-overlay] [--keep]

1. `camviewer synth` three sets of malaria-like cells: training and held-out sets where 90% of the
   parasitized images carry a corner tag (the shortcut), and a shortcut-free test set.
2. `camviewer train` each architecture on the shortcut set, with nothing but `--arch` (the defaults).
3. Before: `camviewer localize` on the held-out set (pointing game and energy against the lesion
   masks, pointing game against the tags) and `camviewer evaluate` on the shortcut-free set.
4. For each mode: `camviewer refine` the training set, then `camviewer train --init` from the first
   model. crop: a 20% border crop that the model card keeps for inference; roi-mask: the cell body
   only; cam-overlay: the originals plus enhanced copies of the images whose Grad-CAM lies in the
   cell; crop+cam-overlay: seed 002's order, a cam-overlay cycle on the crop cycle's model (its maps,
   its weights).
5. After: the same measurements for each fine-tuned model; one table per architecture.
Every step is a `camviewer` command (printed as it runs), so the tables can be reproduced by hand.
``--keep`` reuses what an earlier run left in the work folder (a step whose output exists is skipped).
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

CPU = ["--device", "cpu", "--threads", "1"]
MODES = ("crop", "roi-mask", "cam-overlay", "crop+cam-overlay")
MEASURES = {
    "pointing game, lesion (held-out, 4 px)": ("lesion", "pointing_game"),
    "energy inside the lesion": ("lesion", "energy_in_region"),
    "energy inside the cell (ROI)": ("lesion", "energy_in_roi"),
    "pointing game, corner tag": ("marker", "pointing_game"),
    "accuracy, shortcut-free test set": ("clean", "accuracy"),
    "sensitivity (parasitized)": ("clean", "sensitivity"),
    "specificity (parasitized)": ("clean", "specificity"),
}
POINTING, ENERGY = "pointing game, lesion (held-out, 4 px)", "energy inside the lesion"
ACCURACY, TAG = "accuracy, shortcut-free test set", "pointing game, corner tag"


SUMMARY, METRICS = "summary.json", "metrics.json"  # written last by localize and evaluate


def run(*args: str, output: Path | None = None) -> None:
    """One camviewer command, printed; skipped when ``output``, which it writes last, exists already (--keep).

    A step that was stopped half-way (its last file missing) starts again from nothing.
    """
    if output is not None and output.exists():
        print(f"(kept) camviewer {args[0]} ... {output}", flush=True)
        return
    folder = Path(args[args.index("--out") + 1]) if "--out" in args else None
    if output is not None and folder is not None and folder.exists():
        shutil.rmtree(folder)
    print("$ camviewer " + " ".join(shlex.quote(str(a)) for a in args), flush=True)
    started = time.perf_counter()
    code = camviewer([str(a) for a in args])
    if code != 0:
        sys.exit(f"camviewer {args[0]} failed with exit code {code}")
    print(f"  ({time.perf_counter() - started:.0f} s)", flush=True)


def measure(work: Path, model: Path, out: Path) -> dict:
    held, clean = work / "heldout", work / "clean"
    scoring = ["--target", "parasitized", "--tolerance", "4", *CPU[:2]]
    lesion = ["--masks", held / "masks", "--roi", held / "roi"]
    run("localize", held, "--model", model, *lesion, *scoring, "--out", out / "lesion", output=out / "lesion" / SUMMARY)
    marker = ["--boxes", held / "markers.csv"]
    run("localize", held, "--model", model, *marker, *scoring, "--out", out / "marker", output=out / "marker" / SUMMARY)
    evaluate = ["--positive-class", "parasitized", *CPU[:2]]
    run("evaluate", clean, "--model", model, *evaluate, "--out", out / "clean", output=out / "clean" / METRICS)
    found = {
        "lesion": json.loads((out / "lesion" / "summary.json").read_text())["summary"]["gradcam"],
        "marker": json.loads((out / "marker" / "summary.json").read_text())["summary"]["gradcam"],
        "clean": json.loads((out / "clean" / "metrics.json").read_text()),
    }
    return {name: found[source][key] for name, (source, key) in MEASURES.items()}


def _trained(run_dir: Path) -> Path:
    """What a training run writes last: the evaluation of its held-out test split."""
    return run_dir / "test" / METRICS


def refine_args(work: Path, mode: str, model: Path) -> list:
    if mode == "crop":
        return ["--mode", mode, "--border-crop", 0.2]
    if mode == "roi-mask":
        return ["--mode", mode, "--roi-masks", work / "train" / "roi"]
    return ["--mode", "cam-overlay", "--model", model, "--roi-masks", work / "train" / "roi", *CPU[:2]]


def cycle(work: Path, arch: str, modes, epochs: int) -> dict:
    base = work / f"run-{arch}" / "best.safetensors"
    run("train", work / "train", "--arch", arch, "--seed", 0, *CPU, "--out", base.parent, output=_trained(base.parent))
    results = {"before": measure(work, base, work / f"measure-{arch}-before")}
    for mode in modes:
        start = base  # crop+cam-overlay (seed 002): the crop cycle's model is the one refined and fine-tuned
        if mode == "crop+cam-overlay":
            start = work / f"run-{arch}-crop" / "best.safetensors"
            if not start.exists():
                sys.exit("crop+cam-overlay follows the crop cycle: list crop before it in --modes")
        refined = work / f"train-{mode}" if mode in ("crop", "roi-mask") else work / f"train-{mode}-{arch}"
        run("refine", work / "train", *refine_args(work, mode, start), "--out", refined, output=refined / "refine.json")
        tuned = work / f"run-{arch}-{mode}"
        fine_tune = ["--init", start, "--epochs", epochs, "--seed", 0, *CPU]
        run("train", refined, *fine_tune, "--out", tuned, output=_trained(tuned))
        results[mode] = measure(work, tuned / "best.safetensors", work / f"measure-{arch}-{mode}")
    return results


def table(arch: str, results: dict) -> str:
    columns = list(results)
    lines = [
        f"{arch}: before, and after one cycle in each mode (Grad-CAM, 200 held-out images)",
        "",
        "| measure | " + " | ".join(columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    for name in MEASURES:
        lines.append(f"| {name} | " + " | ".join(_cell(results[c][name]) for c in columns) + " |")
    if any(results[c][TAG] is None for c in columns):
        lines.append("\n(-: no pixel of any tag is seen by the model, the crop cuts them all off)")
    before = results["before"]
    for mode in columns[1:]:
        gain = results[mode][POINTING] - before[POINTING]
        loss = before[ACCURACY] - results[mode][ACCURACY]
        verdict = "meets" if gain >= 0.2 and loss <= 0.02 else "misses"
        lines.append(
            f"\n{mode}: lesion pointing {gain:+.3f}, shortcut-free accuracy {0.0 - loss:+.3f} "
            f"({verdict} +0.2 without losing more than 0.02)"
        )
    if "crop" in results and "crop+cam-overlay" in results:  # what the overlay adds to the crop
        crop, seed = results["crop"], results["crop+cam-overlay"]
        changes = ", ".join(f"{name} {seed[name] - crop[name]:+.3f}" for name in (POINTING, ENERGY, ACCURACY))
        lines.append(f"\ncrop+cam-overlay against crop alone: {changes}")
    return "\n".join(lines)


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="build/refine-cycle")
    parser.add_argument("--arch", default="tinyvgg_gap,tinyvgg", help="comma-separated architectures")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated modes")
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=10, help="fine-tuning epochs (default 10)")
    parser.add_argument("--keep", action="store_true", help="reuse the work folder's earlier outputs")
    args = parser.parse_args()
    work = Path(args.work)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    started = time.perf_counter()
    for name, n, seed, shortcut in (("train", args.images, 10, 0.9), ("heldout", 200, 11, 0.9), ("clean", 200, 12, 0)):
        run("synth", work / name, "--kind", "cells", "--n", n, "--seed", seed, "--shortcut", shortcut,
            output=work / name / "synth.json")  # fmt: skip
    report = {}
    for arch in args.arch.split(","):
        report[arch] = cycle(work, arch, args.modes.split(","), args.epochs)
    print(f"\nRefinement cycle, {time.perf_counter() - started:.0f} s in all:\n")
    for arch, results in report.items():
        print(table(arch, results) + "\n")
    (work / "before-after.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
