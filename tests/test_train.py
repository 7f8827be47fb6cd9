"""Training: learning, determinism, resume, cancel, kill-during-save safety, fine-tuning, freezing, CLI."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest
import torch
from test_datasets import class_folders

from camviewer import explain
from camviewer.cli import main
from camviewer.core.data.labels import NotOneToOne, UnknownClasses, UnmatchedLabels
from camviewer.core.errors import (
    AlreadyTrained,
    DatasetError,
    PretrainedWeightsUnavailable,
    RunFolderInUse,
    StoppedEarly,
    TrainingOptionError,
)
from camviewer.core.evaluation.report import HISTORY_COLUMNS
from camviewer.core.jobs import CancelToken, run_to_end
from camviewer.core.model.archs import build_model
from camviewer.core.model.loading import load_model
from camviewer.core.training import setup as train_setup
from camviewer.core.training.defaults import MIN_STEPS_PER_EPOCH, default_batch_size
from camviewer.core.training.loop import read_train_state, resume, train
from camviewer.core.training.records import (
    AtChance,
    BatchUpdate,
    EpochRecord,
    Notice,
    ResumeChanges,
    SkippedTestEvaluation,
    TrainConfig,
    TrainingError,
)
from camviewer.core.training.setup import freeze_parameters

TINY = {
    "arch": "tinyvgg_gap",
    "arch_options": {"widths": [4, 8]},
    "input_size": (16, 16),
    "batch_size": 6,
    "lr": 0.01,
    "val_split": 0.25,
    "test_split": 0.0,
    "device": "cpu",
    "workers": 0,
}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """24 images of 32 x 32: reddish vs bluish, trivially separable."""
    return class_folders(tmp_path_factory.mktemp("data"), {"blue": 12, "red": 12})


def config(data: Path, out: Path, **changes) -> TrainConfig:
    return TrainConfig(data=str(data), out=str(out), **{**TINY, "epochs": 4, "patience": 20, **changes})


def run(job, events: list | None = None):
    return run_to_end(job, events.append if events is not None else None)


def history_without_time(result) -> list[dict]:
    return [{k: v for k, v in asdict(record).items() if k != "seconds"} for record in result.history]


def same_weights(a: Path, b: Path) -> bool:
    first, second = load_model(a, device="cpu").module.state_dict(), load_model(b, device="cpu").module.state_dict()
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def test_learns_a_separable_set_and_writes_the_run_folder(data, tmp_path):
    events = []
    result = run(train(config(data, tmp_path / "run", epochs=12, patience=12)), events)

    assert max(r.train_acc for r in result.history) == 1.0 and result.history[-1].val_acc == 1.0
    assert {"config.json", "split.csv", "history.csv", "best.safetensors", "last.pt"} <= {
        p.name for p in (tmp_path / "run").iterdir()
    }
    model = load_model(result.best_checkpoint, device="cpu")
    notes = model.card.notes["training"]
    assert notes["best_epoch"] == result.best_epoch and notes["seed"] == 0
    assert Path(notes["split_file"]) == (tmp_path / "run" / "split.csv").resolve()
    assert model.card.class_names == ["blue", "red"] and model.card.head == "softmax"
    with open(tmp_path / "run" / "history.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == list(HISTORY_COLUMNS) and len(rows) == len(result.history)  # what the report plots
    batches = [e.payload for e in events if isinstance(e.payload, BatchUpdate)]
    epochs = [e.payload for e in events if isinstance(e.payload, EpochRecord)]
    assert batches[0].batches == 3 and {b.epoch for b in batches} == set(range(1, 13))
    assert [e.epoch for e in epochs] == list(range(1, 13)) and sum(e.is_best for e in epochs) >= 1


def test_same_seed_gives_identical_history_and_weights(data, tmp_path):
    first = run(train(config(data, tmp_path / "a", epochs=3, augment="standard")))
    second = run(train(config(data, tmp_path / "b", epochs=3, augment="standard")))
    assert history_without_time(first) == history_without_time(second)
    assert same_weights(first.best_checkpoint, second.best_checkpoint)


@pytest.mark.parametrize("schedule", ["warmup-cosine", "plateau"])
def test_resume_continues_at_the_next_epoch_as_if_never_stopped(data, tmp_path, schedule):
    whole = run(train(config(data, tmp_path / "whole", epochs=4, schedule=schedule)))
    if schedule == "plateau":  # the rate does not depend on the planned epochs: a run may be extended
        part = run(train(config(data, tmp_path / "part", epochs=2, schedule=schedule)))
        changes = ResumeChanges(epochs=4)
    else:  # the cosine decays over the planned epochs: the same plan, interrupted after epoch 2
        token = CancelToken()
        job = train(config(data, tmp_path / "part", epochs=4, schedule=schedule), cancel=token)
        part = cancel_after(job, token, lambda e: isinstance(e.payload, EpochRecord) and e.payload.epoch == 2)
        changes = ResumeChanges()
    assert len(part.history) == 2

    events = []
    resumed = run(resume(tmp_path / "part", changes), events)

    epochs = [e.payload.epoch for e in events if isinstance(e.payload, EpochRecord)]
    assert epochs == [3, 4]
    assert history_without_time(resumed) == history_without_time(whole)
    assert same_weights(tmp_path / "part" / "best.safetensors", tmp_path / "whole" / "best.safetensors")
    state = read_train_state(tmp_path / "part")
    assert state["optimizer"]["state"][0]["step"].item() == 4 * 3  # Adam's step count carried over


def test_resume_refuses_what_it_cannot_continue(data, tmp_path):
    run(train(config(data, tmp_path / "run", epochs=1)))
    with pytest.raises(TypeError):  # only epochs, patience, device and workers may change
        ResumeChanges(lr=0.1)
    with pytest.raises(AlreadyTrained, match="already ran 1 epochs") as error:
        run(resume(tmp_path / "run"))
    assert (error.value.epochs_done, error.value.epochs) == (1, 1)
    with pytest.raises(StoppedEarly) as error:  # no improvement for 0 epochs already exhausts a patience of 0
        run(resume(tmp_path / "run", ResumeChanges(epochs=2, patience=0)))
    assert (error.value.stale_epochs, error.value.patience) == (0, 0)
    with pytest.raises(TrainingError, match="no last.pt"):
        run(resume(tmp_path))


def test_a_run_folder_in_use_is_refused(data, tmp_path):
    run(train(config(data, tmp_path / "run", epochs=1)))
    with pytest.raises(RunFolderInUse, match="already holds a training run") as error:
        run(train(config(data, tmp_path / "run", epochs=1)))
    assert error.value.run_dir == tmp_path / "run"
    assert error.value.files == ["config.json", "best.safetensors", "last.pt", "history.csv"]


def cancel_after(job, token: CancelToken, predicate):
    """Drive ``job``, cancelling once ``predicate(event)`` holds; return its result."""
    try:
        while True:
            event = next(job)
            if predicate(event):
                token.cancel()
    except StopIteration as stop:
        return stop.value


def test_cancel_mid_training_keeps_the_best_checkpoint(data, tmp_path):
    token = CancelToken()
    job = train(config(data, tmp_path / "run", epochs=10), cancel=token)
    result = cancel_after(job, token, lambda e: isinstance(e.payload, BatchUpdate) and e.payload.epoch == 3)

    assert result.stop_reason == "cancelled" and len(result.history) == 2
    model = load_model(result.best_checkpoint, device="cpu")
    assert model.card.notes["training"]["best_epoch"] in (1, 2)
    assert "warning" not in model.card.notes["training"]


def test_cancel_before_the_first_validation_saves_the_current_weights_with_a_note(data, tmp_path):
    token = CancelToken()
    job = train(config(data, tmp_path / "run"), cancel=token)
    result = cancel_after(job, token, lambda e: isinstance(e.payload, BatchUpdate))

    assert result.stop_reason == "cancelled" and result.history == [] and result.best_epoch is None
    model = load_model(tmp_path / "run" / "best.safetensors", device="cpu")
    assert "never validated" in model.card.notes["training"]["warning"]


def test_closing_the_generator_still_leaves_a_checkpoint(data, tmp_path):
    job = train(config(data, tmp_path / "run"))
    for event in job:
        if isinstance(event.payload, BatchUpdate):
            break
    job.close()  # what a GUI worker's quit() does
    load_model(tmp_path / "run" / "best.safetensors", device="cpu")


def test_cancel_while_checking_images_returns_without_a_checkpoint(data, tmp_path):
    token = CancelToken()
    token.cancel()
    result = run(train(config(data, tmp_path / "run"), cancel=token))
    assert result.stop_reason == "cancelled" and result.best_checkpoint is None


KILLER = """
import sys
from camviewer.core.jobs import run_to_end
from camviewer.core.training.loop import train
from camviewer.core.training.records import EpochRecord, TrainConfig
config = TrainConfig(data=sys.argv[1], out=sys.argv[2], arch="tinyvgg_gap", arch_options={"widths": [4, 8]},
    input_size=(16, 16), batch_size=6, lr=0.003, val_split=0.25, device="cpu", workers=0, epochs=1000, patience=1000)
