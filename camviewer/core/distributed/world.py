"""The processes a job runs in: torchrun's environment turned into a process group, and the few collectives jobs use.

torchrun (directly, under ``srun``, or through the ``--nproc`` shorthand) starts one process per device and sets
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``. :func:`join` turns them into a process
group (NCCL when the job runs on CUDA, gloo on CPU) and returns the :class:`World` a job asks what it needs: its
device, whether it writes files (rank 0 only), sums over every process, one decision for all, rows gathered to
rank 0. A process started any other way is a world of one: nothing is initialised and every collective is the
identity, so the same job code runs either way.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def launched_by_torchrun() -> bool:
    """Whether this process is one of torchrun's workers (its environment names the rank and the rendezvous)."""
    return all(name in os.environ for name in TORCHRUN_VARIABLES)


def restart_count() -> int:
    """How many times torchrun has restarted this run's processes after a failure (``--max-restarts``)."""
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") or 0)


@dataclass(frozen=True)
class World:
    """This process's place among the processes of a job; ``backend`` is None for a single process."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def writes(self) -> bool:
        """Only rank 0 writes files; the others compute and hand their results to it."""
        return self.rank == 0

    def device(self, requested: str = "auto") -> str:
        """The device of this process for a job that asked for ``requested`` ("auto", "cpu", "cuda", "cuda:N").

        With several processes on CUDA each takes the GPU of its local rank (its place on this machine).
        """
        return device_for(requested, self.local_rank)

    def sum(self, values: Sequence[float]) -> list[float]:
        """The element-wise sums over every process; rank 0's result is broadcast, so all decide on the same bits."""
        if self.backend is None:
            return [float(value) for value in values]
        import torch
        import torch.distributed as dist

        tensor = torch.tensor([float(value) for value in values], dtype=torch.float64, device=self._tensor_device)
        dist.all_reduce(tensor)
        dist.broadcast(tensor, src=0)
        return tensor.tolist()

    def any(self, flag: bool) -> bool:
        """True on every process when it is true on at least one (e.g. a cancel seen by one process)."""
        if self.backend is None:
            return bool(flag)
        import torch
        import torch.distributed as dist

        tensor = torch.tensor([1 if flag else 0], dtype=torch.int32, device=self._tensor_device)
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
        return bool(tensor.item())

    def gather(self, item: Any) -> list[Any] | None:
        """Every process's ``item`` (picklable), in rank order, on rank 0; None on the others."""
        if self.backend is None:
            return [item]
        import torch.distributed as dist

        gathered = [None] * self.size if self.writes else None
        dist.gather_object(item, gathered, dst=0)
        return gathered

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` (picklable) on every process."""
        if self.backend is None:
            return value
        import torch.distributed as dist

        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        if self.backend is not None:
            import torch.distributed as dist

            dist.barrier()

    @property
    def _tensor_device(self) -> str:
        return f"cuda:{self.local_rank}" if self.backend == "nccl" else "cpu"


def device_for(requested: str, local_rank: int) -> str:
    import torch

    from camviewer.core.errors import DeviceUnavailable

    kind = str(requested).split(":")[0]
    if kind == "auto":
        kind = "cuda" if torch.cuda.is_available() else "cpu"
    if kind != "cuda":
        return kind
    if not torch.cuda.is_available():
        raise DeviceUnavailable("cuda")
    return f"cuda:{local_rank}"


def join(device: str = "auto") -> World:
    """This process's World: the process group torchrun's environment describes (NCCL on CUDA, gloo on CPU),
    initialised once; a world of one when torchrun did not start this process (or started only one)."""
    import torch
    import torch.distributed as dist

    from camviewer.core.errors import TooFewDevices

    if dist.is_available() and dist.is_initialized():
        return current()
    if not launched_by_torchrun() or int(os.environ["WORLD_SIZE"]) < 2:
        return World()
    local_rank = int(os.environ["LOCAL_RANK"])
    on_cuda = device_for(device, local_rank).startswith("cuda")
    if on_cuda:
        here = int(os.environ.get("LOCAL_WORLD_SIZE", local_rank + 1))
        if here > torch.cuda.device_count():
            raise TooFewDevices(here, torch.cuda.device_count())
        torch.cuda.set_device(local_rank)
    dist.init_process_group("nccl" if on_cuda else "gloo")
    return current()


def current() -> World:
    """The World of the process group already initialised here (by :func:`join` or by the caller), else one process."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
        return World()
    rank = dist.get_rank()
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    return World(rank, dist.get_world_size(), local_rank, str(dist.get_backend()))


def leave() -> None:
    """Close the process group :func:`join` opened (every process calls it at the end of its job)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
