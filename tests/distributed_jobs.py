"""Run by test_distributed under torchrun: evaluate, localize and faithfulness on every process torchrun started.

Usage: torchrun --nproc-per-node N tests/distributed_jobs.py DATA CHECKPOINT OUT.pickle. Rank 0 pickles what
each job returned (what the command line writes from) for the test to compare with one process's results.
"""

from __future__ import annotations

import pickle
import sys
from dataclasses import asdict
from pathlib import Path

import torch

from camviewer.core.distributed.world import join, leave
from camviewer.core.evaluation.run import evaluate
from camviewer.core.jobs import run_to_end
from camviewer.core.model.loading import load_model
from camviewer.core.trust.dataset import dataset_images, faithfulness_dataset
from camviewer.core.trust.groundtruth import load_ground_truth
from camviewer.core.trust.scoring import localize_dataset

METHODS = ["gradcam", "layercam"]


def run_jobs(data: Path, checkpoint: Path, world=None) -> dict | None:
    """The three jobs' results in plain values (None on the processes other than rank 0)."""
    model = load_model(checkpoint, device="cpu")
    evaluation = run_to_end(evaluate(model, data, positive_class="parasitized", batch_size=5, world=world))
    truth = load_ground_truth(data / "masks", None, None, None, None)
    entries = dataset_images(data)
    localization = run_to_end(localize_dataset(model, entries, truth, METHODS, batch_size=4, world=world))
    paths = [entry.path for entry in entries]
    faithfulness = run_to_end(faithfulness_dataset(model, paths, METHODS, steps=5, batch_size=4, world=world))
    if evaluation is None:
        return None
    return {
        "paths": evaluation.paths,
        "probabilities": evaluation.probabilities,
        "accuracy": evaluation.report.accuracy,
        "localization_rows": [asdict(row) for row in localization["rows"]],
        "localization_summary": localization["summary"],
        "faithfulness_rows": faithfulness["rows"],
        "faithfulness_summary": faithfulness["summary"],
    }


if __name__ == "__main__":
    torch.set_num_threads(1)
    world = join("cpu")
    try:
        results = run_jobs(Path(sys.argv[1]), Path(sys.argv[2]), world)
        if world.writes:
            Path(sys.argv[3]).write_bytes(pickle.dumps({"world": world.size, **results}))
    finally:
        leave()
