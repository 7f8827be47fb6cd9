"""Hostile checkpoints, special files and secrets (issue 11): one clear typed error each, nothing read that
should not be, nothing predicted from NaN."""

from __future__ import annotations

import json
import os
import threading

import numpy as np
import pytest
import torch
from hostile_files import (
    SECRET,
    fifo,
    hostile_cards,
    image,
    overflowing_checkpoint,
    poisoned_checkpoint,
    secret_file,
    tiny_card,
    tiny_checkpoint,
    unix_socket,
)

from camviewer.cli import main
from camviewer.core.errors import (
    ImageError,
    InvalidModelCard,
    NonFiniteOutput,
    NonFiniteWeights,
    OutsidePartitionFolder,
    SpecialFileError,
)
from camviewer.core.explain.run import explain
from camviewer.core.images import is_image_path, list_images, read_header, read_image
from camviewer.core.model.card import ModelCard
from camviewer.core.model.files import CARD_KEY
from camviewer.core.model.loading import load_model

CARDS = hostile_cards()


@pytest.mark.parametrize("name", list(CARDS))
def test_a_hostile_model_card_is_one_error_naming_its_field(name):
    field, data = CARDS[name]
    with pytest.raises(InvalidModelCard) as refused:
        ModelCard.from_json(json.dumps(data))
    assert refused.value.field == field, str(refused.value)
    assert isinstance(refused.value, ValueError)  # callers that expected a ValueError still catch it


def test_a_hostile_card_inside_a_checkpoint_names_the_file_in_the_cli(tmp_path, capsys):
    from safetensors.torch import save_file

    state = load_model(tiny_checkpoint(tmp_path / "ok.safetensors"), device="cpu").module.state_dict()
    for name, (_field, data) in CARDS.items():
        path = tmp_path / f"{name.replace(' ', '_')}.safetensors"
        save_file({k: v.contiguous() for k, v in state.items()}, str(path), metadata={CARD_KEY: json.dumps(data)})
        assert main(["info", str(path)]) == 1, name
        err = capsys.readouterr().err
        assert err.startswith(f"camviewer: {path}: invalid model card") and "Traceback" not in err, err
    torch.save({"state_dict": state, CARD_KEY: [1, 2, 3]}, tmp_path / "listed.pt")  # a card that is a list
    with pytest.raises(InvalidModelCard, match="expected a JSON object"):
        load_model(tmp_path / "listed.pt", device="cpu")


def test_cards_keep_their_bounds_from_the_command_line(tmp_path, capsys):
    source = image(tmp_path / "a.png")
    checkpoint = tiny_checkpoint(tmp_path / "m.safetensors")
    for size in ("4", "5000x64"):
        with pytest.raises(SystemExit) as usage:
            main(["explain", str(source), "--model", str(checkpoint), "--input-size", size, "--out", str(tmp_path)])
        assert usage.value.code == 2 and "expected SIZE or HEIGHTxWIDTH (8 to 4096" in capsys.readouterr().err


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_nan_or_infinite_weights_are_refused_naming_the_checkpoint(tmp_path, value, capsys):
    path = poisoned_checkpoint(tmp_path / "poisoned.safetensors", value)
    with pytest.raises(NonFiniteWeights) as refused:
        load_model(path, device="cpu")
    assert refused.value.tensors == ["classifier.2.weight"] and refused.value.source == str(path)
    source = image(tmp_path / "a.png")
    assert main(["explain", str(source), "--model", str(path), "--out", str(tmp_path / "out")]) == 1
    assert f"{path}: 1 weight tensor(s) hold NaN or infinite values" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # no map, no prediction