run_to_end(train(config), lambda event: isinstance(event.payload, EpochRecord) and print(flush=True))
"""


def _best_changed(out: Path):
    """A condition that turns true when best.safetensors is replaced after it first exists."""
    seen = []

    def changed() -> bool:
        best = out / "best.safetensors"
        if not best.exists():
            return False
        seen.append(best.stat().st_mtime_ns)
        return seen[-1] != seen[0]

    return changed


KILL_MOMENTS = {
    "after the first epoch": lambda out: lambda: True,
    "while best.safetensors is rewritten": lambda out: (
        lambda: (out / "best.safetensors").exists() and any(out.glob(".best.safetensors.*.tmp"))
    ),
    "right after best.safetensors was replaced": _best_changed,
}


def test_killing_training_during_saves_never_leaves_a_corrupt_best_checkpoint(data, tmp_path):
    """SIGKILL a training process at varied moments, including mid-save; best.safetensors always loads."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for attempt, (moment, condition) in enumerate(KILL_MOMENTS.items()):
        out = tmp_path / f"run{attempt}"
        process = subprocess.Popen([sys.executable, "-c", KILLER, str(data), str(out)], env=env, stdout=subprocess.PIPE)
        try:
            assert process.stdout.readline(), "training ended before its first epoch"  # blocks: no busy wait yet
            ready = condition(out)
            while not ready():  # then a short busy wait, no sleep: the moment is what matters
                assert process.poll() is None, f"training ended before the moment {moment!r}"
            process.send_signal(signal.SIGKILL)
        finally:
            process.kill()
            process.wait()
        model = load_model(out / "best.safetensors", device="cpu")  # never half-written
        assert model.card.notes["training"]["best_epoch"] >= 1, moment
        if (out / "last.pt").exists():  # written the same way
            read_train_state(out)


