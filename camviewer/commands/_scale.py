"""A command on several processes: the ``--nproc N`` shorthand, and a command that torchrun started.

``camviewer COMMAND ... --nproc N`` starts torchrun's elastic agent in this process (``--standalone``: one
machine, a free port), which runs N copies of the same command without ``--nproc``, and reports a process that
failed as :class:`~camviewer.core.errors.ProcessFailed`. A process that torchrun started (``torchrun -m camviewer
...``, under ``srun`` too) joins the process group before its command runs and leaves it afterwards; only rank 0
prints progress and results, every rank reports its own errors (on stderr and in the file torchrun collects
them from), and SIGTERM or SIGINT (torchrun forwards them) cancels the job at the same step on every process.
Commands that do not split their work run on rank 0 only.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from camviewer.commands import _common
from camviewer.commands._common import EXIT_OK, EXIT_USAGE, fail

SPLIT_COMMANDS = ("train", "explain", "evaluate", "localize", "faithfulness")
CANCEL = None  # the CancelToken SIGTERM and SIGINT set in a torchrun process (None elsewhere)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--nproc",
        type=int,
        metavar="N",
        help="run on N processes on this machine, started by torchrun's elastic agent: one per GPU with CUDA "
        "(NCCL), else N CPU processes (gloo); for several machines start torchrun yourself (README: Scaling out)",
    )


def cancel_token():
    """The token a job started by torchrun honours (SIGTERM/SIGINT set it); None in a plain process."""
    return CANCEL


def without_nproc(argv: list[str]) -> list[str]:
    out, skip = [], False
    for token in argv:
        if skip:
            skip = False
        elif token == "--nproc":
            skip = True
        elif not token.startswith("--nproc="):
            out.append(token)
    return out


def launch(argv: list[str], processes: int, events: str | None = None) -> int:
    """Run ``camviewer ARGV`` on ``processes`` local processes through torchrun's elastic agent."""
    if processes < 1:
        return fail("--nproc must be at least 1", EXIT_USAGE)
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    torchrun = ["--standalone", f"--nproc-per-node={processes}", "--module", "camviewer", *without_nproc(argv)]
    try:
        run(get_args_parser().parse_args(torchrun))
    except ChildFailedError as error:
        failure = process_failed(error, processes)
        if events:
            _write_failure(events, failure)
        return fail(failure)
    except SignalException as stopped:  # forwarded to the processes, which stopped at the same step
        return fail(f"stopped by {signal.Signals(stopped.sigval).name}; the processes kept what they had finished")
    return EXIT_OK


def process_failed(error, processes: int):
    """torchrun's ChildFailedError as a ProcessFailed: the first process that failed, and why."""
    from camviewer.core.errors import ProcessFailed

    rank, failure = error.get_first_failure()
    message = failure.message
    if isinstance(message, dict):  # what the process recorded: "Type: message"
        message = message.get("message", "")
    if failure.exitcode < 0:
        reason = f"killed by signal {failure.signal_name()}"
    elif failure.error_file_data.get("message"):
        reason = str(message)
    else:
        reason = f"exit status {failure.exitcode} (its own message is above)"
    return ProcessFailed(rank, processes, failure.exitcode, reason)


def _write_failure(events: str, failure) -> None:
    from camviewer.core.distributed.events import EventLog, Failure
    from camviewer.core.jobs import Progress

    log = EventLog(events)
    log.write(Progress(0, None, str(failure), Failure(failure.rank, failure.size, failure.exitcode, failure.reason)))
    log.close()


def as_rank(name: str, run, args: argparse.Namespace) -> int:
    """Run a command in a process torchrun started: join the group, run, leave (see the module docstring)."""
    from torch.distributed.elastic.multiprocessing.errors import record

    from camviewer.core.distributed import world as worlds

    if name not in SPLIT_COMMANDS:
        return run(args) if int(os.environ.get("RANK", "0")) == 0 else EXIT_OK
    try:
        world = worlds.join(getattr(args, "device", None) or "auto")
    except Exception as error:  # no device, no rendezvous: said like any other failure
        return fail(error)
    if name != "train" and getattr(args, "device", None) is not None:  # training keeps "auto" in its config
        args.device = world.device(args.device)
    if not world.writes:  # the same progress and results as rank 0: said once
        _common.ERRORS = sys.stderr
        sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (for the life of the process)
    _cancel_on_signals()
    try:
        return record(run)(args)
    finally:
        worlds.leave()


def logged(job, events: str | None):
    """``job``'s events, each also appended by rank 0 to the file ``events`` as a JSON line, and its result last."""
    from camviewer.core.distributed.events import EventLog
    from camviewer.core.distributed.world import current
    from camviewer.core.jobs import Progress, relay

    if not events or not current().writes:
        return (yield from job)
    log = EventLog(events)
    try:
        result = yield from relay(job, lambda event: log.write(event) or event)
        log.write(Progress(1, 1, "result", result))
        return result
    finally:
        log.close()


def _cancel_on_signals() -> None:
    """SIGTERM and SIGINT cancel the job (it stops at the same step on every process, keeping what it finished)."""
    global CANCEL
    from camviewer.core.jobs import CancelToken

    CANCEL = CancelToken()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: CANCEL.cancel())
