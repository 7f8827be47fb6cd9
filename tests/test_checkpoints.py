"""Loading what people have: camviewer checkpoints, bare and nested state_dicts, legacy names, pickles."""

import errno
import json
import os
import pickle
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from camviewer.cli import main
from camviewer.commands._common import remedy
from camviewer.core.errors import (
    ArchitectureInferenceError,
    CheckpointError,
    StateDictMismatchError,
    UnsafeCheckpointError,
    WriteFailed,
)
from camviewer.core.model import state_dict
from camviewer.core.model.card import ModelCard
from camviewer.core.model.loading import describe_checkpoint, load_model, new_model

torch.manual_seed(0)
PROBE = torch.randn(2, 3, 64, 64)


def logits(module, x=PROBE):
    module.eval()
    with torch.no_grad():
        return module(x)


def torchvision_model(arch, classes):
    torch.manual_seed(1)
    return torchvision.models.get_model(arch, weights=None, num_classes=classes).eval()


def test_camviewer_checkpoint_round_trip(tmp_path):
    card = ModelCard(
        arch="resnet18",
        class_names=["benign", "malignant"],
        input_size=(96, 80),
        mean=(0.5, 0.4, 0.3),
        std=(0.2, 0.2, 0.2),
        positive_class="malignant",
        border_crop=0.05,
    )
    model = new_model(card, device="cpu")
    path = model.save(tmp_path / "model.safetensors")
    loaded = load_model(path, device="cpu")
    assert loaded.card.to_dict() == card.to_dict()
    torch.testing.assert_close(logits(loaded.module), logits(model.module))
    # the file is plain safetensors: weights and the card, no code
    from safetensors import safe_open

    with safe_open(str(path), "pt") as handle:
        assert json.loads(handle.metadata()["camviewer_card"])["positive_class"] == "malignant"


def test_card_inside_a_weights_only_torch_file(tmp_path):
    model = torchvision_model("resnet18", 3)
    card = ModelCard(arch="resnet18", class_names=["a", "b", "c"])
    torch.save({"camviewer_card": card.to_dict(), "state_dict": model.state_dict()}, tmp_path / "m.pt")
    loaded = load_model(tmp_path / "m.pt", device="cpu")
    assert loaded.card.class_names == ["a", "b", "c"]
    torch.testing.assert_close(logits(loaded.module), logits(model))


@pytest.mark.parametrize(
    "arch,classes",
    [
        ("resnet18", 3),
        ("resnet50", 2),
        ("densenet121", 14),
        ("vgg11_bn", 2),
        ("vgg16", 4),
        ("squeezenet1_0", 2),
        ("squeezenet1_1", 5),
    ],
)
def test_bare_state_dict_architecture_and_classes_inferred(tmp_path, arch, classes):
    model = torchvision_model(arch, classes)
    torch.save(model.state_dict(), tmp_path / "bare.pth")
    loaded = load_model(tmp_path / "bare.pth", device="cpu")
    assert (loaded.card.arch, loaded.card.num_classes) == (arch, classes)
    assert loaded.card.input_size == (224, 224) and loaded.card.mean == (0.485, 0.456, 0.406)
    torch.testing.assert_close(logits(loaded.module), logits(model))


def test_custom_architectures_inferred(tmp_path):
    for arch, options, size in [
        ("tinyvgg", {"widths": [10, 10]}, (64, 64)),
        ("tinyvgg_gap", {"widths": [8, 16, 32]}, (224, 224)),
        ("vgg16_gap", {"conv_width": 1024}, (224, 224)),
    ]:
        torch.manual_seed(2)
        model = new_model(ModelCard(arch=arch, class_names=["x", "y"], input_size=size, arch_options=options), "cpu")
        torch.save(model.module.state_dict(), tmp_path / f"{arch}.pt")
        loaded = load_model(tmp_path / f"{arch}.pt", device="cpu")
        assert (loaded.card.arch, loaded.card.arch_options, loaded.card.input_size) == (arch, options, size)
        x = torch.randn(1, 3, *size)
        torch.testing.assert_close(logits(loaded.module, x), logits(model.module, x))


