"""Training throughput: camviewer's training loop vs a plain PyTorch loop, same model, data and batch size.

    python benchmarks/bench_train.py [--n 400] [--epochs 6] [--batch-size 32] [--input-size 96]

Writes a small `camviewer synth` cells set into a temporary folder, then drives camviewer.core.training.loop's
generator and, after each of its batches, trains one batch of a plain loop over the very same
in-memory uint8 tensor (same architecture, seed and batch size, no augmentation on either side), so
that both see the same machine load: they alternate batch by batch. Only the training pass is timed
(camviewer's validation and checkpoint saving happen outside the timed spans). Prints per-epoch
images/s, medians and the ratio.

The other training figure, the largest GUI heartbeat gap while training in the window's Training dock, needs
a Qt event loop and is measured by ``benchmarks/bench_gui.py`` (row "while training in the window").
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from camviewer.core import synth
from camviewer.core.jobs import run_to_end
from camviewer.core.model.archs import build_model
from camviewer.core.preprocess import normalize
from camviewer.core.training.loop import train
from camviewer.core.training.records import BatchUpdate, TrainConfig


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400, help="synthetic images (80%% train)")
    parser.add_argument("--epochs", type=int, default=8, help="the first is a warm-up and not counted")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--input-size", type=int, default=96)
    parser.add_argument("--widths", default="8,16,32", help="tinyvgg_gap block widths")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    return parser.parse_args()


class PlainLoop:
    """The loop one writes by hand: shuffle, slice, scale, normalise, forward, loss, backward, step."""

    def __init__(self, pixels: torch.Tensor, targets: torch.Tensor, card, batch_size: int, seed: int) -> None:
        torch.manual_seed(seed)
        self.model = build_model(card.arch, card.num_classes, card.channels, card.arch_options, card.input_size)
        self.model.train()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.pixels, self.targets, self.card, self.batch_size = pixels, targets, card, batch_size
        self.generator = torch.Generator().manual_seed(seed)
        self.order: list[torch.Tensor] = []

    def batch(self) -> float:
        """Train on the next batch (a new shuffle after each epoch); returns the seconds it took."""
        started = time.perf_counter()
        if not self.order:
            self.order = list(torch.randperm(len(self.targets), generator=self.generator).split(self.batch_size))
        index = self.order.pop(0)
        images = normalize(self.pixels[index].float().div_(255.0), self.card)
        loss = torch.nn.functional.cross_entropy(self.model(images), self.targets[index])
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        loss.item()
        return time.perf_counter() - started


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="camviewer-bench-") as folder:
        data = Path(folder) / "data"
        run_to_end(synth.generate(data, "cells", args.n, seed=0, size=128))
        config = TrainConfig(
            data=str(data),
            out=str(Path(folder) / "run"),
            arch="tinyvgg_gap",
            arch_options={"widths": [int(w) for w in args.widths.split(",")]},
            input_size=(args.input_size, args.input_size),
            epochs=args.epochs,
            patience=args.epochs + 1,
            batch_size=args.batch_size,
            augment="none",
            val_split=0.2,
            device="cpu",
            workers=0,
        )
        ours, plain = compare(config)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); tinyvgg_gap {config.arch_options['widths']} "
        f"at {args.input_size} px, batch {args.batch_size}, {args.epochs} epochs, in-memory uint8 data"
    )
    for epoch, (a, b) in enumerate(zip(ours, plain), start=1):
        warm_up = "  (warm-up, not counted)" if epoch == 1 else ""
        print(f"  epoch {epoch}: camviewer {a:7.1f} images/s   plain {b:7.1f} images/s   ratio {a / b:.3f}{warm_up}")
    ours, plain = ours[1:], plain[1:]
    ratios = [a / b for a, b in zip(ours, plain)]
    print(
        f"median: camviewer {statistics.median(ours):.1f} images/s, plain PyTorch {statistics.median(plain):.1f} images/s"
    )
    print(
        f"ratio camviewer / plain: {statistics.median(ratios):.3f} (median of the per-epoch paired ratios; "
        f"ratio of medians {statistics.median(ours) / statistics.median(plain):.3f}; target >= 0.95)"
    )


def compare(config: TrainConfig) -> tuple[list[float], list[float]]:
    """Per-epoch images/s of camviewer and of the plain loop, timed batch by batch in alternation.

    After each camviewer batch (the span between two BatchUpdate events: fetch, step, bookkeeping)
    the plain loop trains one batch, so both see the same machine load at the same moment.
    """
    ours, plain, loop = [], [], None
    ours_seconds, plain_seconds, images = 0.0, 0.0, 0
    job = train(config)
    mark = time.perf_counter()
    for event in job:
        payload = event.payload
        if isinstance(payload, BatchUpdate):
            ours_seconds += time.perf_counter() - mark
            loop = loop or _plain_loop_like(job, config)
            plain_seconds += loop.batch()
            images += min(config.batch_size, len(loop.targets) - (payload.batch - 1) * config.batch_size)
            if payload.batch == payload.batches:
                ours.append(images / ours_seconds)
                plain.append(images / plain_seconds)
                ours_seconds, plain_seconds, images = 0.0, 0.0, 0
        mark = time.perf_counter()  # validation and saving (after the last batch) are not timed
    return ours, plain


def _find_session(job):
    """The generator's live _Session (read-only), found through the yield-from chain."""
    frame_owner = job
    while frame_owner is not None:
        session = frame_owner.gi_frame.f_locals.get("session") if frame_owner.gi_frame else None
        if session is not None:
            return session
        frame_owner = frame_owner.gi_yieldfrom
    raise RuntimeError("no training session found")


def _plain_loop_like(job, config) -> PlainLoop:
    """A plain loop over the same decoded training tensor and card."""
    session = _find_session(job)
    dataset = session.train_loader.dataset
    return PlainLoop(dataset.pixels, dataset.targets, session.card, config.batch_size, config.seed)


if __name__ == "__main__":
    main()
