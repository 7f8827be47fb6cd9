"""Training defaults that learn: `camviewer train DATA --arch ARCH` with nothing else, on fresh synthetic cells.

Run: python benchmarks/train_defaults.py [--work build/train-defaults] [--seeds 201,202]
                                         [--arch tinyvgg,tinyvgg_gap] [--keep]

For each seed: `camviewer synth --kind cells --n 600 --seed S`, then for each architecture
`camviewer train DATA --arch ARCH --out RUN` (every other option at its default: input size, batch
size, learning rate and schedule, class weights, a 15% test split held out and evaluated at the end),
timed, then `camviewer localize DATA --split test --masks ...`: Grad-CAM's pointing game on the
test split's parasitized images (the others have no lesion). Prints one row per run: test accuracy,
pointing game, epochs, wall time and the CPU time of the process (user + system, all threads: on a
machine shared with other jobs the wall time grows, the CPU time much less).
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


def run(*args) -> tuple[float, float]:
    """One camviewer command, printed; returns its (wall, CPU) seconds."""
    print("$ camviewer " + " ".join(shlex.quote(str(a)) for a in args), flush=True)
    wall, cpu = time.perf_counter(), time.process_time()
    code = camviewer([str(a) for a in args])
    if code != 0:
        sys.exit(f"camviewer {args[0]} failed with exit code {code}")
    return time.perf_counter() - wall, time.process_time() - cpu


def one_run(work: Path, seed: int, arch: str, keep: bool) -> dict:
    data, out = work / f"cells-{seed}", work / f"run-{arch}-{seed}"
    record_file = out / "benchmark.json"
    if keep and record_file.exists():
        return json.loads(record_file.read_text())
    shutil.rmtree(out, ignore_errors=True)
    wall, cpu = run("train", data, "--arch", arch, "--out", out)
    masks = ["--masks", data / "masks", "--roi", data / "roi"]
    run("localize", data, "--model", out / "best.safetensors", "--split", "test", *masks, "--out", out / "localize")
    test = json.loads((out / "test" / "metrics.json").read_text())
    gradcam = json.loads((out / "localize" / "summary.json").read_text())["summary"]["gradcam"]
    config = json.loads((out / "config.json").read_text())
    epochs = sum(1 for _ in (out / "history.csv").open()) - 1
    record = {
        "arch": arch,
        "seed": seed,
        "test_accuracy": test["accuracy"],
        "test_images": test["n"],
        "pointing_game": gradcam["pointing_game"],
        "positives": gradcam["with_region"],
        "epochs": epochs,
        "batch_size": config["batch_size"],
        "lr": config["lr"],
        "wall_s": round(wall),
        "cpu_s": round(cpu),
    }
    record_file.write_text(json.dumps(record, indent=2))
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="build/train-defaults")
    parser.add_argument("--seeds", default="201,202", help="comma-separated synth seeds")
    parser.add_argument("--arch", default="tinyvgg,tinyvgg_gap", help="comma-separated architectures")
    parser.add_argument("--keep", action="store_true", help="reuse the runs an earlier call finished")
    args = parser.parse_args()
    work = Path(args.work)
    records = []
    for seed in (int(s) for s in args.seeds.split(",")):
        data = work / f"cells-{seed}"
        if not (data / "synth.json").exists():
            run("synth", data, "--kind", "cells", "--n", 600, "--seed", seed)
        records += [one_run(work, seed, arch, args.keep) for arch in args.arch.split(",")]
    print("\n| arch | seed | test accuracy | pointing game (positives) | epochs | batch, lr | wall | CPU |")
    print("|---|---|---|---|---|---|---|---|")
    for r in records:
        print(
            f"| {r['arch']} | {r['seed']} | {r['test_accuracy']:.3f} ({r['test_images']} images) | "
            f"{r['pointing_game']:.3f} ({r['positives']}) | {r['epochs']} | {r['batch_size']}, {r['lr']:g} | "
            f"{r['wall_s']} s | {r['cpu_s']} s |"
        )
    (work / "results.json").write_text(json.dumps(records, indent=2))


if __name__ == "__main__":
    main()