def test_arch_given_for_a_state_dict_that_cannot_be_inferred(tmp_path, capsys):
    model = torchvision_model("mobilenet_v3_small", 3)
    torch.save(model.state_dict(), tmp_path / "mobile.pt")
    with pytest.raises(ArchitectureInferenceError, match="match no known layout") as error:
        load_model(tmp_path / "mobile.pt", device="cpu")
    assert error.value.needs_classes is False
    assert main(["info", str(tmp_path / "mobile.pt")]) == 1
    assert "(pass --arch (`camviewer info --list-archs` lists them))" in capsys.readouterr().err  # the CLI's remedy
    loaded = load_model(tmp_path / "mobile.pt", arch="mobilenet_v3_small", device="cpu")
    assert loaded.card.num_classes == 3
    torch.testing.assert_close(logits(loaded.module), logits(model))


@pytest.mark.parametrize(
    "wrap",
    [
        lambda sd: {"state_dict": sd},
        lambda sd: {"model_state_dict": sd, "optimizer_state_dict": {"state": {}, "param_groups": []}, "epoch": 7},
        lambda sd: {"model": sd, "best_acc": 0.9},
        lambda sd: {f"module.{k}": v for k, v in sd.items()},
        lambda sd: {"state_dict": {f"module.{k}": v for k, v in sd.items()}},
    ],
)
def test_nested_and_dataparallel_checkpoints(tmp_path, wrap):
    model = torchvision_model("resnet18", 2)
    torch.save(wrap(model.state_dict()), tmp_path / "ckpt.pth.tar")
    loaded = load_model(tmp_path / "ckpt.pth.tar", device="cpu")
    torch.testing.assert_close(logits(loaded.module), logits(model))


def chexnet_style(state):
    """Key names as in the CheXNet checkpoints: DataParallel + wrapper prefix + legacy DenseNet names
    + a Sequential(Linear, Sigmoid) classifier."""
    renamed = {}
    for key, value in state.items():
        if key.endswith("num_batches_tracked"):  # saved before PyTorch 0.4.1 had it
            continue
        key = re.sub(r"(denselayer\d+\.(?:norm|relu|conv))([12])\.", r"\1.\2.", key)
        key = key.replace("classifier.", "classifier.0.")
        renamed[f"module.densenet121.{key}"] = value
    return {"state_dict": renamed, "epoch": 1}


def test_chexnet_style_densenet_checkpoint(tmp_path):
    model = torchvision_model("densenet121", 14)
    saved = chexnet_style(model.state_dict())
    assert "module.densenet121.features.denseblock1.denselayer1.norm.1.weight" in saved["state_dict"]
    assert "module.densenet121.classifier.0.weight" in saved["state_dict"]
    torch.save(saved, tmp_path / "m-25012018-123527.pth.tar")
    names = [f"finding{i}" for i in range(14)]
    loaded = load_model(tmp_path / "m-25012018-123527.pth.tar", class_names=names, device="cpu")
    assert loaded.card.arch == "densenet121" and loaded.card.head == "sigmoid"
    assert loaded.card.class_names == names
    torch.testing.assert_close(logits(loaded.module), logits(model))
    notes = " ".join(loaded.card.notes["loading"])
    assert "legacy DenseNet" in notes and "densenet121" in notes


def test_strict_loading_lists_missing_unexpected_and_misshaped_keys(tmp_path):
    state = torchvision_model("resnet18", 2).state_dict()
    del state["layer4.1.bn2.weight"]
    state["extra.weight"] = torch.zeros(3)
    state["fc.bias"] = torch.zeros(7)
    torch.save(state, tmp_path / "broken.pt")
    with pytest.raises(StateDictMismatchError) as error:
        load_model(tmp_path / "broken.pt", device="cpu")
    message = str(error.value)
    assert "layer4.1.bn2.weight" in message and "extra.weight" in message
    assert "fc.bias: file (7,) vs model (2,)" in message


