"""A training run killed at any moment, or stopped by a full disk, loses no finished epoch (issue 11)."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
from hostile_files import run_with_file_limit
from test_datasets import class_folders

from camviewer.cli import main
from camviewer.core.errors import RunFolderInUse, RunInterrupted, WriteFailed
from camviewer.core.jobs import run_to_end
from camviewer.core.model.loading import load_model
from camviewer.core.training import loop, run_folder, setup
from camviewer.core.training.loop import read_train_state, resume, train
from camviewer.core.training.records import Notice, TrainConfig

ROOT = Path(__file__).resolve().parent.parent
TINY = {
    "arch": "tinyvgg_gap",
    "arch_options": {"widths": [4, 8]},
    "input_size": (16, 16),
    "batch_size": 6,
    "lr": 0.01,
    "val_split": 0.25,
    "device": "cpu",
    "workers": 0,
    "epochs": 3,
    "patience": 20,
}
pytestmark = pytest.mark.usefixtures("one_thread")


class Killed(BaseException):
    """Stands for SIGKILL: nothing in camviewer catches it, so no clean-up runs after the point it is raised."""


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return class_folders(tmp_path_factory.mktemp("data"), {"blue": 8, "red": 8}, size=16)


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory):
    """The same run, never interrupted: what every interrupted run must end up equal to (with one thread, as the
    tests run: another thread count sums in another order)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = run_to_end(train(TrainConfig(str(data), str(tmp_path_factory.mktemp("reference") / "run"), **TINY)))
    finally:
        torch.set_num_threads(threads)
    return result


def history(result) -> list[dict]:
    return [{k: v for k, v in asdict(r).items() if k != "seconds"} for r in result.history]


def same_weights(a: Path, b: Path) -> bool:
    first, second = (load_model(p, device="cpu").module.state_dict() for p in (a, b))
    return all(first[k].equal(second[k]) for k in first)


