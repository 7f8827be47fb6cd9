"""Errors of work spread over several processes."""

from __future__ import annotations

from camviewer.core.errors.base import CamviewerError


class ProcessFailed(CamviewerError):
    """One process of a run spread over several failed, and the launcher stopped the others.

    ``rank`` is its place in the run (0 to ``size`` - 1), ``exitcode`` its exit status (negative: the signal that
    ended it) and ``reason`` what it reported (its error's type and message), or how it ended when it could not.
    """

    def __init__(self, rank: int, size: int | None, exitcode: int | None, reason: str):
        self.rank, self.size, self.exitcode, self.reason = rank, size, exitcode, reason
        of = f" of {size}" if size else ""
        super().__init__(f"process {rank}{of} failed: {reason}; the other processes were stopped")


class TooFewDevices(CamviewerError):
    """More processes were started on this machine than it has GPUs (NCCL needs one GPU per process)."""

    def __init__(self, processes: int, devices: int):
        self.processes, self.devices = processes, devices
        super().__init__(f"{processes} processes on this machine need {processes} GPUs; PyTorch sees {devices}")