def test_wrong_arch_or_class_count_is_refused(tmp_path):
    torch.save(torchvision_model("resnet18", 2).state_dict(), tmp_path / "r18.pt")
    with pytest.raises(StateDictMismatchError, match="look like resnet18 with 2 outputs") as error:
        load_model(tmp_path / "r18.pt", arch="resnet34", device="cpu")
    assert error.value.looks_like == ("resnet18", 2) and error.value.target == "resnet34 with 2 classes"
    assert remedy(error.value) == "try --arch resnet18"
    with pytest.raises(CheckpointError, match="2 outputs, not 3"):
        load_model(tmp_path / "r18.pt", num_classes=3, device="cpu")
    with pytest.raises(CheckpointError, match="3 class names"):
        load_model(tmp_path / "r18.pt", class_names=["a", "b", "c"], device="cpu")


class Payload:
    """Unpickling this writes a file: the proof that code from a checkpoint ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_objects_are_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "code-ran"
    with open(tmp_path / "evil.pt", "wb") as handle:
        pickle.dump({"state_dict": {"w": torch.zeros(1)}, "x": Payload(str(marker))}, handle, protocol=2)
    with pytest.raises(UnsafeCheckpointError, match="pickled Python objects") as error:
        load_model(tmp_path / "evil.pt", device="cpu")
    assert error.value.path == str(tmp_path / "evil.pt") and error.value.culprit in str(error.value)
    with pytest.raises(UnsafeCheckpointError):
        describe_checkpoint(tmp_path / "evil.pt")
    assert not marker.exists()


class WholeModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(self.conv(x).mean(dim=(2, 3)))


def test_whole_pickled_model_loads_only_when_trusted(tmp_path):
    model = WholeModel().eval()
    torch.save(model, tmp_path / "whole.pt")
    with pytest.raises(UnsafeCheckpointError, match="WholeModel"):
        load_model(tmp_path / "whole.pt", device="cpu")
    loaded = load_model(tmp_path / "whole.pt", trust_pickle=True, device="cpu")
    assert loaded.card.arch == "pickled:WholeModel" and loaded.card.num_classes == 3
    torch.testing.assert_close(logits(loaded.module), logits(model))


def test_non_tensor_objects_are_refused(tmp_path):
    torch.save({"weights": np.zeros(3)}, tmp_path / "numpy.pt")
    with pytest.raises(UnsafeCheckpointError, match="numpy"):
        load_model(tmp_path / "numpy.pt", device="cpu")


@pytest.mark.parametrize("content", [b"", b"hello, not a model", b"PK\x03\x04 broken zip"])
def test_unreadable_files(tmp_path, content):
    (tmp_path / "bad.pt").write_bytes(content)
    with pytest.raises(CheckpointError):
        load_model(tmp_path / "bad.pt", device="cpu")
    with pytest.raises(CheckpointError, match="no such"):
        load_model(tmp_path / "missing.pt", device="cpu")


def test_grayscale_model_and_preprocessing_overrides(tmp_path):
    model = torchvision.models.resnet18(num_classes=2)
    model.conv1 = nn.Conv2d(1, 64, 7, 2, 3, bias=False)
    torch.save(model.state_dict(), tmp_path / "grey.pt")
    loaded = load_model(tmp_path / "grey.pt", device="cpu")
    assert loaded.card.channels == 1 and loaded.card.mean == (0.449,)
    custom = load_model(tmp_path / "grey.pt", input_size=(128, 96), mean=[0.5], std=[0.25], device="cpu")
    assert custom.card.input_size == (128, 96) and custom.card.std == (0.25,)
    probs = custom.predict([np.random.rand(50, 70, 3).astype(np.float32)])
    assert probs.shape == (1, 2) and abs(probs.sum() - 1) < 1e-5


def test_save_is_atomic_when_writing_fails(tmp_path, monkeypatch):
    model = new_model(ModelCard(arch="tinyvgg_gap", class_names=["a", "b"], input_size=(32, 32)), "cpu")
    path = model.save(tmp_path / "best.safetensors")
    before = path.read_bytes()

    write_bytes = Path.write_bytes

    def disk_full(self, data):
        write_bytes(self, bytes(data)[:100])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", disk_full)
    with pytest.raises(WriteFailed, match="No space left on device") as failed:  # typed, naming the file
        model.save(path)
    assert failed.value.path == path and failed.value.no_space
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["best.safetensors"]


def test_describe_checkpoint_prefills_a_dialog(tmp_path):
    torch.save(torchvision_model("densenet121", 3).state_dict(), tmp_path / "d.pt")
    summary = describe_checkpoint(tmp_path / "d.pt")
    assert summary.card is None and summary.inferred.arch == "densenet121"
    assert summary.inferred.num_classes == 3 and summary.problem is None
    torch.save({"mystery.weight": torch.zeros(2, 2)}, tmp_path / "m.pt")
    unknown = describe_checkpoint(tmp_path / "m.pt")
    assert unknown.inferred is None and unknown.problem.startswith("the keys (starting mystery.weight")


def without_tensor_data(source, target):
    """A copy of a zip-format torch checkpoint whose tensor records are empty: only its structure is left."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as copy:
        for item in original.infolist():
            copy.writestr(item, b"" if "/data/" in item.filename else original.read(item))