# Each point: the module, the name of a writer it uses, and which of its calls is followed by the kill.
KILL_POINTS = {
    "after split.csv, before config.json": (setup, "write_split_csv", 1),
    "after config.json, before any epoch": (setup, "write_text_atomic", 1),
    "after epoch 1's last.pt, before its best.safetensors": (loop, "save_torch_atomic", 1),
    "after epoch 1's best.safetensors, before its history.csv": (loop, "save_checkpoint", 1),
    "after epoch 1's history.csv": (loop, "write_text_atomic", 1),
    "after epoch 2's last.pt": (loop, "save_torch_atomic", 2),
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_run_killed_at_any_point_continues_to_the_same_result(data, tmp_path, reference, monkeypatch, point):
    module, name, call = KILL_POINTS[point]
    original, calls = getattr(module, name), []

    def then_killed(*args, **kwargs):
        value = original(*args, **kwargs)
        calls.append(args)
        if len(calls) == call:
            raise Killed
        return value

    monkeypatch.setattr(module, name, then_killed)
    config = TrainConfig(str(data), str(tmp_path / "run"), **TINY)
    with pytest.raises(Killed):
        run_to_end(train(config))
    monkeypatch.undo()
    run_dir = tmp_path / "run"
    events = []
    if (run_dir / "last.pt").exists():  # an epoch finished: it is kept, and the run goes on after it
        result = run_to_end(resume(run_dir), events.append)
    else:  # no epoch finished: the folder is not "in use", the same command starts it again
        left = [name for name in run_folder.RUN_FILES if (run_dir / name).exists()]
        result = run_to_end(train(config), events.append)
        told = any("no epoch had finished" in e.message for e in events if isinstance(e.payload, Notice))
        assert told == bool(left)  # replacing config.json is said; a lone split.csv is just rewritten
    expected = reference
    assert history(result) == history(expected) and result.best_epoch == expected.best_epoch
    assert same_weights(result.best_checkpoint, expected.best_checkpoint)
    assert (run_dir / "history.csv").read_text().count("\n") == 1 + len(expected.history)


def test_a_real_sigkill_after_the_first_last_pt_loses_no_epoch(data, tmp_path, reference):
    script = (
        "import os, signal, sys\n"
        "from camviewer.core.training import loop\n"
        "from camviewer.core.training.records import TrainConfig\n"
        "from camviewer.core.jobs import run_to_end\n"
        "original = loop.save_torch_atomic\n"
        "def save(*args):\n"
        "    original(*args)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "loop.save_torch_atomic = save\n"
        f"run_to_end(loop.train(TrainConfig(sys.argv[1], sys.argv[2], **{TINY!r})))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    killed = subprocess.run([sys.executable, "-c", script, str(data), str(tmp_path / "run")], env=env, timeout=300)
    assert killed.returncode == -9
    run_dir = tmp_path / "run"
    assert (run_dir / "last.pt").exists() and not (run_dir / "best.safetensors").exists()
    with pytest.raises(RunFolderInUse):  # epoch 1 finished: never trained over unasked
        run_to_end(train(TrainConfig(str(data), str(run_dir), **TINY)))
    events = []
    result = run_to_end(resume(run_dir), events.append)
    assert any("best.safetensors restored from last.pt (epoch 1)" in e.message for e in events)
    expected = reference
    assert history(result) == history(expected) and same_weights(result.best_checkpoint, expected.best_checkpoint)


def test_a_full_disk_stops_training_with_one_message_and_the_run_resumes(data, tmp_path, reference, monkeypatch):
    original, calls = loop.save_torch_atomic, []

    def disk_full_at_epoch_2(state, path):
        calls.append(path)
        if len(calls) == 2:
            raise WriteFailed(path, "No space left on device", errno.ENOSPC)
        return original(state, path)

    monkeypatch.setattr(loop, "save_torch_atomic", disk_full_at_epoch_2)
    run_dir = tmp_path / "run"
    with pytest.raises(RunInterrupted) as stopped:
        run_to_end(train(TrainConfig(str(data), str(run_dir), **TINY)))
    assert stopped.value.epochs_done == 1 and stopped.value.cause.no_space
    monkeypatch.undo()
    result = run_to_end(resume(run_dir))
    expected = reference
    assert history(result) == history(expected) and same_weights(result.best_checkpoint, expected.best_checkpoint)


def test_a_real_full_disk_in_the_cli_is_one_message_and_the_run_can_start_again(data, tmp_path, capsys):
    run_dir = tmp_path / "run"
    args = ["--arch", "tinyvgg_gap", "--widths", "4,8", "--input-size", "16", "--epochs", "2", "--device", "cpu"]
    command = ["-c", "import sys; from camviewer.cli import main; sys.exit(main())", "train", str(data)]
    full = run_with_file_limit([*command, "--out", str(run_dir), *args], limit_bytes=16_000, cwd=ROOT, timeout=300)
    assert full.returncode == 1 and "Traceback" not in full.stderr, full.stderr
    message = [line for line in full.stderr.splitlines() if line.startswith("camviewer:")]
    assert len(message) == 1 and "training stopped after 0 finished epoch(s)" in message[0]
    assert "last.pt: File too large" in message[0]
    assert "start it again with the same command" in full.stderr
    assert not list(run_dir.glob(".*.tmp"))
    assert main(["train", str(data), "--out", str(run_dir), *args]) == 0  # the same command, now with room
    assert "no epoch had finished" in capsys.readouterr().err
    assert len(read_train_state(run_dir)["history"]) == 2


def test_every_run_file_has_the_same_mode(data, tmp_path):
    result = run_to_end(train(TrainConfig(str(data), str(tmp_path / "run"), **{**TINY, "epochs": 1})))
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in result.run_dir.iterdir() if path.is_file()}
    assert {"best.safetensors", "last.pt", "history.csv", "split.csv", "config.json"} <= set(modes)
    umask = os.umask(0)
    os.umask(umask)
    assert set(modes.values()) == {0o666 & ~umask}, modes  # safetensors used to leave best.safetensors 0600
