"""Scaling out: images/s of training and of dataset-wide explanation on 1, 2, 4... processes started by torchrun.

    python benchmarks/bench_scale.py [--images 200] [--size 256] [--train-images 400] [--epochs 5] [--repeats 3]

On a CPU machine it compares one process using every core (the baseline) with 2 processes of cores/2 threads
each (gloo); with CUDA it compares 1, 2, 4, 8 GPUs up to the number visible (NCCL), one process each. Every
configuration is a real `torchrun --standalone` launch of this script in worker mode, which joins the process
group, then times (after a barrier, so start-up is not counted):

* a plain batched no-grad classification loop over its share of the files (decode, preprocess, forward,
  softmax), the baseline dataset-wide explanation is held to;
* camviewer's sharded export of the same files (Grad-CAM, maps, overlays, predictions.csv merged by rank 0),
  with the growth of rank 0's resident memory between the first tenth of its images and the end;
* training TinyVGG-GAP on synthetic cells (global batch 32; median images/s over the epochs after the first).

Configurations alternate within each repeat (1, 2, 1, 2...), so they share the machine's load; the table
gives medians and the ratio of each to the one-process baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULT = "RESULT "


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200, help="images explained (and classified)")
    parser.add_argument("--size", type=int, default=256, help="their side in pixels")
    parser.add_argument("--arch", default="resnet18", help="the explained model (random weights, 224 px input)")
    parser.add_argument("--train-images", type=int, default=400, help="synthetic cells trained on (80%% train)")
    parser.add_argument("--epochs", type=int, default=5, help="the first is a warm-up and not counted")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--worker", nargs=4, metavar=("DATA", "CELLS", "MODEL", "OUT"), help=argparse.SUPPRESS)
    return parser.parse_args()


# ----------------------------------------------------------------------------------------- the workers


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def worker(data: Path, cells: Path, checkpoint: Path, out: Path, epochs: int) -> None:
    import torch

    from camviewer.core.distributed.shards import shard
    from camviewer.core.distributed.world import join, leave
    from camviewer.core.explain.run import explain_iter
    from camviewer.core.explain.sharded import explain_shards_to_folder
    from camviewer.core.images import list_images, read_image
    from camviewer.core.model.loading import load_model
    from camviewer.core.training.loop import train
    from camviewer.core.training.records import BatchUpdate, TrainConfig

    world = join("auto")
    device = world.device("auto")
    model = load_model(checkpoint, device=device)
    files = list_images(data)
    mine = [files[i] for i in shard(files, world)]
    times = {}

    def timed(name, run):
        world.barrier()
        started = time.perf_counter()
        run()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        world.barrier()
        times[name] = time.perf_counter() - started

    def plain_loop():
        with torch.no_grad():
            for start in range(0, len(mine), 16):
                images = [read_image(path).pixels for path in mine[start : start + 16]]
                model.module(model.to_batch(images)).softmax(1).cpu()

    memory = {}

    def explain():
        job = explain_shards_to_folder(model, files, out / "export", ["gradcam"], batch_size=16, world=world)
        for event in job:
            if event.done == max(1, len(mine) // 10):
                memory["early"] = rss_mb()
        memory["end"] = rss_mb()

    with torch.no_grad():  # warm-up, not timed: the first forward and the first CAM pass set things up
        model.module(model.to_batch([read_image(path).pixels for path in files[:2]]))
    for _ in explain_iter(model, files[:2], ["gradcam"]):
        pass
    timed("plain", plain_loop)
    timed("explain", explain)
    rates = []
    config = TrainConfig(
        data=str(cells),
        out=str(out / "run"),
        arch="tinyvgg_gap",
        arch_options={"widths": [8, 16, 32]},
        input_size=(96, 96),
        batch_size=32,
        epochs=epochs,
        patience=epochs,
        augment="none",
        device="auto",
        workers=0,
    )
    for event in train(config, world=world):
        update = event.payload
        if isinstance(update, BatchUpdate) and update.batch == update.batches and update.epoch > 1:
            rates.append(update.images_per_second)
    if world.writes:
        result = {
            "processes": world.size,
            "threads": torch.get_num_threads(),
            "device": device,
            "plain": len(files) / times["plain"],
            "explain": len(files) / times["explain"],
            "memory_growth_mb": memory["end"] - memory.get("early", memory["end"]),
            "train": statistics.median(rates),
        }
        print(RESULT + json.dumps(result), flush=True)
    leave()


# ----------------------------------------------------------------------------------------- the parent


def prepare(tmp: Path, args: argparse.Namespace) -> tuple[Path, Path, Path]:
    from camviewer.core.jobs import run_to_end
    from camviewer.core.model.card import ModelCard
    from camviewer.core.model.loading import new_model
    from camviewer.core.synth import generate

    run_to_end(generate(tmp / "xray", "xray", args.images, seed=0, size=args.size))
    data = tmp / "images"
    data.mkdir()
    for index, path in enumerate(sorted(p for p in (tmp / "xray").rglob("*.png") if p.parts[-3] == "xray")):
        (data / f"{index:05d}.png").symlink_to(path)
    run_to_end(generate(tmp / "cells", "cells", args.train_images, seed=0, size=96))
    import torch

    torch.manual_seed(0)
    model = new_model(ModelCard(arch=args.arch, class_names=["normal", "pneumonia"]), device="cpu")
    return data, tmp / "cells", model.save(tmp / "model.safetensors")


def configurations() -> list[tuple[int, int]]:
    """(processes, threads per process): CPU cores split among 1 and 2 processes, or 1, 2, 4, 8 GPUs."""
    import torch

    if torch.cuda.is_available():
        gpus = torch.cuda.device_count()
        return [(count, 1) for count in (1, 2, 4, 8) if count <= gpus]
    cores = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    return [(1, cores)] + ([(2, max(1, cores // 2))] if cores >= 2 else [])


def launch(processes: int, threads: int, files: tuple[Path, Path, Path], epochs: int) -> dict:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    with tempfile.TemporaryDirectory() as out:
        command += [__file__, "--epochs", str(epochs), "--worker", *map(str, files), out]
        done = subprocess.run(command, capture_output=True, text=True, env=env)
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT)]
    if done.returncode or not lines:
        raise SystemExit(f"{processes} processes failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return json.loads(lines[-1][len(RESULT) :])


def main() -> None:
    args = parse_args()
    if args.worker:
        return worker(*map(Path, args.worker), epochs=args.epochs)
    runs = configurations()
    samples: dict[int, list[dict]] = {processes: [] for processes, _ in runs}
    with tempfile.TemporaryDirectory() as tmp:
        files = prepare(Path(tmp), args)
        for _ in range(args.repeats):
            for processes, threads in runs:
                samples[processes].append(launch(processes, threads, files, args.epochs))
    first = samples[runs[0][0]][0]
    print(
        f"\n{args.images} images of {args.size}x{args.size} px explained by {args.arch} (Grad-CAM, batch 16, maps, "
        f"overlays, predictions.csv); TinyVGG-GAP trained on {args.train_images} cells at 96 px, global batch 32; "
        f"device {first['device'].split(':')[0]}; median of {args.repeats}\n"
    )
    print(
        "| processes | threads each | plain loop images/s | explain images/s | explain / plain | "
        "training images/s | vs 1 process: explain | training | memory growth, explain |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    medians = {
        processes: {
            key: statistics.median(sample[key] for sample in samples[processes])
            for key in first
            if key not in ("device",)
        }
        for processes, _ in runs
    }
    base = medians[runs[0][0]]
    for processes, threads in runs:
        m = medians[processes]
        print(
            f"| {processes} | {threads} | {m['plain']:.1f} | {m['explain']:.1f} | {m['explain'] / m['plain']:.2f}x | "
            f"{m['train']:.0f} | {m['explain'] / base['explain']:.2f}x | {m['train'] / base['train']:.2f}x | "
            f"{m['memory_growth_mb']:+.0f} MB |",
            flush=True,
        )


if __name__ == "__main__":
    main()
