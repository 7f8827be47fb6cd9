"""Each process's share of a list of items, every item exactly once over all of them.

torch's :class:`~torch.utils.data.DistributedSampler` gives rank ``r`` of ``N`` the items ``r, r + N, r + 2N...`` and
pads the last round with repeats so that every rank gets as many: right for training (every process must take
as many steps), wrong for validation, evaluation and explanation, where a repeat would be counted or written
twice. :class:`EveryItemOnce` is that sampler without the repeats.
"""

from __future__ import annotations

from collections.abc import Iterator, Sized
from itertools import islice

from torch.utils.data import DistributedSampler

from camviewer.core.distributed.world import World


class EveryItemOnce(DistributedSampler):
    """DistributedSampler in input order, without the padding repeats: over all ranks, each item once."""

    def __init__(self, dataset: Sized, world: World) -> None:
        super().__init__(dataset, num_replicas=world.size, rank=world.rank, shuffle=False)

    def __iter__(self) -> Iterator[int]:
        return islice(super().__iter__(), len(self))

    def __len__(self) -> int:
        return len(range(self.rank, len(self.dataset), self.num_replicas))


def shard(items: Sized, world: World) -> list[int]:
    """The indices of ``items`` this process handles (all of them in a world of one)."""
    return list(EveryItemOnce(items, world))
