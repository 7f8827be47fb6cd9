"""Is the map faithful to the model? Deletion/insertion curves and average drop / increase in confidence.

Definitions match torchcam's metrics (our tests compare against them):

- Deletion (RISE): input positions ranked by the map, highest first; the top k are replaced by
  the baseline (zeros in normalised space, i.e. the mean colour) for k = 0, s, 2s, ... all
  (s = ceil(positions / steps)); the class probability is recorded; AUC by the trapezoid rule
  over the fraction removed. Lower is more faithful.
- Insertion: the reverse, starting from the baseline and restoring the top positions. Higher is better.
- Average drop (Grad-CAM++): max(0, p - p_masked) / p with the input multiplied by the map;
  increase in confidence: the share of images where p_masked > p.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from camviewer.core.jobs import CancelToken
from camviewer.core.model.loaded import LoadedModel, eval_mode


@dataclass
class FaithfulnessScores:
    """Per image: curves (fractions x scores) and their areas, average drop and increase."""

    fractions: np.ndarray
    deletion: np.ndarray  # N x steps+1
    insertion: np.ndarray
    deletion_auc: np.ndarray  # N
    insertion_auc: np.ndarray
    drop: np.ndarray  # N, in [0, 1]
    increase: np.ndarray  # N, bool


def _class_scores(model: LoadedModel, inputs: torch.Tensor, classes: torch.Tensor, chunk: int) -> torch.Tensor:
    scores = []
    for start in range(0, len(inputs), chunk):
        probs = model.probabilities(model.module(inputs[start : start + chunk]))
        scores.append(probs.gather(1, classes[start : start + chunk, None])[:, 0])
    return torch.cat(scores)


def _perturbation_counts(positions: int, steps: int) -> list[int]:
    step = (positions + steps - 1) // steps
    return [*range(0, positions, step), positions]


def _curves(
    model, batch, maps, classes, steps, baseline, chunk, cancel
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield (image index, deletion curve, insertion curve), one image at a time (bounded memory)."""
    n, _channels, height, width = batch.shape
    positions = height * width
    counts = _perturbation_counts(positions, steps)
    for i in range(n):
        if cancel is not None:
            cancel.raise_if_cancelled()
        order = torch.argsort(maps[i].flatten(), descending=True, stable=True)
        ranks = torch.argsort(order)
        count_tensor = torch.tensor(counts, device=batch.device)
        kept = (ranks[None, :] < count_tensor[:, None]).view(len(counts), 1, height, width)
        image, base = batch[i : i + 1], baseline[i : i + 1]
        deleted = torch.where(kept, base, image)  # top-k positions replaced by the baseline
        inserted = torch.where(kept, image, base)  # top-k positions restored from the image
        target = torch.full((len(counts),), int(classes[i]), device=batch.device)
        yield (
            i,
            _class_scores(model, deleted, target, chunk).cpu().numpy(),
            _class_scores(model, inserted, target, chunk).cpu().numpy(),
        )


@torch.no_grad()
def faithfulness(
    model: LoadedModel,
    batch: torch.Tensor,
    maps: np.ndarray | torch.Tensor,
    classes: Sequence[int],
    steps: int = 20,
    baseline: torch.Tensor | None = None,
    chunk: int = 32,
    cancel: CancelToken | None = None,
) -> FaithfulnessScores:
    """Scores for a normalised batch and its maps at input resolution (N x H x W, any range)."""
    batch = batch.to(model.device)
    maps = torch.as_tensor(np.asarray(maps), dtype=torch.float32, device=batch.device)
    baseline = torch.zeros_like(batch) if baseline is None else torch.broadcast_to(baseline.to(batch), batch.shape)
    class_tensor = torch.as_tensor(list(classes), device=batch.device)
    positions = batch.shape[2] * batch.shape[3]
    fractions = np.array(_perturbation_counts(positions, steps), dtype=np.float32) / positions
    with model.lock, eval_mode(model.module):
        deletion = np.zeros((len(batch), len(fractions)), np.float32)
        insertion = np.zeros_like(deletion)
        for i, deleted, inserted in _curves(model, batch, maps, class_tensor, steps, baseline, chunk, cancel):
            deletion[i], insertion[i] = deleted, inserted
        original = _class_scores(model, batch, class_tensor, chunk)
        masked = _class_scores(model, batch * _unit_range(maps)[:, None], class_tensor, chunk)
    drop = (torch.relu(original - masked) / (original + 1e-7)).cpu().numpy()
    return FaithfulnessScores(
        fractions=fractions,
        deletion=deletion,
        insertion=insertion,
        deletion_auc=np.trapezoid(deletion, fractions, axis=1),
        insertion_auc=np.trapezoid(insertion, fractions, axis=1),
        drop=drop,
        increase=(masked > original).cpu().numpy(),
    )


def _unit_range(maps: torch.Tensor) -> torch.Tensor:
    low = maps.flatten(1).amin(1)[:, None, None]
    high = maps.flatten(1).amax(1)[:, None, None]
    return (maps - low) / (high - low + 1e-7)