def test_describing_a_pt_file_reads_no_tensor_data(tmp_path):
    torch.save({"state_dict": torchvision_model("resnet18", 5).state_dict()}, tmp_path / "r18.pt")
    without_tensor_data(tmp_path / "r18.pt", tmp_path / "hollow.pt")
    with pytest.raises(CheckpointError):  # loading needs the data, and it is gone
        load_model(tmp_path / "hollow.pt", device="cpu")
    summary = describe_checkpoint(tmp_path / "hollow.pt")  # describing does not
    assert (summary.inferred.arch, summary.inferred.num_classes) == ("resnet18", 5)
    assert summary.num_tensors == len(torchvision_model("resnet18", 5).state_dict())
    # Legacy (non-zip) files interleave structure and data: read whole, still described the same way.
    torch.save(torchvision_model("resnet18", 5).state_dict(), tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    assert describe_checkpoint(tmp_path / "old.pt").inferred.arch == "resnet18"


class HeaderOnly:
    """safe_open as the engine sees it, except that reading a tensor's values fails the test."""

    def __init__(self, real):
        self.real = real

    def __enter__(self):
        self.handle = self.real.__enter__()
        return self

    def __exit__(self, *exc):
        return self.real.__exit__(*exc)

    def get_tensor(self, key):
        raise AssertionError(f"describing read the values of {key}")

    def __getattr__(self, name):
        return getattr(self.handle, name)


def test_describing_a_safetensors_file_reads_its_header_only(tmp_path, monkeypatch):
    import safetensors

    card = ModelCard(arch="tinyvgg_gap", class_names=["a", "b"], input_size=(32, 32))
    new_model(card, "cpu").save(tmp_path / "ours.safetensors")
    from safetensors.torch import save_file

    save_file(torchvision_model("resnet18", 4).state_dict(), str(tmp_path / "bare.safetensors"))
    real = safetensors.safe_open
    monkeypatch.setattr(safetensors, "safe_open", lambda *args, **kwargs: HeaderOnly(real(*args, **kwargs)))
    assert describe_checkpoint(tmp_path / "ours.safetensors").card == card
    bare = describe_checkpoint(tmp_path / "bare.safetensors")
    assert (bare.inferred.arch, bare.inferred.num_classes) == ("resnet18", 4)
    with pytest.raises(AssertionError, match="read the values"):  # the guard works: loading reads them
        load_model(tmp_path / "bare.safetensors", device="cpu")


def test_key_normalisation_notes():
    notes = []
    state = {"module.densenet121.features.denseblock1.denselayer1.norm.1.weight": torch.zeros(1)}
    normalized = state_dict.normalize_keys(state, notes=notes)
    assert list(normalized) == ["features.denseblock1.denselayer1.norm1.weight"]
    assert notes[:2] == ["stripped key prefix 'module.'", "stripped key prefix 'densenet121.'"]
