"""Several processes started by torchrun (gloo on CPU, one thread each) against one process doing the same work.

Every torchrun here is real: `camviewer ... --nproc 2` (torchrun's elastic agent started by camviewer) or
`python -m torch.distributed.run` itself; the expectations come from one plain process (weights, predictions,
maps, scores), from the images themselves (each validation image counted once), or from torchrun's own report.
"""

from __future__ import annotations

import csv
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from distributed_jobs import run_jobs
from gui_helpers import synth_cells
from test_datasets import class_folders

from camviewer.cli import main
from camviewer.commands._scale import without_nproc
from camviewer.core.distributed.events import EventLog, EventReader
from camviewer.core.distributed.shards import shard
from camviewer.core.distributed.world import World
from camviewer.core.explain.sharded import explain_shards_to_folder
from camviewer.core.images import read_image
from camviewer.core.jobs import CancelToken, Progress
from camviewer.core.model.loading import load_model
from camviewer.core.training.records import EpochRecord

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 300  # a shared 2-core machine; every wait ends as soon as its condition holds
TINY = ["--arch", "tinyvgg_gap", "--widths", "4,8", "--input-size", "16", "--device", "cpu", "--augment", "none"]

pytestmark = pytest.mark.usefixtures("one_thread")


def environment() -> dict:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path}


def camviewer(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "camviewer", *args]
    return subprocess.run(command, capture_output=True, text=True, env=environment(), cwd=cwd, timeout=TIMEOUT_S)