def test_outputs_that_overflow_are_an_error_not_a_prediction(tmp_path, capsys, one_thread):
    path = overflowing_checkpoint(tmp_path / "huge.safetensors")
    model = load_model(path, device="cpu")  # finite weights: they load
    with pytest.raises(NonFiniteOutput) as refused:
        explain(model, np.random.default_rng(0).random((40, 40, 3)).astype(np.float32))
    assert refused.value.source == str(path) and refused.value.what == "probabilities"
    source = image(tmp_path / "a.png")
    out = tmp_path / "out"
    assert main(["explain", str(source), "--model", str(path), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "NaN or infinite probabilities" in err and "Traceback" not in err
    assert not list((out / "maps").iterdir()) and len((out / "predictions.csv").read_text().splitlines()) == 1
    good = tiny_checkpoint(tmp_path / "good.safetensors")  # an export that listed nothing is no export to keep
    assert main(["explain", str(source), "--model", str(good), "--out", str(out)]) == 0
    card = tiny_card()
    tiny_std = ModelCard(**{**card.__dict__, "std": (1e-45, 1e-45, 1e-45)})  # finite, positive, absurd
    model = load_model(tiny_checkpoint(tmp_path / "t.safetensors"), device="cpu")
    model.card = tiny_std
    with pytest.raises(NonFiniteOutput):
        explain(model, np.ones((40, 40, 3), np.float32))


def test_only_regular_files_are_opened_and_never_block(tmp_path):
    pipe = fifo(tmp_path, "x.png")
    bare = fifo(tmp_path, "IM0001")
    sock, server = unix_socket(tmp_path, "s.png")
    results = {}

    def read_all():
        for path in (pipe, bare, sock, "/dev/zero", tmp_path):
            try:
                read_image(path)
            except ImageError as error:
                results[str(path)] = error
        try:
            read_header(pipe)
        except SpecialFileError as error:
            results["header"] = error
        results["listed"] = list_images(tmp_path)
        results["bare"] = is_image_path(bare)

    reader = threading.Thread(target=read_all, daemon=True)  # a blocking open would hang here, not the suite
    reader.start()
    reader.join(timeout=60)
    server.close()
    assert not reader.is_alive(), "reading a FIFO, socket or device blocked"
    assert results["header"].file_type == "a FIFO (named pipe)"
    del results["header"]
    assert {path: error.file_type for path, error in results.items() if isinstance(error, SpecialFileError)} == {
        str(pipe): "a FIFO (named pipe)",
        str(bare): "a FIFO (named pipe)",
        str(sock): "a socket",
        "/dev/zero": "a character device",
        str(tmp_path): "a folder",
    }
    assert results["bare"] is False and [p.name for p in results["listed"]] == ["s.png", "x.png"]


def test_skip_reasons_never_quote_file_contents(tmp_path, capsys):
    secrets = [secret_file(tmp_path / "data" / "cls" / f"shadow{suffix}") for suffix in ("", ".png", ".dcm", ".jpg")]
    for path in secrets:
        with pytest.raises(ImageError) as refused:
            read_image(path)
        assert "S3CRET" not in str(refused.value) and "root:" not in str(refused.value)
    checkpoint = tiny_checkpoint(tmp_path / "m.safetensors")
    assert main(["explain", *map(str, secrets), "--model", str(checkpoint), "--out", str(tmp_path / "out")]) == 1
    assert "S3CRET" not in capsys.readouterr().err


def test_a_partition_naming_files_elsewhere_needs_allow_outside(tmp_path, capsys):
    outside = secret_file(tmp_path / "etc" / "shadow")
    data = tmp_path / "data"
    for index in range(4):
        image(data / "a" / f"a{index}.png", index)
        image(data / "b" / f"b{index}.png", index + 10)
    rows = [f"{c}/{c}{i}.png,{c}" for c in "ab" for i in range(4)] + ["../etc/shadow,a", f"{outside},b"]
    (data / "partition.csv").write_text("path,label\n" + "\n".join(rows) + "\n")
    run = tmp_path / "run"
    common = ["--arch", "tinyvgg_gap", "--widths", "4,8", "--input-size", "16", "--epochs", "1", "--device", "cpu"]
    assert main(["train", str(data / "partition.csv"), "--out", str(run), *common]) == 1
    err = capsys.readouterr().err
    assert "names 2 file(s) outside its folder" in err and "--allow-outside" in err and not list(run.iterdir())
    assert main(["train", str(data / "partition.csv"), "--out", str(run), *common, "--allow-outside"]) == 0
    capsys.readouterr()
    skipped = (run / "skipped.csv").read_text()
    assert str(outside) in skipped and SECRET not in skipped and "root:" not in skipped
    with pytest.raises(OutsidePartitionFolder):
        from camviewer.core.data.index import scan_dataset

        scan_dataset(data / "partition.csv")


def test_unicode_and_socket_paths_reach_the_reader_unchanged(tmp_path):
    weird = tmp_path / os.fsdecode(b"\xff\xfe.png")
    image(weird)
    assert read_image(weird).pixels.shape == (40, 48, 3)
    assert list_images(tmp_path) == [weird]