def test_freeze_by_fraction_and_by_layer_name():
    model = build_model("resnet18", 2)
    total = sum(p.numel() for p in model.parameters())
    frozen = freeze_parameters(model, "0.5")
    first_trainable = next(p for p in model.parameters() if p.requires_grad)
    assert frozen <= 0.5 * total < frozen + first_trainable.numel()  # as many leading values as fit in half
    assert model.conv1.weight.requires_grad is False and model.fc.weight.requires_grad is True

    model = build_model("resnet18", 2)
    frozen = freeze_parameters(model, "layer3")
    assert not any(p.requires_grad for p in model.layer3.parameters())
    assert all(p.requires_grad for p in model.layer4.parameters())
    assert frozen == sum(p.numel() for p in model.parameters() if not p.requires_grad)
    with pytest.raises(TrainingOptionError, match="top-level modules are conv1, bn1") as error:
        freeze_parameters(build_model("resnet18", 2), "layer9")
    assert (error.value.option, error.value.value) == ("freeze", "layer9")
    with pytest.raises(TrainingOptionError, match=r"\[0, 1\)"):
        freeze_parameters(build_model("resnet18", 2), "1.0")


def test_frozen_parameters_do_not_change_in_training(data, tmp_path):
    result = run(train(config(data, tmp_path / "run", epochs=2, freeze="conv_block_1")))
    trained = load_model(result.best_checkpoint, device="cpu").module
    torch.manual_seed(0)
    initial = build_model("tinyvgg_gap", 2, 3, {"widths": [4, 8]})
    assert torch.equal(trained.conv_block_1[0].weight, initial.conv_block_1[0].weight)
    assert not torch.equal(trained.conv_block_2[0].weight, initial.conv_block_2[0].weight)


