"""Training over several processes: DistributedDataParallel around the model, DistributedSampler over the data.

``batch_size`` is the global batch: each of N processes takes ``batch_size / N`` images per step and DDP averages
the gradients, so a step is the step one process would take on the whole batch. The training order is torch's
DistributedSampler (seeded with the run's seed and the epoch) on any number of processes, one included: the
global batches of an epoch are the same images whatever the number of processes, and a run resumed on another
number of processes goes on with the batches it would have seen. Validation gives each image to exactly one
process and sums the losses over all of them. BatchNorm is synchronised across GPUs (SyncBatchNorm); on CPU each
process normalises its own share of the batch (PyTorch synchronises BatchNorm on accelerators only).
Augmentation draws differ between processes: rank 0 keeps the run's own random stream, the others are seeded
from the run's seed, their rank and the epoch.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn
from torch.utils.data import DistributedSampler

from camviewer.core.data.loaders import make_loader
from camviewer.core.distributed.shards import EveryItemOnce
from camviewer.core.distributed.world import World
from camviewer.core.errors import Cancelled, TrainingOptionError
from camviewer.core.jobs import CancelToken
from camviewer.core.model.loaded import LoadedModel
from camviewer.core.training.records import TrainConfig


def shared_batch(config: TrainConfig, world: World, defaulted: bool) -> TrainConfig:
    """The config with a batch the processes can share equally: a default batch size is rounded up to a multiple
    of their number; one that was asked for must be one."""
    if config.batch_size % world.size == 0:
        return config
    if defaulted:
        return replace(config, batch_size=-(-config.batch_size // world.size) * world.size)
    raise TrainingOptionError(
        "batch_size",
        f"the batch is shared by {world.size} processes: it must be a multiple of {world.size}",
        config.batch_size,
    )


def train_loader(dataset, config: TrainConfig, world: World, generator: torch.Generator, workers: int, pin: bool):
    sampler = DistributedSampler(dataset, num_replicas=world.size, rank=world.rank, shuffle=True, seed=config.seed)
    return make_loader(dataset, config.batch_size // world.size, True, generator, workers, pin, sampler=sampler)


def val_loader(dataset, config: TrainConfig, world: World, workers: int, pin: bool):
    batch = 2 * config.batch_size // world.size
    return make_loader(dataset, batch, False, None, workers, pin, sampler=EveryItemOnce(dataset, world))


def network(model: LoadedModel, world: World) -> nn.Module:
    """The module the training steps run through: the model itself, or DDP around it on several processes."""
    if world.backend is None:
        return model.module
    from torch.nn.parallel import DistributedDataParallel

    on_cuda = model.device.type == "cuda"
    if on_cuda:  # the same parameters, now with batch statistics over every GPU's share
        model.module = nn.SyncBatchNorm.convert_sync_batchnorm(model.module)
    return DistributedDataParallel(model.module, device_ids=[model.device.index] if on_cuda else None)


def start_epoch(loader, world: World, seed: int, epoch: int) -> None:
    loader.sampler.set_epoch(epoch)
    if world.rank:
        torch.manual_seed(hash((seed, world.rank, epoch)) % 2**63)


def stop_if_cancelled(cancel: CancelToken | None, world: World) -> None:
    """Raise Cancelled on every process at the same step when any of them was cancelled."""
    if world.any(cancel is not None and cancel.cancelled):
        raise Cancelled("cancelled by the user")


def means(world: World, loss_sum: float, loss_weight: float, correct_sum: float, seen: int) -> tuple[float, float]:
    """Mean loss (over what the losses were weighted by) and accuracy over the images of every process."""
    loss_sum, loss_weight, correct_sum, seen = world.sum([loss_sum, loss_weight, correct_sum, seen])
    return loss_sum / max(loss_weight, 1e-12), correct_sum / max(seen, 1)
