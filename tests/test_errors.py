"""Errors carry facts; each front end words the remedy (DESIGN.md: core never names a CLI flag or a GUI control)."""

import ast
import errno
import re
from pathlib import Path

import pytest

import camviewer
from camviewer.commands import _common as cli
from camviewer.core import errors
from camviewer.gui.common import remedies as gui

CORE = Path(camviewer.__file__).parent / "core"
FLAG = re.compile(r"(?<![\w-])--[a-z]")
GUI_WORDS = re.compile(r"\bGUI\b|\bbuttons?\b|\bclick(s|ed)?\b|\bdialog\b|\bmenu\b|\bcheck ?box\b|\btick(ed)?\b", re.I)


def message_literals(path: Path) -> list[tuple[int, str]]:
    """Every string literal of a module but its docstrings: in core, these are messages (or keys and names).

    Literals inside f-strings count piece by piece, so a flag in any part of a formatted message is found,
    also when the text is built first and raised or yielded later.
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    documentation = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                documentation.add(id(first.value))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in documentation
    ]


def offending_messages(package: Path) -> list[str]:
    return [
        f"{path.relative_to(package.parent)}:{line}: {text!r}"
        for path in sorted(package.rglob("*.py"))
        for line, text in message_literals(path)
        if FLAG.search(text) or GUI_WORDS.search(text)
    ]


def test_core_messages_name_no_cli_flag_and_no_gui_control():
    assert offending_messages(CORE) == []


def test_the_message_scan_finds_flags_and_buttons(tmp_path):
    # The rule above must be able to fail: the two kinds of message this change removed, and a docstring it allows.
    package = tmp_path / "core"
    package.mkdir()
    (package / "sample.py").write_text(
        '"""Used by ``camviewer train --resume RUN``: documentation may name flags."""\n'
        "def load(path):\n"
        '    """Read it; --trust-pickle is for the CLI to mention."""\n'
        "    raise UnsafeCheckpointError(f\"{path}: refused; load it with --trust-pickle (GUI: 'Trust this file')\")\n"
        "def fit(stale):\n"
        '    text = f"stopped early; give a --patience above {stale}"\n'
        "    return Notice(text)\n"
        "def pick():\n"
        '    return "click the Resume button"\n'
    )
    found = offending_messages(package)
    assert sorted({entry.split(": ", 1)[0] for entry in found}) == [
        "core/sample.py:4",
        "core/sample.py:6",
        "core/sample.py:9",
    ]


CACHE = Path("/cache/hub/checkpoints/resnet18-f37072fd.pth")
# One error of each kind that has a remedy, with made-up facts.
FACTUAL_ERRORS = [
    errors.UnsafeCheckpointError("m.pt", "numpy.ndarray"),
    errors.StateDictMismatchError("resnet34 with 2 classes", ["fc.weight"], [], [], ("resnet18", 2)),
    errors.ArchitectureInferenceError("no classifier.weight in the weights", needs_classes=True),
    errors.ArchitectureConflict("the checkpoint (its model card)", "resnet18", "resnet50"),
    errors.UnknownArchitecture("resnet9000"),
    errors.DeviceUnavailable("cuda"),
    errors.PretrainedWeightsUnavailable("resnet18", "URLError: offline", CACHE, "https://download.pytorch.org/x"),
    errors.PretrainedWeightsUnavailable("tinyvgg", "it is one of camviewer's own architectures"),
    errors.RunFolderInUse("runs/a", ["config.json", "last.pt"]),
    errors.StoppedEarly("runs/a", 5, 5),
    errors.AlreadyTrained("runs/a", 30, 30),
    errors.TrainingOptionError("arch", "none given, and no checkpoint to fine-tune from"),
    errors.TrainingOptionError("freeze", "a fraction must be in [0, 1)", "1.5"),
    errors.ClassMismatch("a.safetensors", ["cat", "dog"], ["normal", "sick"]),
    errors.EmptySplit("data", "val"),
    errors.AmbiguousGroundTruth(["masks", "boxes"]),
    errors.AnnotationError("odd.csv", "cannot tell which columns hold the image", columns=("a",), missing=("image",)),
    errors.NoApplicableMethod({"cam": "method 'cam' needs global average pooling"}),
    errors.PositiveClassRequired(["normal", "sick"]),
    errors.UnmatchedLabels(["PNEUMONIA"], ["Bacterial Pneumonia", "Normal", "Viral Pneumonia"]),
    errors.UnknownClasses(["Healthy"], ["Bacterial Pneumonia", "Normal", "Viral Pneumonia"]),
    errors.OverlappingGroups(["A", "B"], ["Viral Pneumonia"]),
    errors.NotOneToOne(["PNEUMONIA"], {}, ["Normal"]),
    errors.MissingInput("roi-mask", "roi_masks", "a folder of ROI masks"),
    errors.MissingInput("cam-overlay", "model", "a model to compute the maps"),
    errors.MethodNotApplicable(
        "cam", "vgg16", "global average pooling and one linear layer", "has another head", "gradcam"
    ),
    errors.MethodNotApplicable("finercam", "tinyvgg", "at least two classes", "has one class"),
    errors.RecipeError("resizing the shorter side to 256 keeps each image's aspect ratio; add a centre crop"),
    errors.ExportExists("out", ["predictions.csv", "maps/"]),
    errors.ExportMismatch("out", {"methods": (["gradcam"], ["layercam"])}),
    errors.ExportInterrupted("out", 12, errors.WriteFailed("out/maps/a.npy", "No space left on device", errno.ENOSPC)),
    errors.RunInterrupted("runs/a", 3, errors.WriteFailed("runs/a/last.pt", "File too large", errno.EFBIG)),
    errors.RunInterrupted("runs/a", 0, errors.WriteFailed("runs/a/last.pt", "Permission denied", errno.EACCES)),
    errors.OutsidePartitionFolder("data/partition.csv", ["/etc/shadow", "../other/x.png"]),
    errors.NonFiniteOutput("m.safetensors", "probabilities"),
]


@pytest.mark.parametrize("error", FACTUAL_ERRORS, ids=lambda error: type(error).__name__)
def test_each_front_end_words_its_own_remedy(error):
    assert not FLAG.search(str(error)) and not GUI_WORDS.search(str(error))  # the facts only
    command_line, window = cli.remedy(error), gui.remedy(error)
    assert command_line and window
    assert "--" in command_line or "`camviewer" in command_line or "copy" in command_line
    assert not FLAG.search(window)


def test_remedies_use_the_facts():
    assert cli.remedy(errors.StoppedEarly("runs/a", 7, 5)) == "give a --patience above 7 to continue it"
    assert cli.remedy(errors.RunFolderInUse("runs/a", ["last.pt"])) == (
        "choose a new --out folder, or continue that run with --resume runs/a"
    )
    assert cli.remedy(errors.PositiveClassRequired(["benign", "malignant"])) == (
        "pass --positive-class with one of benign, malignant"
    )
    assert gui.remedy(FACTUAL_ERRORS[6]) == (
        "Copy resnet18-f37072fd.pth into /cache/hub/checkpoints, or untick ImageNet weights."
    )
    assert cli.remedy(errors.CamviewerError("anything")) is None and gui.remedy(ValueError("x")) is None


def test_the_command_line_prints_the_facts_then_the_remedy(capsys):
    assert cli.fail(errors.AlreadyTrained("runs/a", 3, 3), cli.EXIT_USAGE) == cli.EXIT_USAGE
    assert capsys.readouterr().err == (
        "camviewer: runs/a already ran 3 epochs (of 3 asked for)\n  (give --epochs above 3 to continue it)\n"
    )
    assert gui.with_remedy("runs/a already ran 3 epochs (of 3 asked for)", errors.AlreadyTrained("runs/a", 3, 3)) == (
        "runs/a already ran 3 epochs (of 3 asked for). Resume it up to more than 3 epochs."
    )


def test_write_errors_say_what_to_do_in_each_front_end():
    full = errors.WriteFailed("out/x.npy", "No space left on device", errno.ENOSPC)
    locked = errors.WriteFailed("out", "Permission denied", errno.EACCES)
    assert full.no_space and not full.not_allowed and locked.not_allowed and not locked.no_space
    for error in (full, locked, errors.NonFiniteWeights("m.pt", ["fc.weight"])):
        assert cli.remedy(error) and gui.remedy(error) and not FLAG.search(gui.remedy(error))
    assert cli.remedy(errors.RunInterrupted("runs/a", 3, full)) == (
        "free some space, then continue with --resume runs/a (the 3 finished epoch(s) are kept)"
    )
    assert "start it again" in cli.remedy(errors.RunInterrupted("runs/a", 0, full))
    assert cli.remedy(errors.WriteFailed("out", "it is a file, not a folder")) is None  # the fact says it all