def test_init_fine_tunes_matching_classes_by_name_and_refuses_others(data, tmp_path):
    first = run(train(config(data, tmp_path / "first", epochs=1)))
    tuned = run(train(config(data, tmp_path / "tuned", epochs=1, arch=None, init=str(first.best_checkpoint))))
    card = load_model(tuned.best_checkpoint, device="cpu").card
    assert card.notes["training"]["init"] == str(first.best_checkpoint)
    assert card.mean == load_model(first.best_checkpoint, device="cpu").card.mean

    other = class_folders(tmp_path / "other", {"cat": 4, "dog": 4})
    with pytest.raises(UnmatchedLabels) as error:
        run(train(config(other, tmp_path / "bad", arch=None, init=str(first.best_checkpoint))))
    assert error.value.labels == ["cat", "dog"] and error.value.model_classes == ["blue", "red"]
    assert not (tmp_path / "bad" / "split.csv").exists()


def test_init_matches_labels_ignoring_case_and_punctuation_or_through_a_label_map(data, tmp_path):
    first = run(train(config(data, tmp_path / "first", epochs=1)))
    shouting = tmp_path / "shouting"
    shutil.copytree(data / "blue", shouting / "BLUE")
    shutil.copytree(data / "red", shouting / "_Red_")  # a leading underscore would hide the folder: not a class
    shutil.copytree(data / "red", shouting / "Red!")
    shutil.rmtree(shouting / "_Red_")
    events = []
    tuned = run(
        train(config(shouting, tmp_path / "tuned", epochs=1, arch=None, init=str(first.best_checkpoint))), events
    )
    notices = "\n".join(event.payload.text for event in events if isinstance(event.payload, Notice))
    assert "BLUE -> blue  (case/punctuation)" in notices and "Red! -> red  (case/punctuation)" in notices
    assert load_model(tuned.best_checkpoint, device="cpu").card.class_names == ["blue", "red"]
    with open(tmp_path / "tuned" / "split.csv", newline="") as handle:  # the checkpoint's names, for --resume
        assert {row["label"] for row in csv.DictReader(handle)} == {"blue", "red"}

    pets = tmp_path / "pets"
    shutil.copytree(data / "blue", pets / "cat")
    shutil.copytree(data / "red", pets / "dog")
    mapped = run(
        train(
            config(
                pets,
                tmp_path / "mapped",
                epochs=1,
                arch=None,
                init=str(first.best_checkpoint),
                label_map="cat=blue;dog=red",
            )
        )
    )
    assert load_model(mapped.best_checkpoint, device="cpu").card.class_names == ["blue", "red"]
    assert mapped.history[-1].val_acc == 1.0  # the colours still mean what they meant: the mapping kept the targets


def test_init_refuses_a_label_map_that_is_not_one_to_one(data, tmp_path):
    first = run(train(config(data, tmp_path / "first", epochs=1)))
    init = str(first.best_checkpoint)
    with pytest.raises(NotOneToOne) as error:
        run(train(config(data, tmp_path / "a", arch=None, init=init, label_map="blue=blue|red;red=blue|red")))
    assert error.value.grouped == ["blue", "red"]
    with pytest.raises(NotOneToOne) as error:
        run(train(config(data, tmp_path / "b", arch=None, init=init, label_map="red=blue")))
    assert error.value.shared == {"blue": ["blue", "red"]} and error.value.uncovered == ["red"]
    with pytest.raises(UnknownClasses) as error:
        run(train(config(data, tmp_path / "c", arch=None, init=init, label_map="red=purple")))
    assert error.value.names == ["purple"]


def test_init_from_a_bare_state_dict_takes_the_datas_classes_in_order(data, tmp_path):
    torch.manual_seed(3)
    bare = build_model("resnet18", 2, 3)
    torch.save({"state_dict": bare.state_dict()}, tmp_path / "bare.pth")  # no card: classes unnamed
    events = []
    tuned = run(
        train(
            config(
                data, tmp_path / "tuned", epochs=1, arch="resnet18", arch_options={}, init=str(tmp_path / "bare.pth")
            )
        ),
        events,
    )
    notices = [event.payload.text for event in events if isinstance(event.payload, Notice)]
    classes = sorted(path.name for path in data.iterdir() if path.is_dir())
    assert any(
        f"outputs are taken as the data's classes in sorted order ({', '.join(classes)})" in text for text in notices
    )
    card = load_model(tuned.best_checkpoint, device="cpu").card
    assert card.arch == "resnet18" and card.class_names == classes
    three = build_model("resnet18", 3, 3)
    torch.save(three.state_dict(), tmp_path / "three.pth")
    with pytest.raises(TrainingError, match="one output per class"):
        run(train(config(data, tmp_path / "bad", arch="resnet18", arch_options={}, init=str(tmp_path / "three.pth"))))