def history(run: Path) -> list[dict]:
    with open(run / "history.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def table(path: Path) -> list[list[str]]:
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


# ---------------------------------------------------------------------------------------------- pieces


@pytest.mark.parametrize("size", [1, 2, 3, 4])
@pytest.mark.parametrize("items", [0, 1, 5, 8, 11])
def test_shares_hold_every_item_exactly_once(items, size):
    shares = [shard(range(items), World(rank, size)) for rank in range(size)]
    assert sorted(i for share in shares for i in share) == list(range(items))
    assert max(map(len, shares)) - min(map(len, shares)) <= 1  # as even as torch's sampler makes them


def test_a_world_of_one_is_the_identity():
    world = World()
    assert world.writes and world.sum([1.5, 2]) == [1.5, 2.0] and world.any(True) and not world.any(False)
    assert world.gather({"a": 1}) == [{"a": 1}] and world.device("cpu") == "cpu"


def test_nproc_is_taken_out_of_the_workers_command():
    assert without_nproc(["train", "d", "--nproc", "2", "--out", "r"]) == ["train", "d", "--out", "r"]
    assert without_nproc(["explain", "--nproc=4", "x"]) == ["explain", "x"]


def test_an_event_file_is_read_whole_lines_at_a_time(tmp_path):
    path = tmp_path / "events.jsonl"
    reader = EventReader(path)
    assert reader.new_records() == []  # not there yet
    log = EventLog(path)
    log.write(Progress(1, 2, "epoch 1", EpochRecord(1, 0.5, 0.4, 0.7, 0.8, 1e-3, 1.0, True, 8, 2)))
    with open(path, "a") as handle:
        handle.write('{"done": 2')  # a line still being written
    (record,) = reader.new_records()
    assert record["kind"] == "EpochRecord" and EpochRecord(**record["payload"]).processes == 2
    assert reader.new_records() == []
    log.close()


# -------------------------------------------------------------------------------------------- training


@pytest.fixture(scope="module")
def split_data(tmp_path_factory) -> Path:
    """A train/val tree: 32 training images (4 global batches of 8) and 11 validation images (an odd count, so
    two processes' shares differ and torch's sampler would pad one with a repeat)."""
    root = tmp_path_factory.mktemp("split")
    class_folders(root / "train", {"blue": 16, "red": 16})
    class_folders(root / "val", {"blue": 6, "red": 5})
    return root


def test_two_processes_train_the_weights_of_one_with_the_same_global_batch(split_data, tmp_path):
    common = [str(split_data), *TINY, "--batch-size", "8", "--epochs", "3", "--lr", "0.01", "--seed", "3"]
    assert main(["train", *common, "--out", str(tmp_path / "one")]) == 0
    two = camviewer("train", *common, "--out", str(tmp_path / "two"), "--nproc", "2")
    assert two.returncode == 0, two.stderr

    one_weights = load_model(tmp_path / "one" / "best.safetensors", device="cpu").module.state_dict()
    best = load_model(tmp_path / "two" / "best.safetensors", device="cpu")
    for name, tensor in best.module.state_dict().items():
        torch.testing.assert_close(tensor, one_weights[name], rtol=1e-4, atol=1e-5)
    rows = history(tmp_path / "two")
    assert [row["epoch"] for row in rows] == ["1", "2", "3"]
    assert {(row["batch_size"], row["processes"]) for row in rows} == {("8", "2")}
    notes = best.card.notes["training"]
    assert (notes["batch_size"], notes["processes"]) == (8, 2)  # the global batch, in the card

    # validation counted every validation image exactly once: recomputed here from the best checkpoint
    best_row = rows[notes["best_epoch"] - 1]
    images = sorted((split_data / "val").rglob("*.png"))
    probabilities = torch.from_numpy(best.predict([read_image(path) for path in images]))
    truth = torch.tensor([best.card.class_names.index(path.parent.name) for path in images])
    loss = torch.nn.functional.nll_loss(probabilities.double().log(), truth)
    assert float(best_row["val_loss"]) == pytest.approx(float(loss), abs=1e-5)
    assert float(best_row["val_acc"]) == pytest.approx(float((probabilities.argmax(1) == truth).double().mean()))


def test_only_rank_0_claims_the_run_folder_and_its_refusal_stops_every_process(split_data, tmp_path):
    used = tmp_path / "used"  # a run with a finished epoch
    used.mkdir()
    (used / "config.json").write_text("{}")
    (used / "history.csv").write_text("epoch,train_loss\n1,0.5\n")
    result = camviewer("train", str(split_data), *TINY, "--batch-size", "8", "--out", str(used), "--nproc", "2")
    assert result.returncode == 1
    assert "process 0 of 2 failed: RunFolderInUse" in result.stderr and "already holds a training run" in result.stderr
    assert sorted(path.name for path in used.iterdir()) == ["config.json", "history.csv"]  # nothing written


def workers(agent: subprocess.Popen) -> dict[int, tuple[int, int]]:
    """pid -> (rank, restart count) of the processes torchrun's agent started."""
    found = {}
    children = Path(f"/proc/{agent.pid}/task/{agent.pid}/children").read_text().split()
    for pid in map(int, children):
        try:
            variables = dict(
                item.split(b"=", 1) for item in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0") if b"=" in item
            )
        except OSError:  # ended meanwhile
            continue
        if b"RANK" in variables:
            found[pid] = (int(variables[b"RANK"]), int(variables.get(b"TORCHELASTIC_RESTART_COUNT", b"0")))
    return found


def wait_for(condition, agent: subprocess.Popen, what: str):
    deadline = time.monotonic() + TIMEOUT_S
    while not (value := condition()):
        assert agent.poll() is None, f"torchrun ended before {what}: {agent.stdout.read()[-4000:]}"
        assert time.monotonic() < deadline, f"no {what} after {TIMEOUT_S} s"
        time.sleep(0.05)
    return value


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds torchrun's processes through /proc")
def test_a_killed_process_is_restarted_from_the_last_epoch_then_the_run_resumes_on_one_process(split_data, tmp_path):
    run = tmp_path / "run"
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    command = [*torchrun, "--max-restarts", "1", "--module", "camviewer", "train", str(split_data), *TINY]
    command += ["--batch-size", "8", "--epochs", "500", "--patience", "500", "--out", str(run)]
    agent = subprocess.Popen(command, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        epochs = lambda: len(history(run)) if (run / "history.csv").is_file() else 0  # noqa: E731
        wait_for(lambda: (run / "last.pt").is_file(), agent, "a finished epoch")  # (its state: written last)
        victim = wait_for(lambda: [pid for pid, (rank, _) in workers(agent).items() if rank == 1], agent, "rank 1")
        os.kill(victim[0], signal.SIGKILL)  # torchrun stops rank 0 and restarts both (one restart allowed)
        restarted = wait_for(
            lambda: [pid for pid, (rank, count) in workers(agent).items() if rank == 1 and count == 1], agent, "restart"
        )
        before = epochs()
        wait_for(lambda: epochs() > before, agent, "an epoch after the restart")  # it went on from last.pt
        os.kill(restarted[0], signal.SIGKILL)  # no restart left: the run stops
        output, _ = agent.communicate(timeout=TIMEOUT_S)
    finally:
        if agent.poll() is None:
            agent.kill()
    assert agent.returncode != 0
    assert "rank      : 1" in output and "Signal 9 (SIGKILL)" in output  # torchrun's report names the process
    done = len(history(run))
    assert [int(row["epoch"]) for row in history(run)] == list(range(1, done + 1))  # no epoch lost or repeated

    # resumed from two processes to one
    assert main(["train", "--resume", str(run), "--epochs", str(done + 1)]) == 0
    rows = history(run)
    assert len(rows) == done + 1 and rows[0]["processes"] == "2" and rows[-1]["processes"] == "1"
    assert load_model(run / "best.safetensors", device="cpu").card.class_names == ["blue", "red"]


# ------------------------------------------------------------------------------------------- explaining


GOOD_IMAGES = 23  # the synthetic cells and the copy


@pytest.fixture(scope="module")
def cells(tmp_path_factory) -> Path:
    """Synthetic cells with lesion masks; a second image named like the first in another folder; a bad file."""
    data = synth_cells(tmp_path_factory.mktemp("cells") / "cells", n=22, size=32)
    first = sorted((data / "parasitized").glob("*.png"))[0]
    (data / "uninfected" / "more").mkdir()
    (data / "uninfected" / "more" / first.name).write_bytes(first.read_bytes())
    (data / "uninfected" / "broken.png").write_bytes(b"not a png")
    return data


@pytest.fixture(scope="module")
def checkpoint(cells, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("model") / "run"
    arguments = [str(cells), *TINY[:-2], "--input-size", "32", "--epochs", "1", "--batch-size", "8"]
    assert main(["train", *arguments, "--out", str(out)]) == 0
    return out / "best.safetensors"


@pytest.fixture(scope="module")
def reference(cells, checkpoint, tmp_path_factory) -> Path:
    """The export of one process, as `camviewer explain` writes it."""
    out = tmp_path_factory.mktemp("reference") / "export"
    arguments = [*classes(cells), "--model", str(checkpoint), "--method", "gradcam,layercam", "--out", str(out)]
    assert main(["explain", *arguments]) == 0
    return out


def classes(cells: Path) -> list[str]:
    """The images to explain (not the ground-truth masks beside them)."""
    return [str(cells / "parasitized"), str(cells / "uninfected")]


def assert_same_export(out: Path, reference: Path) -> None:
    expected = table(reference / "predictions.csv")
    assert len(expected) == 1 + GOOD_IMAGES  # the broken file has no row
    rows = table(out / "predictions.csv")
    assert [row[0] for row in rows] == [row[0] for row in expected]  # every image once, in input order
    for row, want in zip(rows[1:], expected[1:]):
        assert (row[1], row[-1]) == (want[1], want[-1])  # the prediction, and the stem of the output names
        np.testing.assert_allclose(np.float64(row[2:-1]), np.float64(want[2:-1]), atol=1e-5)
    names = sorted(path.name for path in (reference / "maps").iterdir())
    assert sorted(path.name for path in (out / "maps").iterdir()) == names and len(names) == 2 * GOOD_IMAGES
    for name in names:
        np.testing.assert_allclose(np.load(out / "maps" / name), np.load(reference / "maps" / name), atol=1e-5)
    assert sorted(path.name for path in (out / "overlays").iterdir()) == [n[:-4] + ".png" for n in names]
    assert not list(out.glob("predictions.part-*"))  # merged and removed


def test_two_processes_explain_exactly_what_one_process_writes(cells, checkpoint, reference, tmp_path):
    out = tmp_path / "two"
    arguments = [*classes(cells), "--model", str(checkpoint), "--method", "gradcam,layercam", "--out", str(out)]
    result = camviewer("explain", *arguments, "--nproc", "2")
    assert result.returncode == 0, result.stderr
    assert_same_export(out, reference)
    assert result.stderr.count("skipped") == 1 and "broken.png" in result.stderr  # reported once, by rank 0
    assert f"explained {GOOD_IMAGES} image(s), skipped 1" in result.stdout


def test_an_interrupted_export_resumes_on_another_number_of_processes(cells, checkpoint, reference, tmp_path):
    out, cancel, finished = tmp_path / "resumed", CancelToken(), 7
    job = explain_shards_to_folder(
        load_model(checkpoint, device="cpu"), classes(cells), out, ["gradcam", "layercam"], cancel=cancel
    )
    with pytest.raises(Exception, match="cancelled"):
        for event in job:
            if event.done == finished:  # stops before the next batch: 7 or more images are complete
                cancel.cancel()
    done = [row[0] for row in table(out / "predictions.part-0.csv")]
    assert len(done) >= finished
    first_maps = {path: path.stat().st_mtime_ns for path in (out / "maps").iterdir()}

    arguments = [*classes(cells), "--model", str(checkpoint), "--method", "gradcam,layercam", "--out", str(out)]
    result = camviewer("explain", *arguments, "--resume", "--nproc", "2")
    assert result.returncode == 0, result.stderr
    assert f"explained {GOOD_IMAGES - len(done)} image(s) ({len(done)} already done)" in result.stdout
    assert_same_export(out, reference)
    assert all(path.stat().st_mtime_ns == when for path, when in first_maps.items())  # not explained twice


# ---------------------------------------------------------------------------- evaluate, localize, faithfulness


def test_evaluation_localization_and_faithfulness_on_two_processes_match_one(cells, checkpoint, tmp_path):
    out = tmp_path / "results.pickle"
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    command = [*torchrun, str(ROOT / "tests" / "distributed_jobs.py"), str(cells), str(checkpoint), str(out)]
    result = subprocess.run(command, capture_output=True, text=True, env=environment(), timeout=TIMEOUT_S)
    assert result.returncode == 0, result.stdout + result.stderr
    two = pickle.loads(out.read_bytes())
    one = run_jobs(cells, checkpoint)
    assert two["world"] == 2
    assert two["paths"] == one["paths"] and two["accuracy"] == one["accuracy"]
    np.testing.assert_allclose(two["probabilities"], one["probabilities"], atol=1e-5)
    for key in ("localization_rows", "faithfulness_rows"):
        assert len(two[key]) == len(one[key]) > 0
        for row, want in zip(two[key], one[key]):
            assert row.keys() == want.keys()
            for name, value in want.items():
                assert row[name] == pytest.approx(value, abs=1e-4), (key, name)
    assert json.dumps(two["localization_summary"], sort_keys=True, default=str) == json.dumps(
        one["localization_summary"], sort_keys=True, default=str
    ) or _close(two["localization_summary"], one["localization_summary"])
    assert _close(two["faithfulness_summary"], one["faithfulness_summary"])


def _close(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_close(a[key], b[key]) for key in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, abs=1e-4, nan_ok=True)
    return a == b