def test_pretrained_weights_offline_fail_clearly_unless_random_init_is_allowed(data, tmp_path, monkeypatch):
    monkeypatch.setattr(train_setup, "new_model", _offline_new_model(train_setup.new_model))
    with pytest.raises(PretrainedWeightsUnavailable):
        run(train(config(data, tmp_path / "a", pretrained=True, epochs=1)))

    events = []
    result = run(train(config(data, tmp_path / "b", pretrained=True, allow_random_init=True, epochs=1)), events)
    assert any(isinstance(e.payload, Notice) and "random initialisation" in e.payload.text for e in events)
    card = load_model(result.best_checkpoint, device="cpu").card
    assert card.mean == (0.485, 0.456, 0.406)  # ImageNet statistics, as asked for pretrained weights
    assert card.notes["training"]["pretrained"].startswith("unavailable")


def test_cli_pretrained_offline_exits_1_unless_random_init_is_allowed(data, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(train_setup, "new_model", _offline_new_model(train_setup.new_model))
    args = [
        "train",
        str(data),
        "--arch",
        "resnet18",
        "--input-size",
        "16",
        "--epochs",
        "1",
        "--pretrained",
        "--device",
        "cpu",
    ]
    assert main([*args, "--out", str(tmp_path / "a")]) == 1
    assert "(copy weights.pth into /no/cache/checkpoints, or add --allow-random-init" in capsys.readouterr().err
    assert main([*args, "--allow-random-init", "--batch-size", "6", "--out", str(tmp_path / "b")]) == 0
    assert "random initialisation" in capsys.readouterr().err


def _offline_new_model(real):
    def new_model(card, device="auto", pretrained=False, weights_file=None):
        if pretrained:
            cached = Path("/no/cache/checkpoints/weights.pth")
            raise PretrainedWeightsUnavailable(card.arch, "URLError: offline", cached, "https://example.org/w.pth")
        return real(card, device)

    return new_model


def test_cancel_during_the_test_evaluation_keeps_the_runs_stop_reason(data, tmp_path):
    token = CancelToken()
    events = []
    job = train(config(data, tmp_path / "run", epochs=2, test_split=0.25, positive_class="red"), cancel=token)

    def last_epoch_done(event) -> bool:  # the test split is evaluated right after this
        events.append(event)
        return isinstance(event.payload, EpochRecord) and event.payload.epoch == 2

    result = cancel_after(job, token, last_epoch_done)

    assert result.stop_reason == "completed" and len(result.history) == 2 and result.test_metrics is None
    skipped = [event.payload for event in events if isinstance(event.payload, SkippedTestEvaluation)]
    assert [notice.reason for notice in skipped] == ["cancelled"] and "cancelled" in skipped[0].text
    assert not (tmp_path / "run" / "test" / "metrics.json").exists()
    assert "test" not in load_model(result.best_checkpoint, device="cpu").card.notes


def test_border_crop_is_part_of_the_card_from_the_flag_or_a_refined_dataset(data, tmp_path):
    refined = Path(shutil.copytree(data, tmp_path / "refined"))
    (refined / "refine.json").write_text(json.dumps({"mode": "crop", "options": {"border_crop": 0.15}}))
    from_manifest = run(train(config(refined, tmp_path / "a", epochs=1)))
    from_flag = run(train(config(refined, tmp_path / "b", epochs=1, border_crop=0.05)))
    assert load_model(from_manifest.best_checkpoint, device="cpu").card.border_crop == 0.15
    assert load_model(from_flag.best_checkpoint, device="cpu").card.border_crop == 0.05
    # Fine-tuning on a crop-mode set adds its crop to a model that had another one (the refinement cycle).
    fine_tuned = run(train(config(refined, tmp_path / "c", epochs=1, init=str(from_flag.best_checkpoint))))
    assert load_model(fine_tuned.best_checkpoint, device="cpu").card.border_crop == 0.15


def test_streaming_from_disk_with_worker_processes(data, tmp_path):
    events = []
    result = run(train(config(data, tmp_path / "run", epochs=2, cache_bytes=0, workers=1)), events)
    summary = next(e.payload for e in events if e.message == "dataset ready")
    assert summary.in_memory is False and len(result.history) == 2


def test_multi_label_csv_trains_a_sigmoid_head(data, tmp_path):
    images = sorted(Path(data).rglob("*.png"))
    rows = ["path,label"] + [f"{p},{'warm|' if 'red' in p.name else ''}{p.parent.name}" for p in images]
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")  # absolute paths, outside the CSV's folder
    result = run(train(config(tmp_path / "labels.csv", tmp_path / "run", epochs=2, allow_outside=True)))
    card = load_model(result.best_checkpoint, device="cpu").card
    assert card.head == "sigmoid" and card.class_names == ["blue", "red", "warm"]


def test_too_few_images_for_a_validation_split_is_an_error(tmp_path):
    class_folders(tmp_path / "data", {"a": 1, "b": 1})
    with pytest.raises(DatasetError):
        run(train(config(tmp_path / "data", tmp_path / "run", val_split=0.0)))


def test_cli_trains_and_resumes(data, tmp_path, capsys):
    args = [
        "train",
        str(data),
        "--arch",
        "tinyvgg_gap",
        "--widths",
        "4,8",
        "--input-size",
        "16",
        "--epochs",
        "1",
        "--batch-size",
        "6",
        "--device",
        "cpu",
        "--test-split",
        "0.25",
        "--positive-class",
        "red",
        "--out",
        str(tmp_path / "run"),
    ]
    assert main(args) == 0
    output = capsys.readouterr().out
    assert "epoch 1/1" in output and "positive class: red" in output and "blue" in output
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["arch_options"] == {"widths": [4, 8]}
    # options not given are today's defaults (README "Training defaults"), not those of runs saved before them
    assert (saved["schedule"], saved["balance"]) == ("warmup-cosine", "loss-weights")
    assert (tmp_path / "run" / "test" / "metrics.json").is_file()

    assert main(["train", "--resume", str(tmp_path / "run"), "--epochs", "2"]) == 0
    assert "epoch 2/2" in capsys.readouterr().out
    assert main(["train", "--resume", str(tmp_path / "run"), "--lr", "0.5"]) == 2
    assert main(["train", str(data), "--out", str(tmp_path / "x")]) == 1  # no --arch
    assert "--arch" in capsys.readouterr().err


def test_cli_says_how_to_evaluate_a_test_split_left_without_positive_class(data, tmp_path, capsys):
    run_dir = tmp_path / "run"
    args = ["train", str(data), "--arch", "tinyvgg_gap", "--widths", "4,8", "--input-size", "16", "--epochs", "1"]
    args += ["--batch-size", "6", "--device", "cpu", "--test-split", "0.25", "--out", str(run_dir)]
    assert main(args) == 0  # blue and red: two classes, and nothing says which one is positive
    err = capsys.readouterr().err
    assert "no positive class set: the test split was not evaluated" in err  # the engine's fact
    assert "--split test --positive-class NAME" in err  # the command line's remedy
    assert not (run_dir / "test").exists()


def test_the_recipe_goes_into_the_card_and_fine_tuning_keeps_it(data, tmp_path, capsys):
    first = run(train(config(data, tmp_path / "a", epochs=1, input_size=None, resize=20, crop=(16, 16))))
    card = load_model(first.best_checkpoint, device="cpu").card
    assert (card.resize, card.crop, card.input_size, card.interpolation) == (20, (16, 16), (16, 16), "bilinear")
    tuned = run(train(config(data, tmp_path / "b", epochs=1, input_size=None, init=str(first.best_checkpoint))))
    assert load_model(tuned.best_checkpoint, device="cpu").card.resize == 20
    with pytest.raises(SystemExit) as stopped:  # a shorter side alone gives no fixed input size
        main(["train", str(data), "--arch", "tinyvgg_gap", "--resize", "20", "--out", str(tmp_path / "c")])
    assert stopped.value.code == 2 and "--crop" in capsys.readouterr().err


# ----------------------------------------------------------------------------- defaults that learn


def test_batch_size_gives_every_epoch_enough_steps():
    for images in (10, 48, 399, 400, 799, 800, 1599, 1600, 5000):
        size = default_batch_size(images)
        steps = math.ceil(images / size)
        assert size in (8, 16, 32) and (steps >= MIN_STEPS_PER_EPOCH or size == 8)
        bigger = [s for s in (16, 32) if s > size]
        assert all(math.ceil(images / s) < MIN_STEPS_PER_EPOCH for s in bigger)  # the largest that still does


def test_only_the_architecture_given_settles_the_rest_and_records_it(data, tmp_path):
    given = TrainConfig(data=str(data), out=str(tmp_path / "run"), arch="tinyvgg", epochs=3, device="cpu", workers=0)
    result = run(train(given))

    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    train_images = sum(result.summary.counts["train"].values())
    assert saved["batch_size"] == default_batch_size(train_images) == 8 and saved["lr"] == 3e-3
    assert saved["schedule"] == "warmup-cosine" and saved["balance"] == "loss-weights"
    assert sum(result.summary.counts["test"].values()) == math.ceil(
        0.15 * 24
    )  # a test split is held out (sklearn rounds up)
    card = load_model(result.best_checkpoint, device="cpu").card
    assert card.input_size == (64, 64) and card.notes["training"]["lr"] == 3e-3
    # one epoch of linear warm-up, then a cosine to zero over the planned steps, stepped per batch
    steps = math.ceil(train_images / 8)
    total, warmup = 3 * steps, min(steps, 3 * steps // 4)
    expected = [3e-3 * 0.5 * (1 + math.cos(math.pi * (e * steps - warmup) / (total - warmup))) for e in (1, 2, 3)]
    assert [r.lr for r in result.history] == pytest.approx(expected)


def test_class_weights_are_the_inverse_class_frequencies_of_the_training_split(tmp_path):
    from sklearn.utils.class_weight import compute_class_weight

    uneven = class_folders(tmp_path / "data", {"blue": 6, "red": 18})
    result = run(train(config(uneven, tmp_path / "run", epochs=2, batch_size=2)))

    with open(tmp_path / "run" / "split.csv", newline="") as handle:
        labels = [row["label"] for row in csv.DictReader(handle) if row["split"] == "train"]
    by_hand = {name: len(labels) / (2 * labels.count(name)) for name in ("blue", "red")}
    assert result.summary.class_weights == pytest.approx(by_hand)
    reference = compute_class_weight("balanced", classes=np.array(["blue", "red"]), y=np.array(labels))
    assert list(by_hand.values()) == pytest.approx(list(reference))
    assert by_hand["blue"] > 1 > by_hand["red"]
    assert "class weights in the loss" in "\n".join(result.summary.lines())
    model = load_model(result.best_checkpoint, device="cpu")
    assert model.card.notes["training"]["class_weights"] == pytest.approx(by_hand)
    # the validation loss is the class-weighted mean over all validation images (not a mean of batch means)
    val = [Path(p) for p, label, split in _split_rows(tmp_path / "run") if split == "val"]
    targets = torch.tensor([0 if p.parent.name == "blue" else 1 for p in val])
    logits = torch.log(torch.tensor([[r.probs["blue"], r.probs["red"]] for r in explain(model, val)]))
    weights = torch.tensor([by_hand["blue"], by_hand["red"]])
    expected = torch.nn.functional.cross_entropy(logits, targets, weight=weights).item()
    assert result.history[result.best_epoch - 1].val_loss == pytest.approx(expected, abs=2e-3)


def _split_rows(run_dir: Path) -> list[tuple[str, str, str]]:
    with open(run_dir / "split.csv", newline="") as handle:
        return [(str((run_dir / row["path"]).resolve()), row["label"], row["split"]) for row in csv.DictReader(handle)]


def test_a_model_stuck_at_chance_is_reported_and_one_that_learns_is_not(data, tmp_path):
    shuffled = tmp_path / "shuffled.csv"
    rng = np.random.default_rng(0)
    images = sorted(data.rglob("*.png")) * 3  # 72 rows: enough validation images for the test to mean something
    labels = rng.permutation(["blue", "red"] * (len(images) // 2))  # unrelated to the pixels
    with open(shuffled, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label"])
        writer.writerows([(str(path), label) for path, label in zip(images, labels)])
    events = []
    result = run(train(replace(config(shuffled, tmp_path / "shuffled", epochs=6), allow_outside=True)), events)
    notices = [e.payload for e in events if isinstance(e.payload, AtChance)]
    assert len(notices) == 1 and "chance level" in notices[0].text
    kept = result.history[result.best_epoch - 1].val_acc
    assert notices[0].val_accuracy == kept and notices[0].chance == 0.5 and notices[0].images == 18

    events = []
    run(train(config(data, tmp_path / "separable", epochs=6)), events)
    assert not [e for e in events if isinstance(e.payload, AtChance)]
